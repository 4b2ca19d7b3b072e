/*
 * safetensors reader and writer; the contract is in safetensors.h.
 *
 * Reading order: length prefix -> header bytes -> JSON -> per-entry checks -> whole-file checks
 * (tiling of the data buffer, duplicates) -> dtype support of wanted tensors -> data.  Nothing is
 * allocated from a size in the file before that size has been checked against the real file size,
 * and no tensor data is read before the whole header has been validated.
 */
#include "model/io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/checked.h"
#include "base/fileio.h"
#include "base/readfile.h"
#include "base/utf8.h"

/* Tensor bytes are read into and written from float arrays without byte swapping. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host: add byte swaps before porting"
#endif

/* Integers in the JSON header are doubles in cJSON; above 2^53 they are no longer exact. */
#define ST_JSON_INT_MAX  9007199254740992.0
#define ST_JSON_UINT_MAX ((uint64_t)1 << 53)

/* Elements converted per chunk for F16/BF16 (64 KiB of staging). */
#define ST_CHUNK 32768

static const struct {
    const char *name;
    size_t size;
} st_dtypes[ST_NDTYPES] = {
    [ST_BOOL] = {"BOOL", 1},       [ST_U8] = {"U8", 1},           [ST_I8] = {"I8", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_I16] = {"I16", 2},
    [ST_U16] = {"U16", 2},         [ST_F16] = {"F16", 2},         [ST_BF16] = {"BF16", 2},
    [ST_I32] = {"I32", 4},         [ST_U32] = {"U32", 4},         [ST_F32] = {"F32", 4},
    [ST_F64] = {"F64", 8},         [ST_I64] = {"I64", 8},         [ST_U64] = {"U64", 8},
};

const char *st_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < ST_NDTYPES ? st_dtypes[dtype].name : "?";
}

size_t st_dtype_size(int dtype)
{
    return dtype >= 0 && dtype < ST_NDTYPES ? st_dtypes[dtype].size : 0;
}

static bool st_dtype_is_float(int dtype)
{
    return dtype == ST_F32 || dtype == ST_F16 || dtype == ST_BF16;
}

static float st_bits_to_f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf, or NaN keeping its payload */
    } else if (exp != 0) {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign; /* +-0 */
    } else {
        /* Subnormal mant * 2^-24: shift the leading 1 up to the implicit bit (0x400); every
         * half subnormal is a normal binary32, so this is exact. */
        uint32_t e = 127 - 15 + 1;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
    return st_bits_to_f32(bits);
}

float st_bf16_to_f32(uint16_t h)
{
    return st_bits_to_f32((uint32_t)h << 16);
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 */

/* One header entry during validation. */
struct st_entry {
    const char *name; /* borrowed: key in the cJSON tree */
    int dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    uint64_t begin, end; /* relative to the data buffer */
    bool want;
};

static int st_pread_all(int fd, void *buf, size_t n, uint64_t off, const char *path, struct err *e)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return ERR_SET(e, ERR_IO, "%s: read of %zu bytes at offset %" PRIu64 " failed: %s",
                           path, n, off, strerror(errno));
        if (k == 0)
            return ERR_SET(e, ERR_IO,
                           "%s: unexpected end of file at offset %" PRIu64
                           " (did the file change while it was read?)",
                           path, off);
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* A short description of a JSON value for "found ..." in messages. */
static const char *st_json_kind(const cJSON *j)
{
    if (cJSON_IsObject(j))
        return "an object";
    if (cJSON_IsArray(j))
        return "an array";
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsBool(j))
        return "a boolean";
    if (cJSON_IsNull(j))
        return "null";
    return "nothing";
}

/* True if j is an integer in [0, 2^53] (exact as a double); stores it in *out. */
static bool st_json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!(d >= 0.0 && d <= ST_JSON_INT_MAX))
        return false;
    uint64_t u = (uint64_t)d;
    if ((double)u != d)
        return false;
    *out = u;
    return true;
}

