/*
 * hf_truncation: Hugging Face tokenizers' LongestFirst pair truncation, transcribed line by
 * line from tokenizers/src/utils/truncation.rs (truncate_encodings), as the independent
 * reference that test_tokenizer.c (WordPiece) and test_bpe.c (BPE) check encoding.c against.
 */
#ifndef TESTS_HF_TRUNCATION_H
#define TESTS_HF_TRUNCATION_H

/* Lengths kept (*ka, *kb) of texts of na and nb tokens when budget tokens are left for them
 * once the special tokens are counted. */
void hf_longest_first(int na, int nb, int budget, int *ka, int *kb);

#endif
