#include "harness/sweep/results.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/readfile.h"
#include "base/version.h"
#include "methods/registry.h"
#include "base/strbuf.h"

#ifndef PEFTBENCH_GIT
#define PEFTBENCH_GIT "unknown"
#endif

#define RESULTS_MAX_RECORD ((long)16 << 20)

/* ---- files ----------------------------------------------------------------- */

int results_mkdirs(const char *path, struct err *e)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ERR_SET(e, ERR_LIMIT, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ERR_SET(e, ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    return ERR_OK;
}


void results_fault_pause(void)
{
    fileio_fault_pause();
}

int results_write_atomic(const char *path, const char *text, size_t len, struct err *e)
{
    return fileio_write_atomic(path, text, len, e);
}

int results_write_trial(const char *out_dir, const cJSON *record, struct err *e)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(record, "trial_id");
    if (!cJSON_IsString(id))
        return ERR_SET(e, ERR_STATE, "trial record without trial_id");
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/trials", out_dir);
    if (results_mkdirs(dir, e))
        return e->code;
    snprintf(path, sizeof path, "%s/%s.json", dir, id->valuestring);
    char *text = cJSON_Print(record);
    if (!text)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing %s", path);
    int rc = results_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

static char *slurp(const char *path, long max, struct err *e)
{
    FILE *f;
    if (readfile_fopen(path, &f, e)) /* a FIFO named like a record would block forever */
        return NULL;
    /* Grow as the file turns out longer instead of allocating max up front: a record is a few
     * KiB, and results_rebuild_csv reads every one of them after each trial. */
    size_t cap = (size_t)1 << 16, n = 0;
    char *buf = NULL;
    for (;;) {
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            fclose(f);
            ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
            return NULL;
        }
        buf = nb;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap > (size_t)max) /* end of file (or an error), or one byte past max */
            break;
        cap = cap * 2 > (size_t)max + 1 ? (size_t)max + 1 : cap * 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (n > (size_t)max || bad) {
        free(buf);
        if (bad)
            ERR_SET(e, ERR_IO, "%s: read error", path);
        else
            ERR_SET(e, ERR_LIMIT, "%s: larger than %ld bytes", path, max);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static cJSON *read_record(const char *path, struct err *e)
{
    char *text = slurp(path, RESULTS_MAX_RECORD, e);
    if (!text)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j || !cJSON_IsObject(j) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "trial_id")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "status"))) {
        cJSON_Delete(j);
        ERR_SET(e, ERR_FORMAT, "%s: not a peftbench trial record (corrupt or truncated JSON)",
                path);
        return NULL;
    }
    return j;
}

cJSON *results_read_trial(const char *out_dir, const char *id, struct err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/trials/%s.json", out_dir, id);
    return read_record(path, e);
}

bool results_trial_done(const char *out_dir, const char *id, bool retry_failed)
{
    struct err e;
    cJSON *j = results_read_trial(out_dir, id, &e);
    if (!j)
        return false;
    /* read_record refused a record without a string status (not done: the trial runs
     * again and its record is rewritten whole). */
    const char *st = cJSON_GetObjectItemCaseSensitive(j, "status")->valuestring;
    bool done = strcmp(st, "ok") == 0 || strcmp(st, "diverged") == 0 ||
                (!retry_failed && strcmp(st, "failed") == 0);
    cJSON_Delete(j);
    return done;
}

/* ---- CSV --------------------------------------------------------------------------- */