/* Describe a JSON value that failed st_json_uint: "-1", "1.5", "a string". */
static void st_json_found(char *buf, size_t n, const cJSON *j)
{
    if (cJSON_IsNumber(j))
        snprintf(buf, n, "%.17g", j->valuedouble);
    else
        snprintf(buf, n, "%s", st_json_kind(j));
}

static void st_shape_str(char *buf, size_t n, const int64_t *shape, int ndim)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

static int st_parse_dtype(struct st_entry *en, const cJSON *obj, const char *path, struct err *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "dtype");
    if (!j)
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': missing \"dtype\"", path, en->name);
    if (!cJSON_IsString(j))
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': \"dtype\" must be a string, found %s", path,
                       en->name, st_json_kind(j));
    for (int d = 0; d < ST_NDTYPES; d++) {
        if (strcmp(j->valuestring, st_dtypes[d].name) == 0) {
            en->dtype = d;
            return 0;
        }
    }
    return ERR_SET(e, ERR_FORMAT,
                   "%s: tensor '%s': unknown dtype '%.32s' (expected one of BOOL, U8, I8, "
                   "F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)",
                   path, en->name, j->valuestring);
}

static int st_parse_shape(struct st_entry *en, const cJSON *obj, const char *path, struct err *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "shape");
    if (!j)
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': missing \"shape\"", path, en->name);
    if (!cJSON_IsArray(j))
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': \"shape\" must be an array, found %s", path,
                       en->name, st_json_kind(j));
    int ndim = cJSON_GetArraySize(j);
    if (ndim > ST_MAX_DIMS)
        return ERR_SET(e, ERR_LIMIT,
                       "%s: tensor '%s': shape has %d dimensions, more than ST_MAX_DIMS (%d)", path,
                       en->name, ndim, ST_MAX_DIMS);
    en->ndim = ndim;
    size_t numel = 1;
    bool overflow = false;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, j)
    {
        uint64_t v;
        if (!st_json_uint(d, &v)) {
            char found[48];
            st_json_found(found, sizeof found, d);
            return ERR_SET(e, ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] must be a non-negative integer, found %s",
                           path, en->name, i, found);
        }
        en->shape[i++] = (int64_t)v;
        /* Keep checking the remaining entries' types even after an overflow. */
        if (!overflow && !mem_mul_ok(numel, (size_t)v, &numel))
            overflow = true;
    }
    if (overflow) {
        char shape[160];
        st_shape_str(shape, sizeof shape, en->shape, en->ndim);
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': shape %s: element count overflows size_t",
                       path, en->name, shape);
    }
    en->numel = numel;
    return 0;
}

static int st_parse_offsets(struct st_entry *en, const cJSON *obj, uint64_t data_size,
                            const char *path, struct err *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, "data_offsets");
    if (!j)
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': missing \"data_offsets\"", path, en->name);
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2)
        return ERR_SET(
            e, ERR_FORMAT,
            "%s: tensor '%s': \"data_offsets\" must be an array [begin, end], found %s%s", path,
            en->name, st_json_kind(j), cJSON_IsArray(j) ? " of the wrong length" : "");
    uint64_t v[2];
    for (int i = 0; i < 2; i++) {
        const cJSON *x = cJSON_GetArrayItem(j, i);
        if (!st_json_uint(x, &v[i])) {
            char found[48];
            st_json_found(found, sizeof found, x);
            return ERR_SET(
                e, ERR_FORMAT,
                "%s: tensor '%s': data_offsets[%d] must be a non-negative integer, found %s", path,
                en->name, i, found);
        }
    }
    en->begin = v[0];
    en->end = v[1];
    if (en->begin > en->end)
        return ERR_SET(e, ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 ") have begin > end",
                       path, en->name, en->begin, en->end);
    if (en->end > data_size)
        return ERR_SET(e, ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                       ") end beyond the %" PRIu64 "-byte data buffer (file truncated?)",
                       path, en->name, en->begin, en->end, data_size);

    char shape[160];
    st_shape_str(shape, sizeof shape, en->shape, en->ndim);
    size_t need;
    if (!mem_mul_ok(en->numel, st_dtypes[en->dtype].size, &need))
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': %s %s: byte count overflows size_t", path,
                       en->name, st_dtypes[en->dtype].name, shape);
    if (en->end - en->begin != (uint64_t)need)
        return ERR_SET(e, ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 ") hold %" PRIu64
                       " bytes but %s %s needs %zu",
                       path, en->name, en->begin, en->end, en->end - en->begin,
                       st_dtypes[en->dtype].name, shape, need);
    return 0;
}

