/*
 * Fuzz target: the safetensors reader (st_read) on untrusted checkpoint bytes.
 *
 * Input: either the raw file, or (when it starts with '{') "JSON header NUL data bytes", from
 * which the harness builds a file with the right 8-byte length prefix so that mutations reach
 * the header validation instead of dying at the prefix.  Each file is read twice: loading every
 * tensor, and with a filter that skips about half of them (unwanted tensors are validated, not
 * read).  Oracles: a failure leaves a message and a zeroed struct; a success keeps its promises
 * (tensors sorted by name and found by st_find, numel = product of shape, data present).
 */
#include "tests/fuzz/fuzz_util.h"

#include "model/io/safetensors.h"

static bool want_half(const char *name, void *ctx)
{
    (void)ctx;
    size_t h = 0;
    for (const char *p = name; *p; p++)
        h = h * 31 + (unsigned char)*p;
    return h % 2 == 0;
}

static void check_result(int rc, const struct st_file *f, const struct err *e)
{
    if (rc) {
        FUZZ_CHECK(e->code == rc && e->msg[0], "rc %d, e.code %d", rc, e->code);
        FUZZ_CHECK(!f->tensors && !f->meta && f->n == 0 && f->n_meta == 0, "not zeroed");
        return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS, "ndim %d", t->ndim);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++)
            numel *= (size_t)t->shape[d];
        FUZZ_CHECK(numel == t->numel, "numel %zu vs %zu", numel, t->numel);
        FUZZ_CHECK(t->numel == 0 || t->data, "tensor %s without data", t->name);
        for (size_t k = 0; k < t->numel; k++)
            sum += (double)t->data[k]; /* reads every element: ASan checks the allocation */
        FUZZ_CHECK(i == 0 || strcmp(f->tensors[i - 1].name, t->name) < 0, "not sorted");
        FUZZ_CHECK(st_find(f, t->name) == t, "st_find(%s)", t->name);
    }
    for (size_t i = 0; i < f->n_meta; i++)
        FUZZ_CHECK(st_meta_get(f, f->meta[i].key) == f->meta[i].value, "st_meta_get");
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path;
    if (size > 0 && data[0] == '{') {
        const uint8_t *nul = memchr(data, '\0', size);
        size_t hlen = nul ? (size_t)(nul - data) : size;
        size_t rest = nul ? size - hlen - 1 : 0;
        uint8_t *buf = malloc(8 + hlen + rest + 1);
        if (!buf)
            abort();
        for (int i = 0; i < 8; i++)
            buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
        memcpy(buf + 8, data, hlen);
        if (rest)
            memcpy(buf + 8 + hlen, nul + 1, rest);
        path = fuzz_write("in.safetensors", buf, 8 + hlen + rest);
        free(buf);
    } else {
        path = fuzz_write("in.safetensors", data, size);
    }
    struct st_file f;
    struct err e = {0};
    int rc = st_read(&f, path, NULL, NULL, &e);
    FUZZ_LOG("st_read: %d %s (%zu tensors)", rc, e.msg, f.n);
    check_result(rc, &f, &e);
    st_free(&f);

    struct err e2 = {0};
    int rc2 = st_read(&f, path, want_half, NULL, &e2);
    FUZZ_LOG("filtered: %d %s (%zu tensors, %zu skipped)", rc2, e2.msg, f.n, f.n_skipped);
    check_result(rc2, &f, &e2);
    /* Filtering can only turn an unsupported-dtype failure into success, never the reverse. */
    FUZZ_CHECK(rc2 == 0 || rc != 0, "filtered read failed: %s", e2.msg);
    st_free(&f);
    return 0;
}
