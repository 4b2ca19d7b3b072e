/*
 * safetensors: a hardened reader and an atomic writer for the safetensors format.
 *
 * File layout (all integers little-endian):
 *   u64 N                      header length in bytes
 *   N bytes of JSON            {"__metadata__": {"k": "v", ...},
 *                               "name": {"dtype": "F32", "shape": [2, 2], "data_offsets": [b, e]},
 *                               ...}
 *   data buffer                tensor bytes; [b, e) is relative to its start (file byte 8 + N)
 *
 * The reader trusts nothing in the file.  Every size and offset is checked against the real file
 * size and the limits below before anything is allocated or read, and every error names the file,
 * the tensor (when there is one), what was expected and what was found.  Two things the reference
 * implementation rejects are accepted here because they cannot cause an out-of-bounds read: gaps
 * between tensors and bytes after the last tensor.  Overlapping tensors are rejected.
 *
 * The host must be little-endian (safetensors.c checks that at compile time).
 */
#ifndef MODEL_SAFETENSORS_H
#define MODEL_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define ST_MAX_DIMS    8
#define ST_MAX_HEADER  ((uint64_t)100 << 20) /* bytes of JSON header */
#define ST_MAX_TENSORS 100000
#define ST_MAX_NAME    1024 /* bytes of a tensor name, without the NUL */

/* The dtypes of the format.  Only F32, F16 and BF16 convert to float; the others are still
 * validated (their byte size is known) so that a filter can skip them. */
enum st_dtype {
    ST_BOOL,
    ST_U8,
    ST_I8,
    ST_F8_E5M2,
    ST_F8_E4M3,
    ST_I16,
    ST_U16,
    ST_F16,
    ST_BF16,
    ST_I32,
    ST_U32,
    ST_F32,
    ST_F64,
    ST_I64,
    ST_U64,
    ST_NDTYPES
};

struct st_tensor {
    char *name;                 /* owned, NUL-terminated */
    enum st_dtype dtype;        /* dtype stored in the file (data is always float) */
    int ndim;                   /* 0 (scalar) .. ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS]; /* (shape[0], ..., shape[ndim-1]); unused entries 0 */
    size_t numel;               /* product of shape (1 for a scalar) */
    float *data;                /* owned: (numel) row-major, converted to f32; NULL if numel == 0 */
};

struct st_meta {
    char *key;   /* owned */
    char *value; /* owned */
};

struct st_file {
    struct st_tensor *tensors; /* owned: (n) loaded tensors, sorted by name (strcmp) */
    size_t n;
    size_t n_skipped;     /* tensors validated but not loaded (filter said no) */
    struct st_meta *meta; /* owned: (n_meta) "__metadata__" pairs sorted by key */
    size_t n_meta;
};

/* Filter for st_read: return true to load the tensor `name`.  ctx is passed through. */
typedef bool (*st_want_fn)(const char *name, void *ctx);

/* Read and validate the whole file at path into *out (overwritten; zeroed on failure).
 * path must be a regular file (a FIFO or device is refused unopened: base/readfile.h).
 * Every tensor's entry is validated (name valid UTF-8, dtype known, shape, offsets, byte count,
 * no duplicate name), and the data buffer must be tiled exactly as the reference reader
 * requires: no overlap, no byte between or after the tensors that no tensor owns.  Then the
 * tensors for which want(name, ctx) is true (all if want is NULL) are
 * loaded and converted to float.  A wanted tensor whose dtype is not F32/F16/BF16 is
 * ERR_UNSUPPORTED; an unwanted one is only validated, never read.
 * Errors: ERR_IO (open/read), ERR_FORMAT (malformed), ERR_LIMIT (a limit above), ERR_UNSUPPORTED,
 * ERR_NOMEM.  Free a successful result with st_free. */
int st_read(struct st_file *out, const char *path, st_want_fn want, void *ctx, struct err *e);

/* The loaded tensor called name, or NULL.  O(log n). */
const struct st_tensor *st_find(const struct st_file *f, const char *name);

/* The value of metadata key, or NULL.  O(log n_meta). */
const char *st_meta_get(const struct st_file *f, const char *key);

/* Free everything *f owns and zero it.  Safe on a zeroed struct and on NULL. */
void st_free(struct st_file *f);

/* One tensor for st_write: all pointers borrowed for the duration of the call. */
struct st_write_tensor {
    const char *name;
    int ndim;                   /* 0 .. ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS]; /* first ndim entries used, each >= 0 */
    const float *data;          /* (numel) row-major; may be NULL only if numel == 0 */
};

/* Write n F32 tensors to path, laid out in the given order, with optional metadata
 * meta_kv = {key0, value0, key1, value1, ...} (2 * n_meta strings, may be NULL if n_meta == 0).
 * The header is compact JSON ("__metadata__" first) padded with spaces to a multiple of 8 bytes,
 * as the reference implementation does.  The file is written to "<path>.tmp", fsynced and renamed
 * over path, so path never holds a half-written file; on failure the temporary is removed.
 * Errors: ERR_CONFIG (invalid names, shapes, duplicates), ERR_LIMIT, ERR_NOMEM, ERR_IO. */
int st_write(const char *path, const struct st_write_tensor *t, size_t n,
             const char *const *meta_kv, size_t n_meta, struct err *e);

/* Name of a dtype as in the header ("F32"), or "?" if out of range. */
const char *st_dtype_name(int dtype);

/* Bytes per element of a dtype, 0 if out of range. */
size_t st_dtype_size(int dtype);

/* Exact IEEE binary16 -> binary32 (subnormals, +-0, +-inf, NaN payloads preserved). */
float st_f16_to_f32(uint16_t h);

/* Exact bfloat16 -> binary32 (bfloat16 is the top half of a binary32). */
float st_bf16_to_f32(uint16_t h);

#endif
