/*
 * tsv: a hardened record reader for the text formats tasks come in.
 *
 * Formats (enum tsv_format):
 *  - TSV_PLAIN  "tsv"   fields split on every tab; NO quoting: a quote is a literal
 *                       character.  This is the GLUE layout (SST-2 and CoLA text
 *                       holds unbalanced quotes), so GLUE files must use it.
 *  - TSV_QUOTED "tsv-quoted"  RFC 4180 quoting with a tab delimiter (what pandas
 *                       to_csv(sep="\t") writes).
 *  - TSV_CSV    "csv"   RFC 4180: comma delimiter; a field may be quoted with ",
 *                       a quote inside is doubled (""), and a quoted field may hold
 *                       delimiters, tabs and newlines.
 *  - TSV_JSONL  "jsonl" one JSON object per line (cJSON), read with tsv_json_get.
 *
 * Common rules:
 *  - a UTF-8 byte order mark at the start of the file is skipped;
 *  - LF and CRLF line ends are both accepted (a CR is dropped only before LF); a
 *    quoted CSV field keeps its embedded line breaks as "\n";
 *  - empty lines (nothing but an optional CR) between records are skipped;
 *  - a physical line, and a whole (multi-line) record, may hold at most
 *    TSV_MAX_LINE bytes: a longer one is ERR_LIMIT naming file and line, never
 *    skipped (it signals a wrong format such as an unterminated quote);
 *  - at most TSV_MAX_FIELDS fields per record (ERR_LIMIT);
 *  - a record that is malformed (invalid UTF-8, a NUL byte, a stray quote in
 *    CSV, text after a closing quote, a JSONL line that is not a JSON object,
 *    an unterminated quote at end of file) is reported as "FILE:LINE: why":
 *    an error (ERR_FORMAT), or skipped and counted when skip_bad is set.  Callers
 *    use tsv_bad_row for their own checks (column count, label values) so that
 *    the same policy applies.
 *  Line numbers are 1-based physical lines; a record's number is that of its
 *  first line.
 *
 * Library code: never prints; errors go to struct err.
 */
#ifndef TASKS_TSV_H
#define TASKS_TSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

#define TSV_MAX_LINE   ((size_t)1 << 20) /* bytes per line and per record: 1 MiB */
#define TSV_MAX_FIELDS 1024              /* fields per record (summary.csv: 8 per measure) */

enum tsv_format { TSV_PLAIN = 0, TSV_QUOTED, TSV_CSV, TSV_JSONL };

/* Canonical name ("tsv", "tsv-quoted", "csv", "jsonl"). */
const char *tsv_format_name(int fmt);
/* Format of a name as above, or -1. */
int tsv_format_find(const char *name);
/* Format guessed from a path's extension (.tsv, .csv, .jsonl/.json), or -1. */
int tsv_format_from_path(const char *path);

struct cJSON;

struct tsv_reader {
    char *path; /* owned copy, for messages */
    FILE *f;    /* owned */
    enum tsv_format fmt;
    bool skip_bad;   /* skip malformed records instead of failing */
    size_t max_line; /* TSV_MAX_LINE unless a test lowers it */

    size_t line;      /* first physical line of the current record (1-based) */
    size_t next_line; /* next physical line to read */
    size_t nbad;      /* records skipped as malformed */
    size_t nrecords;  /* records returned so far */

    char **fields; /* (nfields) views into rec: the current record */
    size_t nfields;
    struct cJSON *json; /* owned: the current JSONL object */

    /* internals */
    char *rec; /* record buffer (fields are NUL-terminated inside) */
    size_t rec_cap;
    char *lbuf; /* physical line buffer */
    size_t lbuf_len, lbuf_cap;
    char *io; /* read buffer */
    size_t io_pos, io_len;
    bool eof, bom_checked;
    char *numbuf; /* tsv_json_get scratch */
};

/* Open path for reading in format fmt.  Errors: cannot open, or not a regular file (a FIFO,
 * a device: refused before it can block; ERR_IO naming the path, base/readfile.h); out of
 * memory. */
int tsv_open(struct tsv_reader *r, const char *path, enum tsv_format fmt, bool skip_bad,
             struct err *e);

/* Read the next record into r->fields / r->json.  Returns 1 when a record was
 * read, 0 at end of file, or a negative error (malformed record without skip_bad,
 * over a limit, read error). */
int tsv_next(struct tsv_reader *r, struct err *e);

/* Report the current record as malformed: with skip_bad, count it and return 1
 * (the caller skips it); otherwise fill e with "PATH:LINE: <message>" and return
 * ERR_FORMAT. */
int tsv_bad_row(struct tsv_reader *r, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* JSONL: the value of key in the current object as text: a string as is, a
 * number in shortest round-trip form ("1", "0.5"), true/false; NULL when the key
 * is absent or null, or an array/object.  The pointer is valid until the next call. */
const char *tsv_json_get(struct tsv_reader *r, const char *key);

/* JSONL: what the current object holds at key, for messages where tsv_json_get gave NULL:
 * "no such key", "null", "a list" or "an object" (static strings). */
const char *tsv_json_found(const struct tsv_reader *r, const char *key);

/* Close and free; NULL-safe, idempotent. */
void tsv_close(struct tsv_reader *r);

/* Count the records of a file quickly (for listings): non-empty physical lines
 * for TSV_PLAIN/JSONL, parsed records for quoted formats; ERR_IO if absent. */
int tsv_count(const char *path, enum tsv_format fmt, size_t *n, struct err *e);

#endif
