/*
 * tokenizer_opts: what a tokenizer is built with: its options (struct tokenizer_opts) and
 * the size limits on its vocabulary files.  Part of the public interface (tokenizer.h
 * includes it); a header of its own so that the tokenizer kinds below the tokenizer.h
 * front can use these types without including the front's header.
 */
#ifndef MODEL_TOKENIZER_OPTS_H
#define MODEL_TOKENIZER_OPTS_H

#include <stdbool.h>

#define TOK_MAX_VOCAB       1000000 /* vocab.txt / vocab.json / merges.txt larger: ERR_LIMIT */
#define TOK_MAX_TOKEN_BYTES 1024    /* a vocab line longer than this is refused */

struct tokenizer_opts {
    bool lowercase;        /* BERT do_lower_case (uncased models) */
    bool strip_accents;    /* default: same as lowercase (HF behaviour) */
    bool tokenize_chinese; /* put spaces around CJK ideographs (default true) */
    int max_word_chars;    /* words longer than this become [UNK]; default 100 */
    bool add_prefix_space; /* BPE only: " " + text unless it starts with whitespace
                              (RobertaTokenizer add_prefix_space); default false.
                              BPE ignores the four fields above. */
};

#endif