static int st_parse_entry(struct st_entry *en, const cJSON *obj, uint64_t data_size,
                          const char *path, struct err *e)
{
    en->name = obj->string;
    size_t len = strlen(en->name);
    if (len > ST_MAX_NAME)
        return ERR_SET(e, ERR_LIMIT,
                       "%s: tensor name of %zu bytes ('%.40s...') is longer than ST_MAX_NAME (%d)",
                       path, len, en->name, ST_MAX_NAME);
    size_t bad;
    const char *why;
    if (utf8_check(en->name, len, &bad, &why))
        return ERR_SET(
            e, ERR_FORMAT,
            "%s: tensor name '%.*s' + byte 0x%02x...: not valid UTF-8 at byte %zu of the "
            "name (%s); names must be UTF-8 text",
            path, (int)(bad < 40 ? bad : 40), en->name, (unsigned char)en->name[bad], bad, why);
    if (!cJSON_IsObject(obj))
        return ERR_SET(e, ERR_FORMAT,
                       "%s: tensor '%s': entry must be an object with dtype, shape and "
                       "data_offsets, found %s",
                       path, en->name, st_json_kind(obj));
    int rc = st_parse_dtype(en, obj, path, e);
    if (!rc)
        rc = st_parse_shape(en, obj, path, e);
    if (!rc)
        rc = st_parse_offsets(en, obj, data_size, path, e);
    return rc;
}

static int st_cmp_meta(const void *a, const void *b)
{
    const struct st_meta *x = a;
    const struct st_meta *y = b;
    return strcmp(x->key, y->key);
}

/* Copy "__metadata__" into out->meta sorted by key (duplicates found in O(n log n)). */
static int st_parse_meta(struct st_file *out, const cJSON *obj, const char *path, struct err *e)
{
    if (out->meta)
        return ERR_SET(e, ERR_FORMAT, "%s: duplicate \"__metadata__\" entry in the header", path);
    if (!cJSON_IsObject(obj))
        return ERR_SET(e, ERR_FORMAT, "%s: \"__metadata__\" must be an object, found %s", path,
                       st_json_kind(obj));
    size_t n = (size_t)cJSON_GetArraySize(obj);
    out->meta = calloc(n ? n : 1, sizeof *out->meta);
    if (!out->meta)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory for %zu metadata entries", path, n);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj)
    {
        if (!cJSON_IsString(kv))
            return ERR_SET(e, ERR_FORMAT,
                           "%s: __metadata__ '%.64s': value must be a string, found %s", path,
                           kv->string, st_json_kind(kv));
        if (utf8_check(kv->string, strlen(kv->string), NULL, NULL) ||
            utf8_check(kv->valuestring, strlen(kv->valuestring), NULL, NULL))
            return ERR_SET(e, ERR_FORMAT,
                           "%s: __metadata__ '%.64s': key or value is not valid UTF-8 text", path,
                           kv->string);
        struct st_meta *m = &out->meta[out->n_meta];
        m->key = strdup(kv->string);
        m->value = strdup(kv->valuestring);
        out->n_meta++; /* count it now so that st_free releases a half-built pair */
        if (!m->key || !m->value)
            return ERR_SET(e, ERR_NOMEM, "%s: out of memory for metadata", path);
    }
    qsort(out->meta, out->n_meta, sizeof *out->meta, st_cmp_meta);
    for (size_t i = 1; i < out->n_meta; i++)
        if (strcmp(out->meta[i - 1].key, out->meta[i].key) == 0)
            return ERR_SET(e, ERR_FORMAT, "%s: __metadata__: duplicate key '%.64s'", path,
                           out->meta[i].key);
    return 0;
}

