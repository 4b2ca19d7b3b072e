/*
 * Fuzz target: trial records (OUT/trials/<id>.json) -> results_rebuild_csv -> results.csv.
 *
 * Input: up to three trial records separated by the line "#--", written as
 * OUT/trials/<16 hex digits>.json.  Oracles: a failure names the corrupt record; a rebuilt
 * results.csv reads back through the RFC 4180 reader (tasks/tsv.h) as one header plus one row
 * per record, every row with the header's field count (a writer that forgets to quote a
 * comma, quote or newline coming from a record breaks this).
 */
#include "tests/fuzz/fuzz_util.h"

#include <sys/stat.h>

#include "harness/sweep/results.h"
#include "tasks/tsv.h"

static const char *const names[] = {"0123456789abcdef", "fedcba9876543210", "00000000deadbeef"};
#define NREC ((int)(sizeof names / sizeof *names))

static char out_dir[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    snprintf(out_dir, sizeof out_dir, "%s", fuzz_path("out"));
    char trials[400];
    snprintf(trials, sizeof trials, "%s/trials", out_dir);
    if (mkdir(out_dir, 0777) != 0 || mkdir(trials, 0777) != 0) {
        perror(trials);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    int nrec = 0;
    for (size_t pos = 0; nrec < NREC;) {
        const uint8_t *sep = nrec + 1 < NREC ? memmem(data + pos, size - pos, "\n#--\n", 5) : NULL;
        size_t n = sep ? (size_t)(sep - (data + pos)) : size - pos;
        snprintf(path, sizeof path, "out/trials/%s.json", names[nrec]);
        fuzz_write(path, data + pos, n);
        nrec++;
        if (!sep)
            break;
        pos += n + 5;
    }
    for (int i = nrec; i < NREC; i++) {
        snprintf(path, sizeof path, "%s/trials/%s.json", out_dir, names[i]);
        unlink(path);
    }

    int nrows = -1;
    struct err e = {0};
    int rc = results_rebuild_csv(out_dir, &nrows, &e);
    FUZZ_LOG("rebuild: %d %s (%d rows)", rc, e.msg, nrows);
    if (rc) {
        FUZZ_CHECK(e.code == rc && strstr(e.msg, ".json"), "rc %d, message '%s'", rc, e.msg);
        return 0;
    }
    FUZZ_CHECK(nrows == nrec, "%d rows for %d records", nrows, nrec);
    for (int i = 0; i < nrec; i++)
        (void)results_trial_done(out_dir, names[i], i & 1);

    snprintf(path, sizeof path, "%s/results.csv", out_dir);
    struct tsv_reader r;
    rc = tsv_open(&r, path, TSV_CSV, false, &e);
    FUZZ_CHECK(rc == 0, "%s", e.msg);
    size_t ncols = 0, rows = 0;
    while ((rc = tsv_next(&r, &e)) == 1) {
        if (rows++ == 0)
            ncols = r.nfields;
        else
            FUZZ_CHECK(r.nfields == ncols, "row %zu has %zu fields, the header %zu", rows - 1,
                       r.nfields, ncols);
    }
    /* Records hold arbitrary JSON strings: only bytes that are not UTF-8 or are NUL may make
     * the CSV unreadable, and the reader then says so. */
    if (rc == 0)
        FUZZ_CHECK(rows == (size_t)nrec + 1, "results.csv has %zu records for %d trials", rows,
                   nrec);
    tsv_close(&r);
    return 0;
}
