/* Tests of the task registry (tasks/registry.c): the static table and its invariants, lookup
 * errors that suggest a near name, and the listing printed by `peftbench tasks`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/metrics.h"
#include "tasks/task.h"
#include "tests/suites.h"
#include "tests/tasks/task_fixture.h"

/* ------------------------------------------------------------------ registry */

START_TEST(test_registry_table)
{
    ck_assert_int_ge(task_count(), 15);
    for (int i = 0; i < task_count(); i++) {
        const struct task_def *d = task_at(i);
        ck_assert(d->load != NULL);
        ck_assert_ptr_eq(task_find(d->name), d);
        ck_assert(d->metrics & METRIC_BIT(d->primary));
        ck_assert_int_eq(d->kind == TASK_REGRESSION, metric_is_regression(d->primary));
        if (d->labels)
            for (int k = 0; k < d->nlabels; k++)
                ck_assert_ptr_nonnull(d->labels[k]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(task_at(j)->name, d->name);
    }
    ck_assert_ptr_null(task_at(task_count()));
    ck_assert_int_eq(task_find("cola")->primary, METRIC_MCC);
    ck_assert_int_eq(task_find("stsb")->primary, METRIC_PEARSON_SPEARMAN);
    ck_assert_int_eq(task_find("mrpc")->primary, METRIC_ACC_F1);
    ck_assert_int_eq(task_find("qqp")->primary, METRIC_ACC_F1);
    ck_assert_int_eq(task_find("rte")->primary, METRIC_ACCURACY);
    ck_assert_int_eq(task_find("wn-supersense")->nlabels, 45);
    ck_assert_str_eq(task_find("wn-supersense")->labels[5], "noun.animal");
}
END_TEST

START_TEST(test_registry_lookup_error)
{
    struct err e = {0};
    ck_assert_ptr_null(task_lookup("sst", "sweep.yaml:4:9", &e));
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "sweep.yaml:4:9: unknown task 'sst'"));
    ck_assert_ptr_nonnull(strstr(e.msg, "did you mean 'sst2'"));
    ck_assert_ptr_nonnull(strstr(e.msg, "valid: cola, sst2"));
    err_clear(&e);
    ck_assert_ptr_null(task_lookup("zzzzzzzzzz", NULL, &e));
    ck_assert_ptr_null(strstr(e.msg, "did you mean"));
    ck_assert_ptr_eq(task_lookup("mnli", NULL, &e), task_find("mnli"));
}
END_TEST

START_TEST(test_registry_print)
{
    struct task_params p;
    task_params_init(&p);
    p.data_dir = path_of("none");
    p.wordnet_dir = path_of("none");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    task_print(f, &p);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "cola"));
    ck_assert_ptr_nonnull(strstr(buf, "mcc*"));
    ck_assert_ptr_nonnull(strstr(buf, "cannot read train.tsv in"));
    ck_assert_ptr_nonnull(strstr(buf, "wordnet-base"));
    ck_assert_ptr_nonnull(strstr(buf, "train 2000, dev 500, test 500")); /* synthetic */
    free(buf);
}
END_TEST

Suite *task_registry_suite(void)
{
    Suite *s = suite_create("task_registry");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, tdir_setup, tdir_teardown);
    tcase_add_test(tc, test_registry_table);
    tcase_add_test(tc, test_registry_lookup_error);
    tcase_add_test(tc, test_registry_print);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
