/* usage: the help text and exit statuses of every peftbench subcommand (see usage.h).  One
 * table, so `help CMD`, `CMD --help` and the usage printed after a bad argument agree. */
#include "harness/cli/usage.h"

#include <string.h>

#include "harness/pretrain/command.h"

struct usage_entry {
    const char *name;
    const char *text; /* "usage: ..." and a few lines of explanation */
    const char *exit; /* exit statuses, one line */
};

#define EXIT_STD "0 ok, 1 failed (I/O or a later error), 2 usage or unusable input"

static const struct usage_entry usages[] = {
    {"run",
     "usage: peftbench run SWEEP.yaml [--out DIR] [--threads N] [--trial K | --shard I/N]\n"
     "                     [--trial-id ID] [--no-csv] [--resume] [--skip-failed] [--dry-run]\n"
     "                     [--quiet] [--allow-large] [--strict] [key.path=value ...]\n"
     "  Trains every trial of the sweep not yet recorded in DIR (default results/<sweep>).\n"
     "  --trial K runs plan index K only (give it once: a repeated --trial is an error; use\n"
     "  --shard I/N to split a sweep).  key.path=value overrides a setting of the sweep file.\n",
     "0 every selected trial ok, 1 a trial failed, 2 unusable input (nothing trained), "
     "128+N killed by signal N (130 on Ctrl-C)"},
    {"plan",
     "usage: peftbench plan SWEEP.yaml [--out DIR] [--trial K | --shard I/N] [--allow-large]\n"
     "                      [--strict] [key.path=value ...]\n"
     "  Lists the sweep's trials with ids, parameter counts, cost and status; never trains.\n",
     "0 ok, 2 usage or unusable input"},
    {"collect",
     "usage: peftbench collect RESULTS_DIR\n"
     "  Rebuilds RESULTS_DIR/results.csv from RESULTS_DIR/trials/*.json.\n",
     EXIT_STD},
    {"plot",
     "usage: peftbench plot RESULTS_DIR|SWEEP.yaml [--results DIR] [--no-render]\n"
     "  Draws the sweep's plots: figures (gnuplot PNG and SVG) and summary.csv.\n",
     "0 ok, 1 reading results or writing a figure failed, 2 usage"},
    {"report",
     "usage: peftbench report RESULTS_DIR\n"
     "  Writes RESULTS_DIR/report.md and report.html (one self-contained page: sortable\n"
     "  trial table, summary with confidence intervals, figures): tables, best settings,\n"
     "  failures, figures.\n",
     EXIT_STD},
    {"compare",
     "usage: peftbench compare BASELINE.csv CURRENT.csv [--metric-tol 0.01] [--speed-tol 0.15]\n"
     "                         [--ratio-tol 0.10] [--sweep-speed-tol 0.10] [--mem-tol 0.10]\n"
     "                         [--allow-missing]\n"
     "  Speed is judged on throughput_ratio (against the bare reference step) when both files\n"
     "  have it (--ratio-tol), else on tok/s over the GEMM calibration (--speed-tol).\n",
     "0 no regression, 1 regression, 2 usage or unusable input"},
    {"history",
     "usage: peftbench history RESULTS_DIR... [--out ROOT] [--metric-tol 0.01] [--speed-tol 0.15]\n"
     "                         [--ratio-tol 0.10] [--sweep-speed-tol 0.10] [--mem-tol 0.10]\n"
     "                         [--allow-missing]\n"
     "  Appends each RESULTS_DIR's run to ROOT/history/ (one CSV per run, keyed by commit,\n"
     "  date and GEMM calibration; default ROOT results/nightly) and writes ROOT/history.html.\n"
     "  Appending a directory again is a no-op: replay a commit's results into the history.\n",
     EXIT_STD},
    {"ls",
     "usage: peftbench ls [DIR]\n"
     "  Lists every sweep under DIR (default results/): trials done, failed and still to run,\n"
     "  the last run and the best setting per task.\n",
     "0 ok, 2 DIR is not a directory"},
    {"slurm",
     "usage: peftbench slurm SWEEP.yaml [--out DIR] [--partition P] [--time T]\n"
     "                       [--cpus-per-task N] [--mem M] [--max-parallel K]\n"
     "                       [--trials-per-task N] [--extra 'sbatch options'] [--submit]\n"
     "                       [--skip-failed] [--allow-large] [--strict] [key.path=value ...]\n",
     "0 ok, 1 writing the script or sbatch failed, 2 usage or unusable input"},
    {"predict",
     "usage: peftbench predict [MODEL] --adapter DIR --out FILE\n"
     "         [--task NAME [--split dev|test|train|dev_mismatched] [--sweep FILE]\n"
     "          | --input FILE [--text-col NAME] [--text-b-col NAME]]\n"
     "         [--max-seq-len N] [--batch-size B] [--data-dir D] [--seed S --max-examples N]\n"
     "         [--merged] [--strict]\n",
     "0 done, 1 --strict or a failure while predicting or writing, 2 usage or unusable input"},
    {"export",
     "usage: peftbench export ADAPTER_DIR --format peft --out DIR [--model MODEL]\n"
     "  Writes a lora or ia3 adapter saved by `run` in Hugging Face PEFT's layout.\n",
     "0 written, 1 writing DIR failed, 2 usage or unusable input"},
    {"methods",
     "usage: peftbench methods [NAME]\n"
     "  Lists the PEFT methods with their hyperparameters (type, default, range); with NAME\n"
     "  only that method.\n",
     "0 ok, 2 unknown method"},
    {"tasks",
     "usage: peftbench tasks [NAME] [--data-dir DIR]\n"
     "  Lists the tasks with kind, labels, metrics and split sizes (DIR or $PEFTBENCH_DATA);\n"
     "  with NAME only that task.\n",
     "0 ok, 2 usage or unknown task"},
    {"init-model",
     "usage: peftbench init-model DIR --vocab FILE [--layers L] [--hidden D] [--heads H]\n"
     "                            [--ffn F] [--max-pos P] [--seed S]\n",
     EXIT_STD},
    {"pretrain",
     "usage: peftbench pretrain CONFIG.yaml [--out DIR] [--threads N] [--force] [--quiet]\n"
     "  Builds a BERT by masked-language-model pretraining into DIR (default\n"
     "  " PRETRAIN_MODEL_DIR "/<name>); an up-to-date DIR is reused unless --force.\n",
     EXIT_STD},
    {"bench",
     "usage: peftbench bench [--size tiny|small|base]... [--dims L,D,H,F,V] [--method NAME|all]...\n"
     "                       [--threads N]... [--batch B] [--seq T] [--warmup W] [--repeats R]\n"
     "                       [--torch [--torch-script PATH] [--python PATH]] [--all-rows]\n"
     "                       [--precision fp32|bf16|both]\n"
     "  default: sizes tiny and small; methods full head bare-bwd lora ia3 houlsby pfeiffer\n"
     "  prefix compacter at their defaults; 2 and 1 threads; batch 32 x 128.  --torch also runs the\n"
     "  PyTorch reference (harness/bench/bert_peft_ref.py with Debian's python3-torch).  --all-rows runs\n"
     "  the last layer for every token, as if the head read more than [CLS] (for comparison).\n"
     "  --precision bf16 (or both: one table, bf16 rows beside fp32) measures bf16 mixed precision\n"
     "  (oneDNN; needs AVX512_BF16) with its own goals against fp32.\n",
     EXIT_STD},
    {"demo",
     "usage: peftbench demo [--config SWEEP.yaml]\n"
     "  Pretrains tiny-bert if needed, then runs configs/quickstart.yaml.\n",
     "0 ok, 1 a step failed, 2 usage"},
    {"version", "usage: peftbench version\n", "0"},
    {"help",
     "usage: peftbench help [CMD]\n"
     "  Lists the commands, or prints CMD's usage (as `peftbench CMD --help` or `-h` does).\n",
     "0 ok, 2 unknown command"},
};

static const struct usage_entry *find(const char *name)
{
    for (size_t i = 0; name && i < sizeof usages / sizeof *usages; i++)
        if (strcmp(usages[i].name, name) == 0)
            return &usages[i];
    return NULL;
}

const char *usage_text(const char *name)
{
    const struct usage_entry *u = find(name);
    return u ? u->text : NULL;
}

const char *usage_exit_codes(const char *name)
{
    const struct usage_entry *u = find(name);
    return u ? u->exit : NULL;
}

void usage_print(FILE *out, const char *name, const char *summary)
{
    const struct usage_entry *u = find(name);
    if (u)
        fputs(u->text, out);
    else
        fprintf(out, "usage: peftbench %s [options]\n", name);
    if (summary)
        fprintf(out, "  %s\n", summary);
    fprintf(out, "exit status: %s\n", u ? u->exit : EXIT_STD);
}

bool usage_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}
