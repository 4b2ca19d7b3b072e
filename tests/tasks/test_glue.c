/* Tests of the GLUE loaders (tasks/glue.c) on fixtures in the exact layout of the GLUE
 * download: every task's splits and labels, missing files and malformed rows, subsampling. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tasks/task.h"
#include "tests/suites.h"
#include "tests/tasks/task_fixture.h"

/* ------------------------------------------------------------------ GLUE fixtures */

/* Rows in the exact layout of the GLUE download (train, dev, test). */
static void glue_fixtures(void)
{
    const char *cola = "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one "
                       "we propose.\n"
                       "gj04\t1\t\tOne more pseudo generalization and I'm giving up.\n"
                       "gj04\t0\t*\tThey drank the pub.\n";
    put("CoLA/train.tsv", cola, 0);
    put("CoLA/dev.tsv", "gj04\t0\t*\t\"Mary said \"that's it.\n", 0);
    put("CoLA/test.tsv", "index\tsentence\n0\tBill whistled past the house.\n", 0);

    put("SST-2/train.tsv",
        "sentence\tlabel\n"
        "hide new secretions from the parental units \t0\n"
        "contains no wit , only labored gags \t0\n"
        "that loves its characters and communicates something rather beautiful about human "
        "nature \t1\n"
        "\" the emperor 's new clothes \" is a fun ride \t1\n",
        0);
    put("SST-2/dev.tsv", "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n",
        0);
    put("SST-2/test.tsv", "index\tsentence\n0\tuneasy mishmash of styles and genres .\n", 0);

    put("MRPC/train.tsv",
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        "1\t702876\t702977\tAmrozi accused his brother , whom he called \" the witness \" , of "
        "deliberately distorting his evidence .\tReferring to him as only \" the witness \" , "
        "Amrozi accused his brother of deliberately distorting his evidence .\n"
        "0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway in "
        "1998 for $ 2.5 billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million and sold "
        "it to Safeway for $ 1.8 billion in 1998 .\n",
        0);
    put("MRPC/dev.tsv",
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        "1\t1355540\t1355592\tHe said the foodservice pie business doesn 't fit the company 's "
        "long-term growth strategy .\t\" The foodservice pie business does not fit our "
        "long-term growth strategy .\n",
        0);
    put("MRPC/test.tsv",
        "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        "0\t1089874\t1089925\tPCCW 's chief operating officer , Mike Butcher , and Alex Arena , "
        "the chief financial officer , will report directly to Mr So .\tCurrent Chief Operating "
        "Officer Mike Butcher and Group Chief Financial Officer Alex Arena will report to So .\n",
        0);

    put("QQP/train.tsv",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "133273\t213221\t213222\tHow is the life of a math student? Could you describe your own "
        "experiences?\tWhich level of prepration is enough for the exam jlpt5?\t0\n"
        "402555\t536040\t536041\tHow do I control my horny emotions?\tHow do you control your "
        "horniness?\t1\n",
        0);
    put("QQP/dev.tsv",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics so "
        "beautiful?\t0\n",
        0);
    put("QQP/test.tsv",
        "id\tquestion1\tquestion2\n0\tWould the idea of Trump and Putin in bed together scare "
        "you, given the geopolitical implications?\tDo you think that if Donald Trump were "
        "elected President, he would be able to restore relations with Putin and Russia?\n",
        0);

    const char *sts_head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1"
                           "\tsentence2\tscore\n";
    char buf[1024];
    snprintf(buf, sizeof buf,
             "%s0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn "
             "air plane is taking off.\t5.000\n"
             "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large "
             "flute.\tA man is playing a flute.\t3.800\n",
             sts_head);
    put("STS-B/train.tsv", buf, 0);
    snprintf(buf, sizeof buf,
             "%s0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is "
             "dancing.\tA man wearing a hard hat is dancing.\t5.000\n",
             sts_head);
    put("STS-B/dev.tsv", buf, 0);
    put("STS-B/test.tsv",
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n"
        "0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her hair.\tA "
        "girl is brushing her hair.\n",
        0);

    put("MNLI/train.tsv",
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
        "0\t31193\t31193n\tgovernment\t( ( Conceptually ( cream skimming ) ) ( ( has ( ( ( two "
        "( basic dimensions ) ) - ) ( ( product and ) geography ) ) ) . ) )\t( ( ( Product and ) "
        "geography ) ( ( are ( what ( make ( cream ( skimming work ) ) ) ) ) . ) )\t(ROOT (S (NP "
        "(JJ Conceptually) (NN cream) (NN skimming)) (VP (VBZ has)) (. .)))\t(ROOT (S (NP (NN "
        "Product)) (. .)))\tConceptually cream skimming has two basic dimensions - product and "
        "geography.\tProduct and geography are what make cream skimming work. \tneutral\tneutral\n"
        "1\t101457\t101457e\ttelephone\t( you ( ( know ( during ( ( ( the season ) and ) ( i "
        "guess ) ) ) ) ) )\t( You ( ( ( ( lose ( the things ) ) ) ) ) )\t(ROOT (S (NP (PRP "
        "you))))\t(ROOT (S (NP (PRP You))))\tyou know during the season and i guess at at your "
        "level uh you lose them to the next level\tYou lose the things to the following level "
        "if the people recall.\tentailment\tentailment\n",
        0);
    const char *mnli_dev_head =
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\t"
        "label5\tgold_label\n";
    snprintf(buf, sizeof buf,
             "%s0\t63735\t63735n\tslate\t( ( The ( new rights ) ) )\t( Everyone ( really likes ) "
             ")\t(ROOT (S))\t(ROOT (S))\tThe new rights are nice enough\tEveryone really likes the "
             "newest benefits \tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n",
             mnli_dev_head);
    put("MNLI/dev_matched.tsv", buf, 0);
    snprintf(buf, sizeof buf,
             "%s0\t75290\t75290c\tletters\t( ( Your contribution ) )\t( ( Your contribution ) )\t"
             "(ROOT (S))\t(ROOT (S))\tYour contribution helped make it possible for us to provide "
             "our students with a quality education.\tYour contributions were of no help with our "
             "students' education.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\t"
             "contradiction\tcontradiction\n"
             "1\t133794\t133794c\tverbatim\t( ( The answer ) )\t( ( The answer ) )\t(ROOT (S))\t"
             "(ROOT (S))\tThe answer has nothing to do with their cause, however, but with the "
             "simple fact that dictionaries are not exercises in bi-unique substitutability.\tThe "
             "answer is based on their cause.\tcontradiction\tcontradiction\tcontradiction\t"
             "contradiction\tcontradiction\tcontradiction\n",
             mnli_dev_head);
    put("MNLI/dev_mismatched.tsv", buf, 0);
    put("MNLI/test_matched.tsv",
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\n"
        "0\t31349\t31349\tgovernment\t( ( Hierbas ) )\t( ( Hierbas ) )\t(ROOT (S))\t(ROOT (S))\t"
        "Hierbas, ans seco, ans dulce, and frigola are just a few names worth keeping a look-out "
        "for.\tHierbas is a name worth looking out for.\n",
        0);

    put("QNLI/train.tsv",
        "index\tquestion\tsentence\tlabel\n"
        "0\tWhen did the third Digimon series begin?\tUnlike the two seasons before it and most "
        "of the seasons that followed, Digimon Tamers takes a darker and more realistic approach "
        "to its story.\tnot_entailment\n"
        "1\tWhich missile batteries often have individual launchers several kilometres from one "
        "another?\tWhen MANPADS is operated by specialists, batteries may have several dozen "
        "teams deploying separately in small sections; self-propelled air defence guns may "
        "deploy in pairs.\tnot_entailment\n",
        0);
    put("QNLI/dev.tsv",
        "index\tquestion\tsentence\tlabel\n0\tWhat came into force after the new constitution "
        "was herald?\tAs of that day, the new constitution heralding the Second Republic came "
        "into force.\tentailment\n",
        0);

    put("RTE/train.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tNo Weapons of Mass Destruction Found in Iraq "
        "Yet.\tWeapons of Mass Destruction Found in Iraq.\tnot_entailment\n"
        "1\tA place of sorrow, after Pope John Paul II died, became a place of celebration, as "
        "Roman Catholic faithful gathered in downtown Chicago to mark the installation of new "
        "Pope Benedict XVI.\tPope Benedict XVI is the new leader of the Roman Catholic "
        "Church.\tentailment\n",
        0);
    put("RTE/dev.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tDana Reeve, the widow of the actor Christopher "
        "Reeve, has died of lung cancer at age 44, according to the Christopher Reeve "
        "Foundation.\tChristopher Reeve had an accident.\tnot_entailment\n",
        0);
    put("RTE/test.tsv",
        "index\tsentence1\tsentence2\n0\tMangla was summoned after Madhumita's sister Nidhi "
        "Shukla, who was the first witness in the case.\tShukla is related to Mangla.\n",
        0);

    put("WNLI/train.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin through a carrot. When I pulled "
        "the pin out, it had a hole.\tThe carrot had a hole.\t1\n"
        "1\tJohn couldn't see the stage with Billy in front of him because he is so short.\tJohn "
        "is so short.\t1\n"
        "2\tThe police arrested all of the gang members. They were trying to stop the drug "
        "trade in the neighborhood.\tThe police were trying to stop the drug trade in the "
        "neighborhood.\t1\n"
        "3\tSteve follows Fred's example in everything. He influences him hugely.\tSteve "
        "influences him hugely.\t0\n",
        0);
    put("WNLI/dev.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged with hair. It has to be "
        "cleaned.\tThe hair has to be cleaned.\t0\n",
        0);
}

