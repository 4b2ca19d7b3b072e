/* Tests for model/safetensors: round trip, F16/BF16 conversion, malformed files, filtering. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/io/safetensors.h"
#include "tests/suites.h"

/* ---- fixture: a directory under /tmp per TCase, removed with its files ------------------------
 * Unchecked (runs in the parent process) so that the directory is removed even when a test fails
 * in its forked child; tests therefore use distinct file names where absence matters. */

static char st_dir[64];

static void st_setup(void)
{
    snprintf(st_dir, sizeof st_dir, "/tmp/peftbench_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(st_dir));
}

static void st_teardown(void)
{
    DIR *d = opendir(st_dir);
    if (d) {
        struct dirent *de;
        char p[512];
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", st_dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(st_dir);
}

static void st_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", st_dir, name);
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n)
        ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Write prefix(hlen) + header text + data (data_len bytes; zeros if data is NULL). */
static void write_st(const char *path, uint64_t hlen, const char *header, const void *data,
                     size_t data_len)
{
    size_t hl = strlen(header);
    size_t total = 8 + hl + data_len;
    unsigned char *buf = calloc(total, 1);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (data)
        memcpy(buf + 8 + hl, data, data_len);
    write_bytes(path, buf, total);
    free(buf);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- round trip ------------------------------------------------------------------------------ */

START_TEST(write_read_round_trip)
{
    char path[256], tmp[300];
    st_path(path, sizeof path, "m.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* Bit patterns a float round trip must keep: -0, NaN payload, infinities, denormals. */
    const uint32_t special[6] = {0x80000000u, 0x7fc00123u, 0x7f800000u,
                                 0xff800000u, 0x00000001u, 0x7f7fffffu};
    float w[6];
    for (int i = 0; i < 6; i++)
        w[i] = bits_f32(special[i]);
    float bias[3] = {0.5f, -1.25f, 3.0e-20f};
    float scalar = 42.0f;
    float big[4 * 5 * 6];
    for (int i = 0; i < 120; i++)
        big[i] = (float)i * 0.37f - 11.0f;

    const struct st_write_tensor t[] = {
        {"encoder.w", 2, {2, 3}, w}, {"bias", 1, {3}, bias},       {"scalar", 0, {0}, &scalar},
        {"empty", 2, {0, 4}, NULL},  {"z.big", 3, {4, 5, 6}, big},
    };
    const char *meta[] = {"format", "pt", "note", "quote\" and \\ backslash"};
    struct err e = {0};
    ck_assert_int_eq(st_write(path, t, 5, meta, 2, &e), 0);
    ck_assert_int_ne(access(tmp, F_OK), 0); /* no temporary left behind */

    /* Layout: header length a multiple of 8, padded with spaces, tensors in the given order. */
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char prefix[8];
    ck_assert_uint_eq(fread(prefix, 1, 8, f), 8);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | prefix[i];
    ck_assert_uint_eq(hlen % 8, 0);
    char *hdr = calloc(hlen + 1, 1);
    ck_assert_ptr_nonnull(hdr);
    ck_assert_uint_eq(fread(hdr, 1, hlen, f), hlen);
    ck_assert_int_eq(hdr[0], '{');
    ck_assert_ptr_nonnull(strstr(hdr, "{\"__metadata__\":{\"format\":\"pt\""));
    ck_assert_ptr_nonnull(
        strstr(hdr, "\"encoder.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"));
    ck_assert_ptr_nonnull(strstr(hdr, "\"bias\":{\"dtype\":\"F32\",\"shape\":[3],"
                                      "\"data_offsets\":[24,36]}"));
    ck_assert_ptr_nonnull(strstr(hdr, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],"));
    char *close_brace = strrchr(hdr, '}');
    for (char *p = close_brace + 1; *p; p++)
        ck_assert_int_eq(*p, ' ');
    float first[6];
    ck_assert_uint_eq(fread(first, sizeof(float), 6, f), 6);
    ck_assert_int_eq(memcmp(first, w, sizeof w), 0);
    fclose(f);
    free(hdr);

    struct st_file sf;
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), 0);
    ck_assert_uint_eq(sf.n, 5);
    ck_assert_uint_eq(sf.n_skipped, 0);
    for (size_t i = 0; i < 5; i++) {
        const struct st_tensor *r = st_find(&sf, t[i].name);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->name, t[i].name);
        ck_assert_int_eq(r->dtype, ST_F32);
        ck_assert_int_eq(r->ndim, t[i].ndim);
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            ck_assert_int_eq(r->shape[d], t[i].shape[d]);
            numel *= (size_t)t[i].shape[d];
        }
        ck_assert_uint_eq(r->numel, numel);
        if (numel == 0)
            ck_assert_ptr_null(r->data);
        else
            ck_assert_int_eq(memcmp(r->data, t[i].data, numel * sizeof(float)), 0);
    }
    ck_assert_uint_eq(f32_bits(st_find(&sf, "encoder.w")->data[1]), 0x7fc00123u);
    ck_assert_ptr_null(st_find(&sf, "missing"));
    ck_assert_str_eq(st_meta_get(&sf, "format"), "pt");
    ck_assert_str_eq(st_meta_get(&sf, "note"), "quote\" and \\ backslash");
    ck_assert_ptr_null(st_meta_get(&sf, "nope"));
    st_free(&sf);
    ck_assert_ptr_null(sf.tensors);
    st_free(&sf); /* idempotent */
    st_free(NULL);
}
END_TEST

