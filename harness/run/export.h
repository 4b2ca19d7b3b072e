/*
 * export: `peftbench export ADAPTER_DIR --format peft --out DIR [--model MODEL]`
 *
 * Converts an adapter saved by `run` (methods/persist.h) into another library's layout.
 * One format exists: peft, Hugging Face PEFT's save_pretrained layout for a single lora or
 * ia3 method (methods/peft_format.h): DIR/adapter_config.json and
 * DIR/adapter_model.safetensors, which PeftModel.from_pretrained loads onto the
 * *ForSequenceClassification backbone, plus DIR/peftbench.json with the settings the adapter
 * recorded (task, labels, max_seq_len, tokenizer), which `predict --adapter DIR` reads.
 * MODEL (a directory or builtin:NAME) defaults to the adapter's base model: the methods are
 * recreated on it to name and shape every tensor.
 *
 * Exit status: 0 written; 2 a usage error or unusable input (unknown format, a method the
 * format does not have, a missing or malformed adapter, no model); 1 writing DIR failed.
 */
#ifndef HARNESS_EXPORT_H
#define HARNESS_EXPORT_H

#include <stdio.h>

int export_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