START_TEST(test_glue_all_tasks)
{
    glue_fixtures();
    struct task_params p;
    task_params_init(&p);
    p.data_dir = tdir;
    struct task_data t;
    struct err e = {0};
    static const struct {
        const char *name;
        size_t ntrain, ndev, ntest, ndev_mm;
        bool test_present;
    } want[] = {
        {"cola", 3, 1, 1, 0, true},  {"sst2", 4, 1, 1, 0, true}, {"mrpc", 2, 1, 1, 0, true},
        {"qqp", 2, 1, 1, 0, true},   {"stsb", 2, 1, 1, 0, true}, {"mnli", 2, 1, 1, 2, true},
        {"qnli", 2, 1, 0, 0, false}, {"rte", 2, 1, 1, 0, true},  {"wnli", 4, 1, 0, 0, false}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int rc = load(want[i].name, &p, &t, &e);
        ck_assert_msg(rc == 0, "%s: %s", want[i].name, e.msg);
        ck_assert_uint_eq(t.train.n, want[i].ntrain);
        ck_assert_uint_eq(t.dev.n, want[i].ndev);
        ck_assert_uint_eq(t.test.n, want[i].ntest);
        ck_assert_uint_eq(t.dev_mm.n, want[i].ndev_mm);
        ck_assert(t.train.labeled && t.dev.labeled);
        if (want[i].test_present)
            ck_assert(!t.test.labeled);
        for (size_t k = 0; k < t.test.n; k++)
            ck_assert_int_eq(t.test.ex[k].label, -1);
        bool pair = t.kind != TASK_SINGLE;
        ck_assert_int_eq(t.train.ex[0].b != NULL, pair);
        task_data_free(&t);
    }

    ck_assert_int_eq(load("cola", &p, &t, &e), 0);
    ck_assert_str_eq(t.train.ex[2].a, "They drank the pub.");
    ck_assert_int_eq(t.train.ex[2].label, 0);
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_str_eq(t.dev.ex[0].a, "\"Mary said \"that's it."); /* literal quotes */
    ck_assert_str_eq(t.test.ex[0].a, "Bill whistled past the house.");
    ck_assert_uint_eq(t.train.ex[2].id, 3); /* line number */
    task_data_free(&t);

    ck_assert_int_eq(load("sst2", &p, &t, &e), 0);
    ck_assert_str_eq(t.train.ex[3].a, "\" the emperor 's new clothes \" is a fun ride ");
    ck_assert_int_eq(t.train.ex[3].label, 1);
    task_data_free(&t);

    ck_assert_int_eq(load("mrpc", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_ptr_nonnull(strstr(t.train.ex[0].b, "Referring to him"));
    ck_assert_str_eq(t.dev.ex[0].b, "\" The foodservice pie business does not fit our long-term "
                                    "growth strategy .");
    task_data_free(&t);

    ck_assert_int_eq(load("qqp", &p, &t, &e), 0);
    ck_assert_str_eq(t.train.ex[1].a, "How do I control my horny emotions?");
    ck_assert_int_eq(t.train.ex[1].label, 1);
    task_data_free(&t);

    ck_assert_int_eq(load("stsb", &p, &t, &e), 0);
    ck_assert_int_eq(t.kind, TASK_REGRESSION);
    ck_assert_double_eq_tol((double)t.train.ex[1].target, 3.8, 1e-6);
    ck_assert_str_eq(t.train.ex[1].b, "A man is playing a flute.");
    ck_assert(isnan(t.test.ex[0].target));
    task_data_free(&t);

    ck_assert_int_eq(load("mnli", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1); /* neutral */
    ck_assert_int_eq(t.train.ex[1].label, 0); /* entailment */
    ck_assert_str_eq(t.train.ex[1].b, "You lose the things to the following level if the people "
                                      "recall.");
    ck_assert_int_eq(t.dev.ex[0].label, 1);
    ck_assert_int_eq(t.dev_mm.ex[1].label, 2); /* contradiction */
    ck_assert_str_eq(t.test.ex[0].b, "Hierbas is a name worth looking out for.");
    task_data_free(&t);

    ck_assert_int_eq(load("qnli", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1); /* not_entailment */
    ck_assert_int_eq(t.dev.ex[0].label, 0);
    ck_assert_str_eq(t.dev.ex[0].a, "What came into force after the new constitution was herald?");
    task_data_free(&t);

    ck_assert_int_eq(load("rte", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[1].label, 0);
    task_data_free(&t);

    ck_assert_int_eq(load("wnli", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_str_eq(t.label_names[1], "entailment");
    ck_assert_int_eq(t.train.ex[3].label, 0);
    task_data_free(&t);
}
END_TEST

START_TEST(test_glue_errors)
{
    glue_fixtures();
    struct task_params p;
    task_params_init(&p);
    struct task_data t;
    struct err e = {0};
    ck_assert_int_eq(load("sst2", &p, &t, &e), ERR_CONFIG); /* no data_dir */
    ck_assert_ptr_nonnull(strstr(e.msg, "PEFTBENCH_DATA"));

    p.data_dir = tdir;
    ck_assert_int_eq(unlink(path_of("RTE/dev.tsv")), 0);
    ck_assert_int_eq(load("rte", &p, &t, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot read dev.tsv in"));
    ck_assert_ptr_nonnull(strstr(e.msg, path_of("RTE")));
    ck_assert_uint_eq(t.train.n, 0); /* left empty */

    /* a malformed row: wrong field count, then a bad label */
    put("SST-2/train.tsv", "sentence\tlabel\ngood\t1\ntoo\tmany\tfields\nbad label\t7\nok\t0\n", 0);
    ck_assert_int_eq(load("sst2", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "SST-2/train.tsv:3: expected 2 tab-separated fields"));
    p.skip_bad_rows = true;
    ck_assert_int_eq(load("sst2", &p, &t, &e), 0);
    ck_assert_uint_eq(t.train.n, 2);
    ck_assert_uint_eq(t.train.skipped, 2);
    task_data_free(&t);
    p.skip_bad_rows = false;
    put("SST-2/train.tsv", "sentence\tlabel\ngood\t1\nbad label\tpositive!\n", 0);
    ck_assert_int_eq(load("sst2", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "train.tsv:3: unknown label 'positive!'"));

    put("STS-B/train.tsv",
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tg\tf\ty\t1\tn\tn\ta\tb\tfive\n",
        0);
    ck_assert_int_eq(load("stsb", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "train.tsv:2: score 'five'"));

    put("QQP/dev.tsv", "id\tquestion_one\tquestion2\tis_duplicate\n", 0);
    ck_assert_int_eq(load("qqp", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "header has no column 'question1'"));
}
END_TEST

START_TEST(test_glue_subsample)
{
    char buf[8192] = "sentence\tlabel\n";
    for (int i = 0; i < 100; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "sentence number %d\t%d\n", i, i % 2);
    put("SST-2/train.tsv", buf, 0);
    put("SST-2/dev.tsv", buf, 0);
    struct task_params p;
    task_params_init(&p);
    p.data_dir = tdir;
    p.max_train = 10;
    p.seed = 7;
    struct task_data t1, t2, t3;
    struct err e = {0};
    ck_assert_int_eq(load("sst2", &p, &t1, &e), 0);
    ck_assert_int_eq(load("sst2", &p, &t2, &e), 0);
    p.seed = 8;
    ck_assert_int_eq(load("sst2", &p, &t3, &e), 0);
    ck_assert_uint_eq(t1.train.n, 10);
    ck_assert_uint_eq(t1.train.total, 100);
    ck_assert_uint_eq(t1.dev.n, 100); /* max_dev 0: all */
    bool differ = false;
    for (size_t i = 0; i < 10; i++) {
        ck_assert_str_eq(t1.train.ex[i].a, t2.train.ex[i].a);
        if (i > 0)
            ck_assert_uint_gt(t1.train.ex[i].id, t1.train.ex[i - 1].id); /* file order */
        differ |= strcmp(t1.train.ex[i].a, t3.train.ex[i].a) != 0;
    }
    ck_assert(differ);
    task_data_free(&t1);
    task_data_free(&t2);
    task_data_free(&t3);
}
END_TEST

Suite *glue_suite(void)
{
    Suite *s = suite_create("glue");
    TCase *tc = tcase_create("glue");
    tcase_add_checked_fixture(tc, tdir_setup, tdir_teardown);
    tcase_add_test(tc, test_glue_all_tasks);
    tcase_add_test(tc, test_glue_errors);
    tcase_add_test(tc, test_glue_subsample);
    suite_add_tcase(s, tc);
    return s;
}