START_TEST(write_replaces_existing_file)
{
    char path[256];
    st_path(path, sizeof path, "m.safetensors");
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    const struct st_write_tensor ta = {"a", 1, {2}, a};
    const struct st_write_tensor tb = {"b", 1, {3}, b};
    struct err e = {0};
    ck_assert_int_eq(st_write(path, &ta, 1, NULL, 0, &e), 0);
    ck_assert_int_eq(st_write(path, &tb, 1, NULL, 0, &e), 0);
    struct st_file sf;
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), 0);
    ck_assert_uint_eq(sf.n, 1);
    ck_assert_ptr_null(st_find(&sf, "a"));
    ck_assert(st_find(&sf, "b")->data[2] == 5.0f);
    st_free(&sf);

    /* An empty file (no tensors, no metadata) is "{}" padded to 8 bytes. */
    ck_assert_int_eq(st_write(path, NULL, 0, NULL, 0, &e), 0);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 16);
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), 0);
    ck_assert_uint_eq(sf.n, 0);
    st_free(&sf);
}
END_TEST

START_TEST(write_rejects_bad_input)
{
    char path[256], tmp[300];
    st_path(path, sizeof path, "w.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    float x[4] = {0};
    struct err e = {0};

    const struct st_write_tensor dup[] = {{"a", 1, {4}, x}, {"b", 1, {4}, x}, {"a", 1, {4}, x}};
    ck_assert_int_eq(st_write(path, dup, 3, NULL, 0, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "duplicate tensor name 'a'"));

    const struct st_write_tensor neg = {"n", 2, {2, -2}, x};
    ck_assert_int_eq(st_write(path, &neg, 1, NULL, 0, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "tensor 'n': shape[1] is -2"));

    const struct st_write_tensor deep = {"d", 9, {1, 1, 1, 1, 1, 1, 1, 1}, x};
    ck_assert_int_eq(st_write(path, &deep, 1, NULL, 0, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "ndim 9"));

    const struct st_write_tensor nodata = {"nd", 1, {4}, NULL};
    ck_assert_int_eq(st_write(path, &nodata, 1, NULL, 0, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "data is NULL"));

    const struct st_write_tensor reserved = {"__metadata__", 1, {4}, x};
    ck_assert_int_eq(st_write(path, &reserved, 1, NULL, 0, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "reserved"));

    const struct st_write_tensor ok = {"ok", 1, {4}, x};
    const char *meta[] = {"k", "1", "k", "2"};
    ck_assert_int_eq(st_write(path, &ok, 1, meta, 2, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "duplicate metadata key 'k'"));

    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir.safetensors", st_dir);
    ck_assert_int_eq(st_write(nodir, &ok, 1, NULL, 0, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot create"));

    /* Nothing was written by any failed call. */
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_ne(access(tmp, F_OK), 0);
}
END_TEST

/* ---- F16 / BF16 ------------------------------------------------------------------------------ */

static const struct {
    uint16_t h;
    uint32_t f;
} f16_cases[] = {
    {0x0000, 0x00000000u}, /* +0 */
    {0x8000, 0x80000000u}, /* -0 */
    {0x3c00, 0x3f800000u}, /* 1 */
    {0xc000, 0xc0000000u}, /* -2 */
    {0x3555, 0x3eaaa000u}, /* 0.333251953125 */
    {0x7bff, 0x477fe000u}, /* 65504, largest finite */
    {0x0400, 0x38800000u}, /* 2^-14, smallest normal */
    {0x0001, 0x33800000u}, /* 2^-24, smallest subnormal */
    {0x8001, 0xb3800000u}, /* -2^-24 */
    {0x0200, 0x38000000u}, /* 2^-15, subnormal */
    {0x03ff, 0x387fc000u}, /* 1023 * 2^-24, largest subnormal */
    {0x7c00, 0x7f800000u}, /* +inf */
    {0xfc00, 0xff800000u}, /* -inf */
    {0x7e00, 0x7fc00000u}, /* quiet NaN */
    {0xfe01, 0xffc02000u}, /* negative NaN with payload */
    {0x7c01, 0x7f802000u}, /* signalling NaN keeps its payload */
};

static const struct {
    uint16_t h;
    uint32_t f;
} bf16_cases[] = {
    {0x0000, 0x00000000u}, {0x8000, 0x80000000u},
    {0x3f80, 0x3f800000u}, {0xc049, 0xc0490000u}, /* -3.140625 */
    {0x0001, 0x00010000u},                        /* subnormal */
    {0x7f7f, 0x7f7f0000u},                        /* largest finite */
    {0x7f80, 0x7f800000u}, {0xff80, 0xff800000u},
    {0x7fc0, 0x7fc00000u}, {0xffc1, 0xffc10000u},
};

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(f16_bf16_bit_patterns)
{
    for (size_t i = 0; i < NCASES(f16_cases); i++)
        ck_assert_msg(f32_bits(st_f16_to_f32(f16_cases[i].h)) == f16_cases[i].f,
                      "f16 0x%04x -> 0x%08x, expected 0x%08x", f16_cases[i].h,
                      f32_bits(st_f16_to_f32(f16_cases[i].h)), f16_cases[i].f);
    for (size_t i = 0; i < NCASES(bf16_cases); i++)
        ck_assert_msg(f32_bits(st_bf16_to_f32(bf16_cases[i].h)) == bf16_cases[i].f,
                      "bf16 0x%04x -> 0x%08x, expected 0x%08x", bf16_cases[i].h,
                      f32_bits(st_bf16_to_f32(bf16_cases[i].h)), bf16_cases[i].f);
}
END_TEST

/* Every half value against the definition (-1)^s * 2^(e-15) * 1.m (or 2^-14 * 0.m), evaluated
 * in double, where all of them are exact. */
START_TEST(f16_exhaustive_against_definition)
{
    for (uint32_t h = 0; h < 0x10000; h++) {
        int s = (int)(h >> 15), ex = (int)(h >> 10) & 0x1f, m = (int)(h & 0x3ff);
        float got = st_f16_to_f32((uint16_t)h);
        if (ex == 0x1f) {
            ck_assert(m ? isnan(got) : isinf(got));
            ck_assert_int_eq(signbit(got) != 0, s);
            continue;
        }
        double v = ex ? ldexp(1024 + m, ex - 25) : ldexp(m, -24);
        float want = (float)(s ? -v : v);
        ck_assert_msg(f32_bits(got) == f32_bits(want), "f16 0x%04x", h);
    }
}
END_TEST

static void put_u16s(unsigned char *dst, const uint16_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = (unsigned char)(v[i] & 0xff);
        dst[2 * i + 1] = (unsigned char)(v[i] >> 8);
    }
}

START_TEST(f16_bf16_tensors_from_file)
{
    char path[256];
    st_path(path, sizeof path, "half.safetensors");
    uint16_t h[NCASES(f16_cases)], b[NCASES(bf16_cases)];
    for (size_t i = 0; i < NCASES(f16_cases); i++)
        h[i] = f16_cases[i].h;
    for (size_t i = 0; i < NCASES(bf16_cases); i++)
        b[i] = bf16_cases[i].h;
    unsigned char data[2 * (NCASES(f16_cases) + NCASES(bf16_cases))];
    put_u16s(data, h, NCASES(f16_cases));
    put_u16s(data + sizeof h, b, NCASES(bf16_cases));
    char header[256];
    snprintf(header, sizeof header,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,8],\"data_offsets\":[0,%zu]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}}",
             sizeof h, NCASES(bf16_cases), sizeof h, sizeof data);
    write_st(path, strlen(header), header, data, sizeof data);

    struct st_file sf;
    struct err e = {0};
    ck_assert_msg(st_read(&sf, path, NULL, NULL, &e) == 0, "%s", e.msg);
    const struct st_tensor *th = st_find(&sf, "h"), *tb = st_find(&sf, "b");
    ck_assert_ptr_nonnull(th);
    ck_assert_ptr_nonnull(tb);
    ck_assert_int_eq(th->dtype, ST_F16);
    ck_assert_int_eq(tb->dtype, ST_BF16);
    ck_assert_uint_eq(th->numel, 16);
    for (size_t i = 0; i < NCASES(f16_cases); i++)
        ck_assert_uint_eq(f32_bits(th->data[i]), f16_cases[i].f);
    for (size_t i = 0; i < NCASES(bf16_cases); i++)
        ck_assert_uint_eq(f32_bits(tb->data[i]), bf16_cases[i].f);
    st_free(&sf);
}
END_TEST

/* A large F16 tensor crosses the conversion chunk boundary (32768 elements). */
START_TEST(f16_large_tensor_chunks)
{
    char path[256];
    st_path(path, sizeof path, "big.safetensors");
    const size_t n = 100000;
    uint16_t *h = malloc(n * sizeof *h);
    unsigned char *data = malloc(2 * n);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++)
        h[i] = (uint16_t)(i * 7919u);
    put_u16s(data, h, n);
    char header[128];
    snprintf(header, sizeof header,
             "{\"x\":{\"dtype\":\"F16\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}}", n, 2 * n);
    write_st(path, strlen(header), header, data, 2 * n);
    struct st_file sf;
    struct err e = {0};
    ck_assert_msg(st_read(&sf, path, NULL, NULL, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(f32_bits(sf.tensors[0].data[i]), f32_bits(st_f16_to_f32(h[i])));
    st_free(&sf);
    free(h);
    free(data);
}
END_TEST

/* ---- malformed files ------------------------------------------------------------------------- */

struct bad_case {
    const char *what;
    const char *raw; /* non-NULL: write these raw_len bytes as the whole file */
    size_t raw_len;
    const char *header; /* else: prefix + header + data_len zero bytes */
    uint64_t hlen;      /* prefix value; 0 means strlen(header) */
    size_t data_len;
    int code;
    const char *expect[2]; /* substrings of the message (NULL = unused) */
};

#define T_A16 "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}"

static const struct bad_case bad_cases[] = {
    {"empty file", "", 0, NULL, 0, 0, ERR_FORMAT, {"file is empty", "8-byte header length"}},
    {"truncated length prefix",
     "\x10\0\0\0\0",
     5,
     NULL,
     0,
     0,
     ERR_FORMAT,
     {"file is 5 bytes", "too short"}},
    {"header length beyond the file",
     NULL,
     0,
     "{}",
     1000,
     0,
     ERR_FORMAT,
     {"header length 1000 exceeds the 2 bytes after the length prefix", NULL}},
    {"header length above ST_MAX_HEADER",
     NULL,
     0,
     "{}",
     (uint64_t)200 << 20,
     0,
     ERR_LIMIT,
     {"header length 209715200", "ST_MAX_HEADER"}},
    {"header length 2^64-1", NULL, 0, "{}", UINT64_MAX, 0, ERR_LIMIT, {"ST_MAX_HEADER", NULL}},
    {"bad JSON", NULL, 0, "{\"a\":{\"dtype\":\"F32\",", 0, 0, ERR_FORMAT, {"not valid JSON", NULL}},
    {"trailing garbage after JSON", NULL, 0, "{} x", 0, 0, ERR_FORMAT, {"not valid JSON", NULL}},
    {"NUL inside the header",
     "\x08\0\0\0\0\0\0\0{}\0     ",
     16,
     NULL,
     0,
     0,
     ERR_FORMAT,
     {"NUL byte at offset 2", NULL}},
    {"JSON not an object",
     NULL,
     0,
     "[1, 2]",
     0,
     0,
     ERR_FORMAT,
     {"header must be a JSON object, found an array", NULL}},
    {"entry not an object",
     NULL,
     0,
     "{\"a\": 5}",
     0,
     0,
     ERR_FORMAT,
     {"tensor 'a': entry must be an object", "found a number"}},
    {"missing dtype",
     NULL,
     0,
     "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
     0,
     4,
     ERR_FORMAT,
     {"tensor 'a': missing \"dtype\"", NULL}},
    {"dtype not a string",
     NULL,
     0,
     "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}",
     0,
     4,
     ERR_FORMAT,
     {"tensor 'a': \"dtype\" must be a string, found a number", NULL}},
    {"unknown dtype",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     0,
     4,
     ERR_FORMAT,
     {"tensor 'a': unknown dtype 'F33'", "expected one of"}},
    {"shape with a negative entry",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}",
     0,
     8,
     ERR_FORMAT,
     {"tensor 'a': shape[1] must be a non-negative integer, found -1", NULL}},
    {"shape not an array",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2x2\",\"data_offsets\":[0,16]}}",
     0,
     16,
     ERR_FORMAT,
     {"\"shape\" must be an array, found a string", NULL}},
    {"too many dimensions",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
     0,
     4,
     ERR_LIMIT,
     {"tensor 'a': shape has 9 dimensions, more than ST_MAX_DIMS (8)", NULL}},
    {"data_offsets out of bounds",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}}",
     0,
     16,
     ERR_FORMAT,
     {"tensor 'a': data_offsets [0, 64) end beyond the 16-byte data buffer", NULL}},
    {"data_offsets begin > end",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}",
     0,
     16,
     ERR_FORMAT,
     {"tensor 'a': data_offsets [8, 4) have begin > end", NULL}},
    {"data_offsets not integers",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1.5]}}",
     0,
     16,
     ERR_FORMAT,
     {"data_offsets[1] must be a non-negative integer, found 1.5", NULL}},
    {"data_offsets wrong length",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}",
     0,
     16,
     ERR_FORMAT,
     {"\"data_offsets\" must be an array [begin, end], found an array of the wrong length", NULL}},
    {"byte count mismatching dtype x shape",
     NULL,
     0,
     "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}",
     0,
     16,
     ERR_FORMAT,
     {"tensor 'a.weight': data_offsets [0, 12) hold 12 bytes but F32 [2, 2] needs 16", NULL}},
    {"overlapping tensors",
     NULL,
     0,
     "{\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}," T_A16 "}",
     0,
     24,
     ERR_FORMAT,
     {"tensors 'a' [0, 16) and 'b' [8, 24) overlap", NULL}},
    {"tensor nested inside another",
     NULL,
     0,
     "{" T_A16 ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
     "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
     0,
     16,
     ERR_FORMAT,
     {"tensors 'a' [0, 16) and 'b' [4, 8) overlap", NULL}},
    {"duplicate name",
     NULL,
     0,
     "{" T_A16 ",\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
     0,
     32,
     ERR_FORMAT,
     {"duplicate tensor name 'a'", NULL}},
    {"truncated data buffer",
     NULL,
     0,
     "{" T_A16 "}",
     0,
     10,
     ERR_FORMAT,
     {"beyond the 10-byte data buffer", "file truncated"}},
    {"shape product overflow",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
     "\"data_offsets\":[0,4]}}",
     0,
     4,
     ERR_FORMAT,
     {"tensor 'a': shape [4294967296, 4294967296, 4294967296]", "overflows"}},
    {"byte count overflow",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,2147483648],\"data_offsets\":[0,4]}}",
     0,
     4,
     ERR_FORMAT,
     {"tensor 'a': F64 [4294967296, 2147483648]: byte count overflows", NULL}},
    {"shape entry above 2^53",
     NULL,
     0,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}",
     0,
     4,
     ERR_FORMAT,
     {"shape[0] must be a non-negative integer, found 1.0000000000000001e+300", NULL}},
    {"metadata value not a string",
     NULL,
     0,
     "{\"__metadata__\":{\"k\":1}}",
     0,
     0,
     ERR_FORMAT,
     {"__metadata__ 'k': value must be a string, found a number", NULL}},
    {"metadata not an object",
     NULL,
     0,
     "{\"__metadata__\":[]}",
     0,
     0,
     ERR_FORMAT,
     {"\"__metadata__\" must be an object, found an array", NULL}},
    {"duplicate metadata",
     NULL,
     0,
     "{\"__metadata__\":{},\"__metadata__\":{}}",
     0,
     0,
     ERR_FORMAT,
     {"duplicate \"__metadata__\"", NULL}},
};

