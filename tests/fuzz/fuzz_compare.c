/*
 * Fuzz target: `peftbench compare` (harness/report/compare.c) on two results.csv files, read
 * through agg_table_load (harness/report/aggregate.c) and tasks/tsv.c.
 *
 * Input: BASELINE.csv, the line "#--", CURRENT.csv (without the separator both files are the
 * input).  Oracles: a failure leaves a message naming a file; on success the summary counts
 * are consistent (each matched trial regressed, improved or neither; regressions as the
 * header defines them: regressed + missing unless allowed + the sweep-level slowdown, which
 * needs COMPARE_SWEEP_MIN_TRIALS calibrated trials).
 */
#include "tests/fuzz/fuzz_util.h"

#include "harness/report/aggregate.h"
#include "harness/report/compare.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memmem(data, size, "\n#--\n", 5);
    size_t nb = sep ? (size_t)(sep - data) + 1 : size;
    const char *base = fuzz_write("baseline.csv", data, nb);
    const char *cur = sep ? fuzz_write("current.csv", sep + 5, size - nb - 4) : base;

    struct agg_table t;
    struct err e = {0};
    int rc = agg_table_load(&t, base, &e);
    FUZZ_LOG("agg_table_load: %d %s", rc, e.msg);
    if (rc) {
        FUZZ_CHECK(e.code == rc && strstr(e.msg, "baseline.csv"), "rc %d, message '%s'", rc, e.msg);
    } else {
        for (size_t r = 0; r < t.nrows; r++)
            for (int c = 0; c < t.ncols; c++)
                FUZZ_CHECK(agg_table_cell(&t, r, c) != NULL, "cell (%zu, %d)", r, c);
    }
    agg_table_free(&t);

    struct compare_opts o;
    compare_opts_default(&o);
    o.allow_missing = size & 1;
    struct compare_summary sum;
    memset(&sum, 0, sizeof sum);
    rc = compare_files(base, cur, &o, devnull, &sum, &e);
    FUZZ_LOG("compare_files: %d %s (matched %d, regressions %d)", rc, e.msg, sum.matched,
             sum.regressions);
    if (rc) {
        FUZZ_CHECK(e.code == rc && strstr(e.msg, ".csv"), "rc %d, message '%s'", rc, e.msg);
        return 0;
    }
    FUZZ_CHECK(sum.matched >= 0 && sum.missing >= 0 && sum.added >= 0, "negative counts");
    FUZZ_CHECK(sum.regressed + sum.improved <= sum.matched, "regressed %d + improved %d > %d",
               sum.regressed, sum.improved, sum.matched);
    FUZZ_CHECK(sum.regressions ==
                   sum.regressed + (o.allow_missing ? 0 : sum.missing) + sum.sweep_slower,
               "regressions %d != regressed %d + missing %d + sweep %d", sum.regressions,
               sum.regressed, o.allow_missing ? 0 : sum.missing, sum.sweep_slower);
    FUZZ_CHECK(!sum.sweep_slower || sum.speed_trials >= COMPARE_SWEEP_MIN_TRIALS,
               "sweep judged from %d trials", sum.speed_trials);
    FUZZ_CHECK(sum.speed_trials <= sum.matched, "speed_trials %d > matched %d", sum.speed_trials,
               sum.matched);
    if (!sep)
        FUZZ_CHECK(sum.missing == 0 && sum.added == 0 && sum.regressed == 0,
                   "a file compared with itself changed");
    return 0;
}
