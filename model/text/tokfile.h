/*
 * tokfile: reading the files of a Hugging Face tokenizer other than vocab.txt (vocab.json,
 * merges.txt, tokenizer_config.json): a whole file within BPE_MAX_FILE_BYTES, and a file
 * that must hold one JSON object, with errors that name the file and, for JSON, the
 * line:column.  Used by the BPE vocabulary loader and by tokenizer_load_dir.
 */
#ifndef MODEL_TOKFILE_H
#define MODEL_TOKFILE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/err.h"

#define BPE_MAX_FILE_BYTES ((size_t)256 << 20) /* vocab.json / merges.txt larger: ERR_LIMIT */

/* Read a whole file (at most BPE_MAX_FILE_BYTES) into a malloc'ed, NUL-terminated buffer.
 * what names the file's role in messages ("merges", "vocabulary"). */
int tokfile_read(const char *path, const char *what, char **data, size_t *size, struct err *e);

/* Parse a JSON file that must hold an object; errors give "path:line:col".  *out is the
 * caller's (cJSON_Delete), NULL on failure. */
int tokfile_read_json(const char *path, const char *what, cJSON **out, struct err *e);

#endif