START_TEST(malformed_rejected)
{
    const struct bad_case *c = &bad_cases[_i];
    char path[256];
    st_path(path, sizeof path, "bad.safetensors");
    if (c->raw)
        write_bytes(path, c->raw, c->raw_len);
    else
        write_st(path, c->hlen ? c->hlen : strlen(c->header), c->header, NULL, c->data_len);

    struct st_file sf;
    struct err e = {0};
    int rc = st_read(&sf, path, NULL, NULL, &e);
    ck_assert_msg(rc == c->code, "%s: got %d (%s), expected %d", c->what, rc, e.msg, c->code);
    ck_assert_msg(strstr(e.msg, path) != NULL, "%s: message does not name the file: %s", c->what,
                  e.msg);
    for (int k = 0; k < 2; k++)
        if (c->expect[k])
            ck_assert_msg(strstr(e.msg, c->expect[k]) != NULL, "%s: message '%s' lacks '%s'",
                          c->what, e.msg, c->expect[k]);
    ck_assert_ptr_null(sf.tensors); /* zeroed on failure */
    ck_assert_uint_eq(sf.n, 0);
}
END_TEST

START_TEST(missing_file_and_directory)
{
    char path[256];
    st_path(path, sizeof path, "absent.safetensors");
    struct st_file sf;
    struct err e = {0};
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "absent.safetensors: cannot open"));
    ck_assert_int_eq(st_read(&sf, st_dir, NULL, NULL, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "not a regular file (a directory)"));
}
END_TEST