static int st_cmp_entry_name(const void *a, const void *b)
{
    const struct st_entry *const *x = a;
    const struct st_entry *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int st_cmp_entry_offset(const void *a, const void *b)
{
    const struct st_entry *const *x = a;
    const struct st_entry *const *y = b;
    if ((*x)->begin != (*y)->begin)
        return (*x)->begin < (*y)->begin ? -1 : 1;
    if ((*x)->end != (*y)->end)
        return (*x)->end < (*y)->end ? -1 : 1;
    return 0;
}

/* The data buffer must be tiled exactly, as the reference reader requires: sorted by offsets,
 * each tensor begins where the previous one ended, and the last ends at the end of the file.
 * A range that begins earlier overlaps; one that begins later leaves bytes no tensor owns
 * (hidden data, or a writer's bug).  Empty ranges ([b, b), zero-element tensors) follow the
 * same rule: they sit at the current end.  An overlap anywhere is reported before a gap. */
static int st_check_tiling(struct st_entry **order, size_t n, uint64_t data_size, const char *path,
                           struct err *e)
{
    qsort(order, n, sizeof *order, st_cmp_entry_offset);
    const struct st_entry *last = NULL;                          /* the entry that ends at `end` */
    const struct st_entry *gap_after = NULL, *gap_before = NULL; /* the first gap's neighbours */
    uint64_t end = 0;
    for (size_t i = 0; i < n; i++) {
        const struct st_entry *en = order[i];
        if (en->begin < end)
            return ERR_SET(e, ERR_FORMAT,
                           "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' [%" PRIu64
                           ", %" PRIu64 ") overlap in the data buffer",
                           path, last->name, last->begin, last->end, en->name, en->begin, en->end);
        if (en->begin > end && !gap_before) {
            gap_after = last;
            gap_before = en;
        }
        last = en;
        end = en->end;
    }
    if (gap_before && gap_after)
        return ERR_SET(e, ERR_FORMAT,
                       "%s: bytes [%" PRIu64 ", %" PRIu64 ") of the data buffer, between tensors "
                       "'%s' and '%s', belong to no tensor (expected '%s' to begin at %" PRIu64
                       ", where '%s' ends)",
                       path, gap_after->end, gap_before->begin, gap_after->name, gap_before->name,
                       gap_before->name, gap_after->end, gap_after->name);
    if (gap_before)
        return ERR_SET(e, ERR_FORMAT,
                       "%s: bytes [0, %" PRIu64 ") of the data buffer, before tensor '%s', "
                       "belong to no tensor (expected the first tensor to begin at 0)",
                       path, gap_before->begin, gap_before->name);
    if (end != data_size)
        return ERR_SET(e, ERR_FORMAT,
                       "%s: bytes [%" PRIu64 ", %" PRIu64 ") at the end of the data buffer belong "
                       "to no tensor (expected the file to end where the last tensor ends, "
                       "%" PRIu64 " bytes of data, found %" PRIu64 ")",
                       path, end, data_size, end, data_size);
    return 0;
}

static int st_load_tensor(struct st_tensor *t, const struct st_entry *en, int fd,
                          uint64_t data_start, uint16_t *stage, const char *path, struct err *e)
{
    t->name = strdup(en->name);
    if (!t->name)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
    t->dtype = en->dtype;
    t->ndim = en->ndim;
    memcpy(t->shape, en->shape, sizeof t->shape);
    t->numel = en->numel;
    if (en->numel == 0)
        return 0;
    size_t bytes;
    if (!mem_mul_ok(en->numel, sizeof(float), &bytes))
        return ERR_SET(e, ERR_LIMIT, "%s: tensor '%s': %zu floats overflow size_t", path, en->name,
                       en->numel);
    t->data = malloc(bytes);
    if (!t->data)
        return ERR_SET(e, ERR_NOMEM, "%s: tensor '%s': out of memory for %zu bytes", path, en->name,
                       bytes);
    uint64_t off = data_start + en->begin;
    if (en->dtype == ST_F32)
        return st_pread_all(fd, t->data, bytes, off, path, e);

    float (*conv)(uint16_t) = en->dtype == ST_F16 ? st_f16_to_f32 : st_bf16_to_f32;
    for (size_t i = 0; i < en->numel; i += ST_CHUNK) {
        size_t k = en->numel - i < ST_CHUNK ? en->numel - i : ST_CHUNK;
        int rc = st_pread_all(fd, stage, k * 2, off + (uint64_t)i * 2, path, e);
        if (rc)
            return rc;
        for (size_t j = 0; j < k; j++)
            t->data[i + j] = conv(stage[j]);
    }
    return 0;
}

int st_read(struct st_file *out, const char *path, st_want_fn want, void *ctx, struct err *e)
{
    memset(out, 0, sizeof *out);
    char *hdr = NULL;
    cJSON *root = NULL;
    struct st_entry *ents = NULL;
    struct st_entry **order = NULL;
    uint16_t *stage = NULL;
    int rc = 0;

    int fd;
    if (readfile_open(path, &fd, e)) /* a FIFO or device is refused before it can block */
        return e->code;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        rc = ERR_SET(e, ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out_release;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    if (fsize < 8) {
        if (fsize == 0)
            rc =
                ERR_SET(e, ERR_FORMAT, "%s: file is empty; expected an 8-byte header length", path);
        else
            rc = ERR_SET(e, ERR_FORMAT,
                         "%s: file is %" PRIu64 " bytes, too short for the 8-byte header length",
                         path, fsize);
        goto out_release;
    }

    unsigned char prefix[8];
    rc = st_pread_all(fd, prefix, 8, 0, path, e);
    if (rc)
        goto out_release;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | prefix[i];
    if (hlen > ST_MAX_HEADER) {
        rc = ERR_SET(e, ERR_LIMIT,
                     "%s: header length %" PRIu64 " exceeds the limit of %" PRIu64
                     " bytes (ST_MAX_HEADER)",
                     path, hlen, ST_MAX_HEADER);
        goto out_release;
    }
    if (hlen > fsize - 8) {
        rc = ERR_SET(e, ERR_FORMAT,
                     "%s: header length %" PRIu64 " exceeds the %" PRIu64
                     " bytes after the length prefix (file truncated or not safetensors?)",
                     path, hlen, fsize - 8);
        goto out_release;
    }
    uint64_t data_start = 8 + hlen;
    uint64_t data_size = fsize - data_start;

    hdr = malloc((size_t)hlen + 1);
    if (!hdr) {
        rc = ERR_SET(e, ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header", path, hlen);
        goto out_release;
    }
    rc = st_pread_all(fd, hdr, (size_t)hlen, 8, path, e);
    if (rc)
        goto out_release;
    hdr[hlen] = '\0';
    /* cJSON stops at a NUL; one inside the header would hide whatever follows it. */
    const char *nul = memchr(hdr, '\0', (size_t)hlen);
    if (nul) {
        rc =
            ERR_SET(e, ERR_FORMAT, "%s: header contains a NUL byte at offset %td", path, nul - hdr);
        goto out_release;
    }
    const char *end = NULL;
    root = cJSON_ParseWithOpts(hdr, &end, 1); /* trailing padding spaces are allowed */
    if (!root) {
        ptrdiff_t at = end ? end - hdr : 0;
        rc = ERR_SET(e, ERR_FORMAT,
                     "%s: header is not valid JSON (error at byte %td near \"%.20s\")", path, at,
                     end ? end : "");
        goto out_release;
    }
    if (!cJSON_IsObject(root)) {
        rc = ERR_SET(e, ERR_FORMAT, "%s: header must be a JSON object, found %s", path,
                     st_json_kind(root));
        goto out_release;
    }

    size_t n_ent = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (strcmp(item->string, "__metadata__") != 0)
            n_ent++;
    }
    if (n_ent > ST_MAX_TENSORS) {
        rc = ERR_SET(e, ERR_LIMIT, "%s: header lists %zu tensors, more than ST_MAX_TENSORS (%d)",
                     path, n_ent, ST_MAX_TENSORS);
        goto out_release;
    }
    ents = calloc(n_ent ? n_ent : 1, sizeof *ents);
    order = calloc(n_ent ? n_ent : 1, sizeof *order);
    if (!ents || !order) {
        rc = ERR_SET(e, ERR_NOMEM, "%s: out of memory for %zu tensor entries", path, n_ent);
        goto out_release;
    }

    size_t k = 0;
    cJSON_ArrayForEach(item, root)
    {
        if (strcmp(item->string, "__metadata__") == 0) {
            rc = st_parse_meta(out, item, path, e);
        } else {
            rc = st_parse_entry(&ents[k], item, data_size, path, e);
            order[k] = &ents[k];
            k++;
        }
        if (rc)
            goto out_release;
    }

    rc = st_check_tiling(order, n_ent, data_size, path, e);
    if (rc)
        goto out_release;
    /* From here on order[] is sorted by name: duplicates are neighbours, and the tensors are
     * loaded in that order so that st_find can bsearch. */
    qsort(order, n_ent, sizeof *order, st_cmp_entry_name);
    for (size_t i = 1; i < n_ent; i++) {
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            rc = ERR_SET(e, ERR_FORMAT, "%s: duplicate tensor name '%s' in the header", path,
                         order[i]->name);
            goto out_release;
        }
    }

    /* Decide what to load and refuse unsupported dtypes before reading any data. */
    size_t n_want = 0;
    for (size_t i = 0; i < n_ent; i++) {
        struct st_entry *en = &ents[i];
        en->want = !want || want(en->name, ctx);
        if (!en->want)
            continue;
        if (!st_dtype_is_float(en->dtype)) {
            rc = ERR_SET(e, ERR_UNSUPPORTED,
                         "%s: tensor '%s': dtype %s cannot be loaded as float (only F32, F16, "
                         "BF16); skip it with the st_read filter",
                         path, en->name, st_dtypes[en->dtype].name);
            goto out_release;
        }
        n_want++;
    }
    out->n_skipped = n_ent - n_want;

    out->tensors = calloc(n_want ? n_want : 1, sizeof *out->tensors);
    stage = malloc(ST_CHUNK * sizeof *stage);
    if (!out->tensors || !stage) {
        rc = ERR_SET(e, ERR_NOMEM, "%s: out of memory for %zu tensors", path, n_want);
        goto out_release;
    }
    for (size_t i = 0; i < n_ent; i++) {
        if (!order[i]->want)
            continue;
        rc = st_load_tensor(&out->tensors[out->n], order[i], fd, data_start, stage, path, e);
        out->n++; /* counted even on failure: st_free releases the partial tensor */
        if (rc)
            goto out_release;
    }

out_release:
    free(stage);
    free(order);
    free(ents);
    cJSON_Delete(root);
    free(hdr);
    close(fd);
    if (rc)
        st_free(out);
    return rc;
}

static int st_cmp_find(const void *key, const void *elem)
{
    const char *name = key;
    const struct st_tensor *t = elem;
    return strcmp(name, t->name);
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
    if (!f || !f->tensors || !name)
        return NULL;
    return bsearch(name, f->tensors, f->n, sizeof *f->tensors, st_cmp_find);
}

static int st_cmp_meta_key(const void *key, const void *elem)
{
    const char *k = key;
    const struct st_meta *m = elem;
    return strcmp(k, m->key);
}

const char *st_meta_get(const struct st_file *f, const char *key)
{
    if (!f || !f->meta || !key)
        return NULL;
    const struct st_meta *m = bsearch(key, f->meta, f->n_meta, sizeof *f->meta, st_cmp_meta_key);
    return m ? m->value : NULL;
}

void st_free(struct st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    free(f->tensors);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------------------------------------
 * Writing (through base/fileio.c: temporary, fsync, rename)
 */

static int st_cmp_cstr(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;
    return strcmp(*x, *y);
}

/* Check names, shapes and data of the tensors to write; fills bytes[i] with each F32 size. */
static int st_write_check(const struct st_write_tensor *t, size_t n, const char *const *meta_kv,
                          size_t n_meta, size_t *bytes, const char *path, struct err *e)
{
    if (n > ST_MAX_TENSORS)
        return ERR_SET(e, ERR_LIMIT, "%s: %zu tensors, more than ST_MAX_TENSORS (%d)", path, n,
                       ST_MAX_TENSORS);
    if (n > 0 && !t)
        return ERR_SET(e, ERR_CONFIG, "%s: %zu tensors but no tensor array", path, n);
    if (n_meta > 0 && !meta_kv)
        return ERR_SET(e, ERR_CONFIG, "%s: %zu metadata pairs but no meta_kv array", path, n_meta);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name)
            return ERR_SET(e, ERR_CONFIG, "%s: tensor #%zu has no name", path, i);
        if (strlen(name) > ST_MAX_NAME)
            return ERR_SET(e, ERR_LIMIT, "%s: tensor #%zu: name longer than ST_MAX_NAME (%d)", path,
                           i, ST_MAX_NAME);
        if (strcmp(name, "__metadata__") == 0)
            return ERR_SET(e, ERR_CONFIG, "%s: tensor #%zu: the name '__metadata__' is reserved",
                           path, i);
        if (utf8_check(name, strlen(name), NULL, NULL)) /* st_read would refuse the file */
            return ERR_SET(e, ERR_CONFIG, "%s: tensor #%zu: name is not valid UTF-8", path, i);
        if (t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS)
            return ERR_SET(e, ERR_CONFIG, "%s: tensor '%s': ndim %d not in [0, %d]", path, name,
                           t[i].ndim, ST_MAX_DIMS);
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            int64_t s = t[i].shape[d];
            if (s < 0)
                return ERR_SET(e, ERR_CONFIG,
                               "%s: tensor '%s': shape[%d] is %" PRId64 ", must be >= 0", path,
                               name, d, s);
            if ((uint64_t)s > ST_JSON_UINT_MAX || !mem_mul_ok(numel, (size_t)s, &numel))
                return ERR_SET(e, ERR_LIMIT, "%s: tensor '%s': element count overflows", path,
                               name);
        }
        if (!mem_mul_ok(numel, sizeof(float), &bytes[i]) || bytes[i] > ST_JSON_UINT_MAX - total)
            return ERR_SET(e, ERR_LIMIT, "%s: tensor '%s': data size overflows", path, name);
        total += bytes[i];
        if (numel > 0 && !t[i].data)
            return ERR_SET(e, ERR_CONFIG, "%s: tensor '%s': %zu elements but data is NULL", path,
                           name, numel);
    }
    for (size_t i = 0; i < 2 * n_meta; i++)
        if (!meta_kv[i])
            return ERR_SET(e, ERR_CONFIG, "%s: metadata %s #%zu is NULL", path,
                           i % 2 ? "value" : "key", i / 2);

    /* Duplicates: sort a copy of the names (tensors, then metadata keys separately). */
    size_t m = n > n_meta ? n : n_meta;
    const char **names = malloc((m ? m : 1) * sizeof *names);
    if (!names)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        names[i] = t[i].name;
    qsort(names, n, sizeof *names, st_cmp_cstr);
    for (size_t i = 1; i < n && !rc; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = ERR_SET(e, ERR_CONFIG, "%s: duplicate tensor name '%s'", path, names[i]);
    for (size_t i = 0; i < n_meta && !rc; i++)
        names[i] = meta_kv[2 * i];
    if (!rc)
        qsort(names, n_meta, sizeof *names, st_cmp_cstr);
    for (size_t i = 1; i < n_meta && !rc; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = ERR_SET(e, ERR_CONFIG, "%s: duplicate metadata key '%s'", path, names[i]);
    free(names);
    return rc;
}

static cJSON *st_json_uint_raw(uint64_t v)
{
    /* Raw digits: cJSON would print large doubles in exponent notation ("1e+15"), which the
     * reference implementation's integer parser rejects. */
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* Build the compact JSON header; returns a cJSON_malloc'ed string or NULL (out of memory). */
static char *st_build_header(const struct st_write_tensor *t, size_t n, const size_t *bytes,
                             const char *const *meta_kv, size_t n_meta)
{
    char *txt = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        if (!meta)
            goto out_delete;
        for (size_t i = 0; i < n_meta; i++)
            if (!cJSON_AddStringToObject(meta, meta_kv[2 * i], meta_kv[2 * i + 1]))
                goto out_delete;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *obj = cJSON_AddObjectToObject(root, t[i].name);
        if (!obj || !cJSON_AddStringToObject(obj, "dtype", "F32"))
            goto out_delete;
        cJSON *shape = cJSON_AddArrayToObject(obj, "shape");
        if (!shape)
            goto out_delete;
        for (int d = 0; d < t[i].ndim; d++) {
            cJSON *v = st_json_uint_raw((uint64_t)t[i].shape[d]);
            if (!v)
                goto out_delete;
            cJSON_AddItemToArray(shape, v);
        }
        cJSON *offs = cJSON_AddArrayToObject(obj, "data_offsets");
        if (!offs)
            goto out_delete;
        cJSON *b = st_json_uint_raw(off);
        if (!b)
            goto out_delete;
        cJSON_AddItemToArray(offs, b);
        off += bytes[i];
        cJSON *en = st_json_uint_raw(off);
        if (!en)
            goto out_delete;
        cJSON_AddItemToArray(offs, en);
    }
    txt = cJSON_PrintUnformatted(root);
out_delete:
    cJSON_Delete(root);
    return txt;
}

int st_write(const char *path, const struct st_write_tensor *t, size_t n,
             const char *const *meta_kv, size_t n_meta, struct err *e)
{
    int rc = 0;
    char *json = NULL;
    size_t *bytes = calloc(n ? n : 1, sizeof *bytes);
    if (!bytes)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
    rc = st_write_check(t, n, meta_kv, n_meta, bytes, path, e);
    if (rc)
        goto out_free;
    json = st_build_header(t, n, bytes, meta_kv, n_meta);
    if (!json) {
        rc = ERR_SET(e, ERR_NOMEM, "%s: out of memory building the header", path);
        goto out_free;
    }
    size_t jlen = strlen(json);
    size_t pad = (8 - jlen % 8) % 8; /* data starts 8-byte aligned, as the reference pads */
    uint64_t hlen = (uint64_t)jlen + pad;
    if (hlen > ST_MAX_HEADER) {
        rc = ERR_SET(e, ERR_LIMIT, "%s: header of %" PRIu64 " bytes exceeds ST_MAX_HEADER", path,
                     hlen);
        goto out_free;
    }

    struct fileio_atomic fa;
    if ((rc = fileio_atomic_open(&fa, path, e)))
        goto out_free;
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)(hlen >> (8 * i));
    static const char spaces[8] = "        ";
    rc = fileio_atomic_write(&fa, prefix, 8, e);
    if (!rc)
        rc = fileio_atomic_write(&fa, json, jlen, e);
    if (!rc)
        rc = fileio_atomic_write(&fa, spaces, pad, e);
    for (size_t i = 0; i < n && !rc; i++)
        rc = fileio_atomic_write(&fa, t[i].data, bytes[i], e);
    if (rc)
        fileio_atomic_abort(&fa);
    else
        rc = fileio_atomic_commit(&fa, e);
out_free:
    cJSON_free(json);
    free(bytes);
    return rc;
}