/* Fixed columns and where each comes from in a record (dotted path). */
static const char *const fixed[][2] = {
    {"sweep", "sweep"},
    {"trial_id", "trial_id"},
    {"index", "index"},
    {"status", "status"},
    {"task", "task"},
    {"method", "method"},
    {"seed", "seed"},
    {"model", "model"},
    {"primary_metric", "primary_metric"},
    {"primary_value", "primary_value"},
    {"accuracy", "metrics.accuracy"},
    {"f1", "metrics.f1"},
    {"macro_f1", "metrics.macro_f1"},
    {"mcc", "metrics.mcc"},
    {"pearson", "metrics.pearson"},
    {"spearman", "metrics.spearman"},
    {"acc_f1", "metrics.acc_f1"},
    {"pearson_spearman", "metrics.pearson_spearman"},
    {"test_primary_value", "test.primary_value"},
    {"heldout_primary_value", "heldout.primary_value"},
    {"tuned", "tuned"},
    {"majority_fraction", "majority_fraction"},
    {"params_method", "params.method"},
    {"params_head", "params.head"},
    {"params_trainable", "params.trainable"},
    {"params_stored", "params.stored"},
    {"params_total", "params.total"},
    {"trainable_pct", "params.trainable_pct"},
    {"best_epoch", "best_epoch"},
    {"epochs_run", "epochs_run"},
    {"steps", "steps"},
    {"final_train_loss", "final_train_loss"},
    {"train_tokens_per_s", "throughput.train_tokens_per_s"},
    {"eval_tokens_per_s", "throughput.eval_tokens_per_s"},
    {"merged_tokens_per_s", "throughput.merged_tokens_per_s"},
    {"throughput_ratio", "throughput.ratio"},
    {"mem_frozen", "memory.frozen"},
    {"mem_trainable", "memory.trainable"},
    {"mem_grads", "memory.grads"},
    {"mem_optimizer", "memory.optimizer"},
    {"mem_activations", "memory.activations"},
    {"mem_workspace", "memory.workspace"},
    {"mem_peak_total", "memory.peak_total"},
    {"peak_rss", "memory.peak_rss"},
    {"wall_seconds", "wall_seconds"},
    {"calibration_gflops", "calibration_gflops"},
    {"diverged_step", "diverged_step"},
    {"message", "message"},
    {"version", "environment.version"},
    {"git_commit", "environment.git_commit"},
    {"started_at", "started_at"},
    {"precision", "train.precision"}, /* fp32 | bf16; empty in records older than the setting */
};
#define NFIXED (sizeof fixed / sizeof *fixed)

const char *const results_fixed_columns[] = {
    "sweep", "trial_id", "index", "status", "task", "method", "seed", "model",
    "primary_metric", "primary_value", "accuracy", "f1", "macro_f1", "mcc", "pearson",
    "spearman", "acc_f1", "pearson_spearman", "test_primary_value", "heldout_primary_value",
    "tuned", "majority_fraction",
    "params_method", "params_head", "params_trainable", "params_stored", "params_total",
    "trainable_pct", "best_epoch", "epochs_run", "steps", "final_train_loss", "train_tokens_per_s",
    "eval_tokens_per_s", "merged_tokens_per_s", "throughput_ratio", "mem_frozen", "mem_trainable", "mem_grads",
    "mem_optimizer", "mem_activations", "mem_workspace", "mem_peak_total", "peak_rss",
    "wall_seconds", "calibration_gflops", "diverged_step", "message", "version",
    "git_commit", "started_at", "precision", NULL,
};

static const cJSON *at_path(const cJSON *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
        j = cJSON_GetObjectItemCaseSensitive(j, tok);
    return j;
}

static void csv_value(struct strbuf *b, const cJSON *v)
{
    char num[64];
    if (cJSON_IsString(v)) {
        strbuf_csv(b, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            snprintf(num, sizeof num, "%.0f", d);
        else
            snprintf(num, sizeof num, "%.9g", d);
        strbuf_str(b, num);
    } else if (cJSON_IsBool(v)) {
        strbuf_str(b, cJSON_IsTrue(v) ? "true" : "false");
    }
    /* null / absent: empty field (NaN is stored as null) */
}

/* ---- records of a directory ------------------------------------------------------- */

struct recs {
    cJSON **r;
    size_t n, cap;
};

static int cmp_rec(const void *a, const void *b)
{
    const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(x, "index");
    const cJSON *iy = cJSON_GetObjectItemCaseSensitive(y, "index");
    double dx = cJSON_IsNumber(ix) ? ix->valuedouble : 1e18;
    double dy = cJSON_IsNumber(iy) ? iy->valuedouble : 1e18;
    if (dx != dy)
        return dx < dy ? -1 : 1;
    return strcmp(cJSON_GetObjectItemCaseSensitive(x, "trial_id")->valuestring,
                  cJSON_GetObjectItemCaseSensitive(y, "trial_id")->valuestring);
}

static bool is_record_name(const char *name)
{
    size_t n = strlen(name);
    return n == 21 && strcmp(name + 16, ".json") == 0 && strspn(name, "0123456789abcdef") == 16;
}

static int load_records(const char *out_dir, struct recs *rs, struct err *e)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/trials", out_dir);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? ERR_OK
                               : ERR_SET(e, ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    int rc = ERR_OK;
    for (struct dirent *de; rc == ERR_OK && (de = readdir(d));) {
        if (!is_record_name(de->d_name))
            continue; /* temporary files of writers in flight, and anything else */
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        cJSON *j = read_record(path, e);
        if (!j) {
            rc = e->code;
            break;
        }
        if (rs->n == rs->cap) {
            size_t cap = rs->cap ? 2 * rs->cap : 64;
            cJSON **r = realloc(rs->r, cap * sizeof *r);
            if (!r) {
                cJSON_Delete(j);
                rc = ERR_SET(e, ERR_NOMEM, "out of memory reading %s", dir);
                break;
            }
            rs->r = r;
            rs->cap = cap;
        }
        rs->r[rs->n++] = j;
    }
    closedir(d);
    if (rs->n > 1)
        qsort(rs->r, rs->n, sizeof *rs->r, cmp_rec);
    return rc;
}

static void free_records(struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        cJSON_Delete(rs->r[i]);
    free(rs->r);
}

/* Hyperparameter of method `m` named `p` in a record, or NULL. */
static const cJSON *rec_hparam(const cJSON *rec, const char *m, const char *p)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, "methods"), *it;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "method");
        if (cJSON_IsString(name) && strcmp(name->valuestring, m) == 0)
            return cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(it, "hparams"), p);
    }
    return NULL;
}