START_TEST(name_length_limit)
{
    char path[256];
    st_path(path, sizeof path, "names.safetensors");
    char name[ST_MAX_NAME + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char header[ST_MAX_NAME + 128];
    struct st_file sf;
    struct err e = {0};

    snprintf(header, sizeof header,
             "{\"%s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
             name); /* ST_MAX_NAME + 1 bytes */
    write_st(path, strlen(header), header, NULL, 4);
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "tensor name of 1025 bytes"));
    ck_assert_ptr_nonnull(strstr(e.msg, "ST_MAX_NAME"));

    name[ST_MAX_NAME] = '\0'; /* exactly the limit is fine */
    snprintf(header, sizeof header,
             "{\"%s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", name);
    write_st(path, strlen(header), header, NULL, 4);
    ck_assert_msg(st_read(&sf, path, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_ptr_nonnull(st_find(&sf, name));
    st_free(&sf);
}
END_TEST

START_TEST(tensor_count_limit)
{
    char path[256];
    st_path(path, sizeof path, "many.safetensors");
    const int n = ST_MAX_TENSORS + 1;
    size_t cap = (size_t)n * 64 + 16;
    char *header = malloc(cap);
    ck_assert_ptr_nonnull(header);
    size_t used = (size_t)snprintf(header, cap, "{");
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(
            header + used, cap - used,
            "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "", i);
    snprintf(header + used, cap - used, "}");
    write_st(path, strlen(header), header, NULL, 0);
    free(header);
    struct st_file sf;
    struct err e = {0};
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "100001 tensors, more than ST_MAX_TENSORS (100000)"));
}
END_TEST

