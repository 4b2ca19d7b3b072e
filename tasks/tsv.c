/*
 * tsv: TSV / CSV / JSONL record reader.  Contract in tsv.h.
 *
 * Reading is two-level: read_line() yields physical lines from a fixed-size read
 * buffer (so a line without a newline can never make us allocate more than the
 * limit), and the per-format record parsers assemble records from lines.
 */
#include "tasks/tsv.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/readfile.h"
#include "base/utf8.h"

#define TSV_IO_CHUNK ((size_t)1 << 16)

static const char *const tsv_format_names[] = {"tsv", "tsv-quoted", "csv", "jsonl"};

const char *tsv_format_name(int fmt)
{
    return fmt >= 0 && fmt <= TSV_JSONL ? tsv_format_names[fmt] : "?";
}

int tsv_format_find(const char *name)
{
    for (int i = 0; name && i <= TSV_JSONL; i++)
        if (strcmp(tsv_format_names[i], name) == 0)
            return i;
    return -1;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int tsv_format_from_path(const char *path)
{
    if (!path)
        return -1;
    if (ends_with(path, ".tsv") || ends_with(path, ".txt"))
        return TSV_PLAIN;
    if (ends_with(path, ".csv"))
        return TSV_CSV;
    if (ends_with(path, ".jsonl") || ends_with(path, ".json") || ends_with(path, ".ndjson"))
        return TSV_JSONL;
    return -1;
}

int tsv_open(struct tsv_reader *r, const char *path, enum tsv_format fmt, bool skip_bad,
             struct err *e)
{
    memset(r, 0, sizeof *r);
    if (!path)
        return ERR_SET(e, ERR_CONFIG, "tsv_open: no path given");
    if ((int)fmt < 0 || fmt > TSV_JSONL)
        return ERR_SET(e, ERR_CONFIG, "%s: invalid format %d", path, (int)fmt);
    if (readfile_fopen(path, &r->f, e)) /* a FIFO or device is refused before it can block */
        return e->code;
    r->path = strdup(path);
    r->io = malloc(TSV_IO_CHUNK);
    r->numbuf = malloc(64);
    if (!r->path || !r->io || !r->numbuf) {
        tsv_close(r);
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
    }
    r->fmt = fmt;
    r->skip_bad = skip_bad;
    r->max_line = TSV_MAX_LINE;
    r->next_line = 1;
    return ERR_OK;
}

void tsv_close(struct tsv_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    cJSON_Delete(r->json);
    free(r->path);
    free(r->fields);
    free(r->rec);
    free(r->lbuf);
    free(r->io);
    free(r->numbuf);
    memset(r, 0, sizeof *r);
}

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    char *p = realloc(*buf, c);
    if (!p)
        return -1;
    *buf = p;
    *cap = c;
    return 0;
}

static int fill_io(struct tsv_reader *r, struct err *e)
{
    r->io_pos = 0;
    r->io_len = fread(r->io, 1, TSV_IO_CHUNK, r->f);
    if (r->io_len == 0) {
        if (ferror(r->f))
            return ERR_SET(e, ERR_IO, "%s: read error: %s", r->path, strerror(errno));
        r->eof = true;
    }
    if (!r->bom_checked && r->io_len > 0) {
        r->bom_checked = true;
        if (r->io_len >= 3 && memcmp(r->io, "\xEF\xBB\xBF", 3) == 0)
            r->io_pos = 3;
    }
    return ERR_OK;
}

static int line_too_long(const struct tsv_reader *r, struct err *e)
{
    return ERR_SET(e, ERR_LIMIT, "%s:%zu: line longer than %zu bytes (the limit, TSV_MAX_LINE)",
                   r->path, r->next_line, r->max_line);
}

/* Next physical line into lbuf[0..lbuf_len) (NUL-terminated, no LF, CR before LF
 * dropped).  Returns 1, 0 at end of file, or an error. */
static int read_line(struct tsv_reader *r, struct err *e)
{
    r->lbuf_len = 0;
    bool got = false;
    for (;;) {
        if (r->io_pos == r->io_len) {
            if (r->eof)
                break;
            int rc = fill_io(r, e);
            if (rc)
                return rc;
            if (r->eof)
                break;
            continue;
        }
        got = true;
        const char *p = r->io + r->io_pos;
        size_t avail = r->io_len - r->io_pos;
        const char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        /* One byte more than the limit is read: it may be the CR of a CRLF, not content. */
        if (r->lbuf_len + take > r->max_line + 1)
            return line_too_long(r, e);
        if (grow(&r->lbuf, &r->lbuf_cap, r->lbuf_len + take + 1))
            return ERR_SET(e, ERR_NOMEM, "%s: out of memory", r->path);
        memcpy(r->lbuf + r->lbuf_len, p, take);
        r->lbuf_len += take;
        r->io_pos += take + (nl ? 1 : 0);
        if (nl)
            break;
    }
    if (!got)
        return 0;
    if (r->lbuf_len > 0 && r->lbuf[r->lbuf_len - 1] == '\r')
        r->lbuf_len--;
    if (r->lbuf_len > r->max_line)
        return line_too_long(r, e);
    r->lbuf[r->lbuf_len] = '\0';
    r->next_line++;
    return 1;
}