static bool any_has_train_key(const struct recs *rs, const char *key)
{
    for (size_t i = 0; i < rs->n; i++)
        if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rs->r[i], "train"),
                                             key))
            return true;
    return false;
}

static const char *const train_keys[] = {
    "epochs",      "batch_size",     "eval_batch_size", "max_seq_len", "lr",
    "warmup_ratio", "weight_decay",  "grad_clip",       "adam_beta1",  "adam_beta2",
    "adam_eps",    "early_stopping", "eval_test",       "max_train",   "max_dev",
    "max_test",    "max_steps",      "dropout",
};

#define NTRAIN_KEYS (sizeof train_keys / sizeof *train_keys)

/* The optional columns present in a set of records.  Found once per rebuild: asking "does any
 * record have it?" again for every row made a rebuild O(records^2) (minutes at a few thousand
 * trials), and the CSV is rebuilt after every trial. */
struct csv_cols {
    bool train[NTRAIN_KEYS];
    bool (*hp)[HP_MAX]; /* owned: (registry_count()) [hyperparameter index] */
};

static int csv_cols_find(struct csv_cols *c, const struct recs *rs)
{
    c->hp = calloc((size_t)(registry_count() ? registry_count() : 1), sizeof *c->hp);
    if (!c->hp)
        return -1;
    for (size_t k = 0; k < NTRAIN_KEYS; k++)
        c->train[k] = any_has_train_key(rs, train_keys[k]);
    for (int m = 0; m < registry_count(); m++) {
        const struct method_ops *ops = registry_at(m);
        for (int p = 0; p < ops->nhps && p < HP_MAX; p++)
            for (size_t i = 0; i < rs->n && !c->hp[m][p]; i++)
                c->hp[m][p] = rec_hparam(rs->r[i], ops->name, ops->hps[p].name) != NULL;
    }
    return 0;
}

static void csv_header(struct strbuf *b, const struct csv_cols *cols)
{
    for (size_t c = 0; c < NFIXED; c++) {
        strbuf_str(b, c ? "," : "");
        strbuf_str(b, fixed[c][0]);
    }
    for (size_t k = 0; k < NTRAIN_KEYS; k++)
        if (cols->train[k]) {
            strbuf_str(b, ",train.");
            strbuf_str(b, train_keys[k]);
        }
    for (int m = 0; m < registry_count(); m++) {
        const struct method_ops *ops = registry_at(m);
        for (int p = 0; p < ops->nhps && p < HP_MAX; p++) {
            if (!cols->hp[m][p])
                continue;
            strbuf_str(b, ",");
            strbuf_str(b, ops->name);
            strbuf_str(b, ".");
            strbuf_str(b, ops->hps[p].name);
        }
    }
    strbuf_str(b, "\n");
}

/* A record's value of fixed column c; diverged_step only for a diverged trial (records
 * written before that rule keep a 0 there for ok trials). */
static const cJSON *fixed_value(const cJSON *rec, size_t c)
{
    if (strcmp(fixed[c][0], "diverged_step") == 0) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");
        if (!cJSON_IsString(st) || strcmp(st->valuestring, "diverged") != 0)
            return NULL;
    }
    return at_path(rec, fixed[c][1]);
}

