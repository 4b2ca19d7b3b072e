/*
 * The built-in demo's sweep (configs/quickstart.yaml, what `make demo` runs) parses and plans:
 * every method at its defaults on both tasks and seeds, with valid hyperparameters for a model
 * of the built-in model's width.  The model is swapped for a random one-layer model of the same
 * width (the `model=` override), so the test does not pretrain.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/suites.h"
#include "tests/cli_util.h"

static char ddir[64];

/* Count lines of path containing needle. */
static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

START_TEST(quickstart_parses_and_plans)
{
    snprintf(ddir, sizeof ddir, "/tmp/peftbench-demo-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(ddir));
    ck_assert_int_eq(sh("printf '[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n[MASK]\\nthe\\na\\nof\\n' > %s/vocab.txt",
                        ddir), 0);
    /* the built-in model's width (configs/pretrain/tiny-bert.yaml: hidden 128, 4 heads) */
    ck_assert_int_eq(sh("%s init-model %s/m --vocab %s/vocab.txt --layers 1 --hidden 128 "
                        "--heads 4 --ffn 256 >/dev/null", peftbench_bin(), ddir, ddir), 0);
    ck_assert_int_eq(sh("%s plan configs/quickstart.yaml model=%s/m > %s/plan.txt 2>&1", peftbench_bin(),
                        ddir, ddir), 0);
    char plan[128];
    snprintf(plan, sizeof plan, "%s/plan.txt", ddir);
    ck_assert_int_eq(count_lines(plan, "quickstart: 44 trials"), 1);
    static const char *methods[] = {"head", "bitfit", "full", "houlsby", "pfeiffer", "parallel",
                                    "prefix", "compacter", "compacter++", "lora", "ia3"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        char pat[40];
        snprintf(pat, sizeof pat, " %-18s ", methods[i]);
        ck_assert_msg(count_lines(plan, pat) == 4, "%s: %d plan rows, expected 2 tasks x 2 seeds",
                      methods[i], count_lines(plan, pat));
    }
    ck_assert_int_eq(count_lines(plan, "wn-supersense"), 22);
    ck_assert_int_eq(count_lines(plan, "wn-pos"), 22);
    rm_tree(ddir);
}
END_TEST

Suite *demo_suite(void)
{
    Suite *s = suite_create("demo");
    TCase *tc = tcase_create("quickstart");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quickstart_parses_and_plans);
    suite_add_tcase(s, tc);
    return s;
}