/* Zero-size tensors sit where the previous tensor ends (even sharing that offset with the
 * next one): the data buffer is still tiled exactly, as the reference reader requires. */
START_TEST(empty_tensors_in_the_tiling_accepted)
{
    char path[256];
    st_path(path, sizeof path, "empty.safetensors");
    float data[3] = {1, 2, 3};
    const char *header = "{\"e0\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                         "\"y\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[12,12]}}";
    write_st(path, strlen(header), header, data, sizeof data);
    struct st_file sf;
    struct err e = {0};
    ck_assert_msg(st_read(&sf, path, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(sf.n, 5);
    ck_assert(st_find(&sf, "a")->data[0] == 1.0f);
    ck_assert(st_find(&sf, "b")->data[1] == 3.0f);
    ck_assert_uint_eq(st_find(&sf, "z")->numel, 0);
    /* Sorted by name for bsearch. */
    ck_assert_str_eq(sf.tensors[0].name, "a");
    ck_assert_str_eq(sf.tensors[4].name, "z");
    st_free(&sf);
}
END_TEST

/* Bytes of the data buffer that no tensor owns -- before the first tensor, between two, after
 * the last -- are refused, as the reference reader refuses them (its offsets must tile the
 * buffer); an overlap is reported before a gap.  Each message names the file, the bytes, the
 * neighbours and where the data was expected. */
START_TEST(unused_data_bytes_refused)
{
    static const struct {
        const char *header;
        size_t data_len;
        const char *want;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12,
         "bytes [4, 8) of the data buffer, between tensors 'a' and 'b', belong to no tensor "
         "(expected 'b' to begin at 4, where 'a' ends)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
         "bytes [0, 4) of the data buffer, before tensor 'a', belong to no tensor (expected the "
         "first tensor to begin at 0)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9,
         "bytes [4, 9) at the end of the data buffer belong to no tensor (expected the file to "
         "end where the last tensor ends, 4 bytes of data, found 9)"},
        {"{\"__metadata__\":{\"k\":\"v\"}}", 4,
         "bytes [0, 4) at the end of the data buffer belong to no tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
         16, "tensors 'a' [0, 16) and 'e' [8, 8) overlap in the data buffer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "tensors 'a' [4, 8) and 'b' [4, 12) overlap"},
    };
    char path[256];
    st_path(path, sizeof path, "unused.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_st(path, strlen(cases[i].header), cases[i].header, NULL, cases[i].data_len);
        struct st_file sf;
        struct err e = {0};
        ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_FORMAT);
        ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, cases[i].want),
                      "case %zu: '%s' not in: %s", i, cases[i].want, e.msg);
        ck_assert_ptr_null(sf.tensors);
    }
}
END_TEST