static void csv_row(struct strbuf *b, const struct csv_cols *cols, const cJSON *rec)
{
    for (size_t c = 0; c < NFIXED; c++) {
        strbuf_str(b, c ? "," : "");
        csv_value(b, fixed_value(rec, c));
    }
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(rec, "train");
    for (size_t k = 0; k < NTRAIN_KEYS; k++)
        if (cols->train[k]) {
            strbuf_str(b, ",");
            csv_value(b, cJSON_GetObjectItemCaseSensitive(train, train_keys[k]));
        }
    for (int m = 0; m < registry_count(); m++) {
        const struct method_ops *ops = registry_at(m);
        for (int p = 0; p < ops->nhps && p < HP_MAX; p++) {
            if (!cols->hp[m][p])
                continue;
            strbuf_str(b, ",");
            csv_value(b, rec_hparam(rec, ops->name, ops->hps[p].name));
        }
    }
    strbuf_str(b, "\n");
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Drop (free) the records whose trial_id is not in ids (sorted); returns how many. */
static size_t keep_plan(struct recs *rs, const char *const *sorted, size_t nids)
{
    size_t k = 0, dropped = 0;
    for (size_t i = 0; i < rs->n; i++) {
        const char *id = cJSON_GetObjectItemCaseSensitive(rs->r[i], "trial_id")->valuestring;
        if (bsearch(&id, sorted, nids, sizeof *sorted, cmp_id)) {
            rs->r[k++] = rs->r[i];
        } else {
            cJSON_Delete(rs->r[i]);
            dropped++;
        }
    }
    rs->n = k;
    return dropped;
}

int results_rebuild_csv(const char *out_dir, int *nrows, struct err *e)
{
    return results_rebuild_csv_plan(out_dir, NULL, 0, nrows, NULL, e);
}

int results_rebuild_csv_plan(const char *out_dir, const char *const *ids, size_t nids,
                             int *nrows, int *nother, struct err *e)
{
    struct recs rs = {0};
    struct strbuf b = {0};
    struct csv_cols cols = {0};
    int rc = load_records(out_dir, &rs, e);
    const char **sorted = NULL;
    if (nother)
        *nother = 0;
    if (rc == ERR_OK && ids) {
        sorted = malloc((nids ? nids : 1) * sizeof *sorted);
        if (!sorted)
            rc = ERR_SET(e, ERR_NOMEM, "out of memory building results.csv");
    }
    if (rc == ERR_OK && sorted) {
        memcpy(sorted, ids, nids * sizeof *sorted);
        qsort(sorted, nids, sizeof *sorted, cmp_id);
        size_t dropped = keep_plan(&rs, sorted, nids);
        if (nother)
            *nother = (int)dropped;
    }
    free(sorted);
    if (rc == ERR_OK && csv_cols_find(&cols, &rs) != 0)
        rc = ERR_SET(e, ERR_NOMEM, "out of memory building results.csv");
    if (rc == ERR_OK) {
        csv_header(&b, &cols);
        for (size_t i = 0; i < rs.n; i++)
            csv_row(&b, &cols, rs.r[i]);
        if (b.oom)
            rc = ERR_SET(e, ERR_NOMEM, "out of memory building results.csv");
    }
    free(cols.hp);
    if (rc == ERR_OK) {
        char path[4200];
        snprintf(path, sizeof path, "%s/results.csv", out_dir);
        rc = results_write_atomic(path, b.p, b.n, e);
    }
    if (nrows)
        *nrows = (int)rs.n;
    free(b.p);
    free_records(&rs);
    return rc;
}

/* ---- environment ------------------------------------------------------------------ */

static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

cJSON *results_environment(void)
{
    cJSON *env = cJSON_CreateObject();
    char host[256] = "unknown", cpu[256];
    gethostname(host, sizeof host - 1);
    cpu_model(cpu, sizeof cpu);
    const char *core = getenv("OPENBLAS_CORETYPE");
    cJSON_AddStringToObject(env, "version", PEFTBENCH_VERSION);
    cJSON_AddStringToObject(env, "git_commit", PEFTBENCH_GIT);
    cJSON_AddStringToObject(env, "compiler", "gcc " __VERSION__);
    cJSON_AddStringToObject(env, "openblas", openblas_get_config());
    cJSON_AddStringToObject(env, "openblas_coretype", core ? core : "");
    cJSON_AddNumberToObject(env, "threads", omp_get_max_threads());
    cJSON_AddStringToObject(env, "cpu", cpu);
    cJSON_AddStringToObject(env, "host", host);
    return env;
}