static int vbad(struct tsv_reader *r, struct err *e, const char *fmt, va_list ap)
{
    if (r->skip_bad) {
        r->nbad++;
        return 1;
    }
    char why[ERR_MSG_MAX];
    vsnprintf(why, sizeof why, fmt, ap);
    return ERR_SET(e, ERR_FORMAT, "%s:%zu: %s", r->path, r->line, why);
}

int tsv_bad_row(struct tsv_reader *r, struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vbad(r, e, fmt, ap);
    va_end(ap);
    return rc;
}

/* NUL bytes and invalid UTF-8 in the current physical line: NULL when clean. */
static const char *line_problem(const struct tsv_reader *r, char *buf, size_t n)
{
    if (memchr(r->lbuf, '\0', r->lbuf_len)) {
        snprintf(buf, n, "NUL byte at byte %zu of the line",
                 (size_t)((const char *)memchr(r->lbuf, '\0', r->lbuf_len) - r->lbuf));
        return buf;
    }
    size_t off;
    const char *why;
    if (utf8_check(r->lbuf, r->lbuf_len, &off, &why)) {
        snprintf(buf, n, "invalid UTF-8 at byte %zu of the line: %s", off, why);
        return buf;
    }
    return NULL;
}

static int set_fields(struct tsv_reader *r, const size_t *starts, size_t n, struct err *e)
{
    char **f = realloc(r->fields, (n ? n : 1) * sizeof *f);
    if (!f)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", r->path);
    r->fields = f;
    for (size_t i = 0; i < n; i++)
        f[i] = r->rec + starts[i];
    r->nfields = n;
    return ERR_OK;
}

static int too_many_fields(struct tsv_reader *r, struct err *e)
{
    return ERR_SET(e, ERR_LIMIT, "%s:%zu: more than %d fields in a record (the limit)", r->path,
                   r->line, TSV_MAX_FIELDS);
}

static int next_plain(struct tsv_reader *r, struct err *e)
{
    size_t starts[TSV_MAX_FIELDS];
    char why[128];
    for (;;) {
        r->line = r->next_line;
        int rc = read_line(r, e);
        if (rc <= 0)
            return rc;
        if (r->lbuf_len == 0)
            continue;
        const char *p = line_problem(r, why, sizeof why);
        if (p) {
            rc = tsv_bad_row(r, e, "%s", p);
            if (rc < 0)
                return rc;
            continue;
        }
        if (grow(&r->rec, &r->rec_cap, r->lbuf_len + 1))
            return ERR_SET(e, ERR_NOMEM, "%s: out of memory", r->path);
        memcpy(r->rec, r->lbuf, r->lbuf_len + 1);
        size_t n = 0;
        starts[n++] = 0;
        for (size_t i = 0; i < r->lbuf_len; i++) {
            if (r->rec[i] != '\t')
                continue;
            if (n == TSV_MAX_FIELDS)
                return too_many_fields(r, e);
            r->rec[i] = '\0';
            starts[n++] = i + 1;
        }
        return set_fields(r, starts, n, e) ? e->code : 1;
    }
}

/* RFC 4180 record; may span lines inside quotes.  Returns 1, 0 (EOF), 2 (skipped
 * malformed record: caller loops), or an error. */