/* A tensor name (or metadata text) that is not valid UTF-8 is refused, as the reference reader
 * refuses the header; the message shows the valid part, the bad byte and why.  Non-ASCII
 * UTF-8 names round-trip. */
START_TEST(non_utf8_names_refused)
{
    static const struct {
        const char *name; /* raw bytes inside the JSON string */
        const char *want;
    } cases[] = {
        {"ab\xff", "tensor name 'ab' + byte 0xff...: not valid UTF-8 at byte 2 of the name "
                   "(invalid lead byte"},
        {"\xc0\xafx", "tensor name '' + byte 0xc0...: not valid UTF-8 at byte 0 of the name "
                      "(overlong encoding)"},
        {"w\xed\xa0\x80", "tensor name 'w' + byte 0xed...: not valid UTF-8 at byte 1 of the "
                          "name (UTF-16 surrogate"},
        {"q\xe2\x82", "not valid UTF-8 at byte 1 of the name (truncated sequence)"},
    };
    char path[256], header[256];
    st_path(path, sizeof path, "utf8.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(header, sizeof header,
                 "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                 cases[i].name);
        write_st(path, strlen(header), header, NULL, 4);
        struct st_file sf;
        struct err e = {0};
        ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_FORMAT);
        ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, cases[i].want),
                      "case %zu: '%s' not in: %s", i, cases[i].want, e.msg);
    }
    snprintf(header, sizeof header, "{\"__metadata__\":{\"k\":\"v\xfe\"}}");
    write_st(path, strlen(header), header, NULL, 0);
    struct st_file sf;
    struct err e = {0};
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "__metadata__ 'k': key or value is not valid UTF-8"), "%s", e.msg);
    /* the writer refuses to produce what the reader would refuse */
    float x = 1;
    struct st_write_tensor bad = {.name = "w\xff", .ndim = 0, .data = &x};
    ck_assert_int_eq(st_write(path, &bad, 1, NULL, 0, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "tensor #0: name is not valid UTF-8"), "%s", e.msg);
    /* valid UTF-8 beyond ASCII is fine */
    struct st_write_tensor ok = {.name = "gewicht.\xc3\xa4.\xe2\x82\xac", .ndim = 0, .data = &x};
    ck_assert_msg(st_write(path, &ok, 1, NULL, 0, &e) == 0, "%s", e.msg);
    ck_assert_msg(st_read(&sf, path, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_ptr_nonnull(st_find(&sf, "gewicht.\xc3\xa4.\xe2\x82\xac"));
    st_free(&sf);
}
END_TEST

/* A FIFO, a device or a directory as the checkpoint: refused before anything is read (a FIFO
 * used to block st_read in open() until some writer came). */
START_TEST(fifo_and_device_refused)
{
    char path[256];
    st_path(path, sizeof path, "pipe.safetensors");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    struct st_file sf;
    struct err e = {0};
    alarm(10); /* a regression hangs: fail instead */
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "pipe.safetensors: not a regular file (a FIFO)"));
    ck_assert_int_eq(st_read(&sf, "/dev/zero", NULL, NULL, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/dev/zero: not a regular file (a character device)"));
    alarm(0);
}
END_TEST

/* ---- filtering ---------------------------------------------------------------------------------
 */

struct filter_ctx {
    int calls;
};

static bool skip_heads_and_position_ids(const char *name, void *ctx)
{
    struct filter_ctx *fc = ctx;
    fc->calls++;
    return strncmp(name, "cls.", 4) != 0 && strstr(name, "position_ids") == NULL;
}

/* An old BERT checkpoint: I64 position_ids buffer, MLM head, one BF16 weight. */
static void write_checkpoint(const char *path, const char *pos_entry)
{
    char header[512];
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"embeddings.position_ids\":%s,"
             "\"cls.predictions.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]},"
             "\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[40,44]}}",
             pos_entry);
    unsigned char data[44] = {0};
    for (int i = 0; i < 4; i++)
        data[8 * i] = (unsigned char)i; /* I64 0, 1, 2, 3 */
    const uint16_t w[2] = {0x3f80, 0xc000};
    put_u16s(data + 40, w, 2);
    write_st(path, strlen(header), header, data, sizeof data);
}

