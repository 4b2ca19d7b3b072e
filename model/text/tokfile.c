/*
 * tokfile: bounded reading of vocab.json, merges.txt and tokenizer_config.json (contract in
 * tokfile.h).  Calls only base/ and cJSON.
 */
#include "model/text/tokfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/readfile.h"

int tokfile_read(const char *path, const char *what, char **data, size_t *size, struct err *e)
{
    *data = NULL;
    *size = 0;
    FILE *f;
    int rc = readfile_fopen(path, &f, e); /* a FIFO or device is refused before it can block */
    if (rc)
        return rc;
    rc = readfile_bounded(f, BPE_MAX_FILE_BYTES, data, size);
    fclose(f);
    if (rc == ERR_LIMIT)
        return ERR_SET(e, ERR_LIMIT, "%s: file is larger than %zu bytes (BPE_MAX_FILE_BYTES)", path,
                       BPE_MAX_FILE_BYTES);
    if (rc == ERR_NOMEM)
        return ERR_SET(e, ERR_NOMEM, "out of memory reading '%s'", path);
    if (rc)
        return ERR_SET(e, ERR_IO, "cannot read %s '%s': %s", what, path, strerror(errno));
    return ERR_OK;
}

int tokfile_read_json(const char *path, const char *what, cJSON **out, struct err *e)
{
    *out = NULL;
    char *data;
    size_t size;
    int rc = tokfile_read(path, what, &data, &size, e);
    if (rc)
        return rc;
    const char *nul = memchr(data, '\0', size);
    const char *end = NULL;
    cJSON *root = nul ? NULL : cJSON_ParseWithLengthOpts(data, size + 1, &end, 1);
    if (!root) {
        const char *at = nul ? nul : end ? end : data;
        size_t line = 1, col = 1;
        for (const char *p = data; p < at; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)*p & 0xC0) != 0x80) {
                col++;
            }
        }
        rc = ERR_SET(e, ERR_FORMAT, "%s:%zu:%zu: %s", path, line, col,
                     nul ? "NUL byte; not a JSON text file" : "invalid JSON");
    } else if (!cJSON_IsObject(root)) {
        rc = ERR_SET(e, ERR_FORMAT, "%s: the top level must be a JSON object", path);
        cJSON_Delete(root);
    } else {
        *out = root;
    }
    free(data);
    return rc;
}