static int parse_quoted(struct tsv_reader *r, struct err *e)
{
    const char delim = r->fmt == TSV_CSV ? ',' : '\t';
    size_t starts[TSV_MAX_FIELDS];
    char why[128];
    int rc;
    do {
        r->line = r->next_line;
        rc = read_line(r, e);
        if (rc <= 0)
            return rc;
    } while (r->lbuf_len == 0);

    size_t len = 0, n = 0, raw = 0; /* raw: the record's bytes in the file, a line break = 1 */
    starts[n++] = 0;
    size_t i = 0;
    bool quoted = false, field_start = true, after_quote = false;
    for (;;) {
        const char *p = line_problem(r, why, sizeof why);
        if (p)
            return (rc = tsv_bad_row(r, e, "%s", p)) < 0 ? rc : 2;
        /* The limit is on the record as written (quotes and line breaks included); the
         * buffer holds at most that plus a line break or the final NUL. */
        raw += r->lbuf_len;
        if (raw > r->max_line)
            return ERR_SET(e, ERR_LIMIT,
                           "%s:%zu: record longer than %zu bytes (the limit, TSV_MAX_LINE; an "
                           "unterminated quote?)",
                           r->path, r->line, r->max_line);
        if (grow(&r->rec, &r->rec_cap, len + r->lbuf_len + 2))
            return ERR_SET(e, ERR_NOMEM, "%s: out of memory", r->path);
        for (i = 0; i < r->lbuf_len; i++) {
            char c = r->lbuf[i];
            if (quoted) {
                if (c != '"') {
                    r->rec[len++] = c;
                } else if (i + 1 < r->lbuf_len && r->lbuf[i + 1] == '"') {
                    r->rec[len++] = '"';
                    i++;
                } else {
                    quoted = false;
                    after_quote = true;
                }
                continue;
            }
            if (c == delim) {
                if (n == TSV_MAX_FIELDS)
                    return too_many_fields(r, e);
                r->rec[len++] = '\0';
                starts[n++] = len;
                field_start = true;
                after_quote = false;
                continue;
            }
            if (after_quote)
                return (rc = tsv_bad_row(r, e, "text after the closing quote of field %zu", n)) < 0
                           ? rc
                           : 2;
            if (c == '"') {
                if (!field_start)
                    return (rc = tsv_bad_row(r, e,
                                             "stray quote in unquoted field %zu (quote the whole "
                                             "field and double inner quotes)",
                                             n)) < 0
                               ? rc
                               : 2;
                quoted = true;
                field_start = false;
                continue;
            }
            field_start = false;
            r->rec[len++] = c;
        }
        if (!quoted)
            break;
        /* the quoted field continues on the next line */
        r->rec[len++] = '\n';
        raw++;
        rc = read_line(r, e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return (rc = tsv_bad_row(r, e, "unterminated quote in field %zu at end of file", n)) < 0
                       ? rc
                       : 2;
    }
    r->rec[len] = '\0';
    return set_fields(r, starts, n, e) ? e->code : 1;
}

static int next_json(struct tsv_reader *r, struct err *e)
{
    char why[128];
    for (;;) {
        cJSON_Delete(r->json);
        r->json = NULL;
        r->line = r->next_line;
        int rc = read_line(r, e);
        if (rc <= 0)
            return rc;
        if (strspn(r->lbuf, " \t") == r->lbuf_len)
            continue;
        const char *p = line_problem(r, why, sizeof why);
        if (p) {
            if ((rc = tsv_bad_row(r, e, "%s", p)) < 0)
                return rc;
            continue;
        }
        const char *end = NULL;
        r->json = cJSON_ParseWithOpts(r->lbuf, &end, 1);
        if (!r->json) {
            size_t at = end && end >= r->lbuf ? (size_t)(end - r->lbuf) : 0;
            if ((rc = tsv_bad_row(r, e, "invalid JSON near byte %zu", at)) < 0)
                return rc;
            continue;
        }
        if (!cJSON_IsObject(r->json)) {
            if ((rc = tsv_bad_row(r, e, "a JSONL line must be a JSON object")) < 0)
                return rc;
            continue;
        }
        r->nfields = 0;
        return 1;
    }
}

int tsv_next(struct tsv_reader *r, struct err *e)
{
    if (!r || !r->f)
        return ERR_SET(e, ERR_STATE, "tsv_next: reader is not open");
    int rc;
    switch (r->fmt) {
    case TSV_PLAIN:
        rc = next_plain(r, e);
        break;
    case TSV_JSONL:
        rc = next_json(r, e);
        break;
    default:
        while ((rc = parse_quoted(r, e)) == 2)
            ;
        break;
    }
    if (rc == 1)
        r->nrecords++;
    return rc;
}

const char *tsv_json_get(struct tsv_reader *r, const char *key)
{
    if (!r->json)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, key);
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15) {
            snprintf(r->numbuf, 64, "%.0f", d);
        } else {
            for (int prec = 6; prec <= 17; prec++) {
                snprintf(r->numbuf, 64, "%.*g", prec, d);
                if (strtod(r->numbuf, NULL) == d)
                    break;
            }
        }
        return r->numbuf;
    }
    return NULL;
}

const char *tsv_json_found(const struct tsv_reader *r, const char *key)
{
    const cJSON *v = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, key) : NULL;
    return !v                  ? "no such key"
           : cJSON_IsNull(v)   ? "null"
           : cJSON_IsArray(v)  ? "a list"
           : cJSON_IsObject(v) ? "an object"
                               : "a value";
}

int tsv_count(const char *path, enum tsv_format fmt, size_t *n, struct err *e)
{
    *n = 0;
    struct tsv_reader r;
    int rc = tsv_open(&r, path, fmt, true, e);
    if (rc)
        return rc;
    if (fmt == TSV_PLAIN || fmt == TSV_JSONL) {
        /* fast path: non-empty physical lines (no parsing) */
        while ((rc = read_line(&r, e)) == 1)
            *n += r.lbuf_len > 0;
    } else {
        while ((rc = tsv_next(&r, e)) == 1)
            (*n)++;
    }
    tsv_close(&r);
    return rc < 0 ? rc : ERR_OK;
}