#define POS_OK "{\"dtype\":\"I64\",\"shape\":[1,4],\"data_offsets\":[0,32]}"

START_TEST(filter_skips_unsupported_dtypes)
{
    char path[256];
    st_path(path, sizeof path, "old.safetensors");
    write_checkpoint(path, POS_OK);
    struct st_file sf;
    struct err e = {0};

    /* Without a filter the I64 buffer is refused by name. */
    ck_assert_int_eq(st_read(&sf, path, NULL, NULL, &e), ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "tensor 'embeddings.position_ids': dtype I64"));
    ck_assert_ptr_nonnull(strstr(e.msg, "filter"));

    struct filter_ctx fc = {0};
    ck_assert_msg(st_read(&sf, path, skip_heads_and_position_ids, &fc, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(fc.calls, 3);
    ck_assert_uint_eq(sf.n, 1);
    ck_assert_uint_eq(sf.n_skipped, 2);
    ck_assert_ptr_null(st_find(&sf, "cls.predictions.bias"));
    ck_assert_ptr_null(st_find(&sf, "embeddings.position_ids"));
    const struct st_tensor *w = st_find(&sf, "w");
    ck_assert_ptr_nonnull(w);
    ck_assert(w->data[0] == 1.0f && w->data[1] == -2.0f);
    ck_assert_str_eq(st_meta_get(&sf, "format"), "pt");
    st_free(&sf);
}
END_TEST

START_TEST(filter_still_validates_skipped)
{
    char path[256];
    st_path(path, sizeof path, "old.safetensors");
    struct st_file sf;
    struct err e = {0};
    struct filter_ctx fc = {0};

    write_checkpoint(path, "{\"dtype\":\"I64\",\"shape\":[1,4],\"data_offsets\":[0,4000]}");
    ck_assert_int_eq(st_read(&sf, path, skip_heads_and_position_ids, &fc, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(
        strstr(e.msg, "tensor 'embeddings.position_ids': data_offsets [0, 4000)"));

    write_checkpoint(path, "{\"dtype\":\"I64\",\"shape\":[1,4],\"data_offsets\":[0,36]}");
    ck_assert_int_eq(st_read(&sf, path, skip_heads_and_position_ids, &fc, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "hold 36 bytes but I64 [1, 4] needs 32"));

    write_checkpoint(path, "{\"dtype\":\"I64\",\"shape\":[1,4],\"data_offsets\":[8,40]}");
    ck_assert_int_eq(st_read(&sf, path, skip_heads_and_position_ids, &fc, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "overlap"));

    write_checkpoint(path, "{\"dtype\":\"X64\",\"shape\":[1,4],\"data_offsets\":[0,32]}");
    ck_assert_int_eq(st_read(&sf, path, skip_heads_and_position_ids, &fc, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "unknown dtype 'X64'"));
}
END_TEST

Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");

    TCase *tc = tcase_create("roundtrip");
    tcase_add_unchecked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, write_read_round_trip);
    tcase_add_test(tc, write_replaces_existing_file);
    tcase_add_test(tc, write_rejects_bad_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("numerics");
    tcase_add_unchecked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, f16_bf16_bit_patterns);
    tcase_add_test(tc, f16_exhaustive_against_definition);
    tcase_add_test(tc, f16_bf16_tensors_from_file);
    tcase_add_test(tc, f16_large_tensor_chunks);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_unchecked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, malformed_rejected, 0, (int)NCASES(bad_cases));
    tcase_add_test(tc, missing_file_and_directory);
    tcase_add_test(tc, name_length_limit);
    tcase_add_test(tc, tensor_count_limit);
    tcase_add_test(tc, empty_tensors_in_the_tiling_accepted);
    tcase_add_test(tc, unused_data_bytes_refused);
    tcase_add_test(tc, non_utf8_names_refused);
    tcase_add_test(tc, fifo_and_device_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("filter");
    tcase_add_unchecked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, filter_skips_unsupported_dtypes);
    tcase_add_test(tc, filter_still_validates_skipped);
    suite_add_tcase(s, tc);
    return s;
}
