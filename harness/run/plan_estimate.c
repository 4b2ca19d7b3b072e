/*
 * plan_estimate: wall-time estimate of the trials still to run (harness/run/plan_estimate.h).
 */
#include "harness/run/plan_estimate.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"

/* The wall time of one recorded trial (ok or diverged: a failed one stopped early). */
struct timed {
    char method[128], task[64];
    double seconds;
};

/* Append the record of trials/NAME (NAME = "<id>.json") to *v when it is timed. */
static void add_record(const char *out_dir, const char *name, struct timed **v, size_t *n,
                       size_t *cap)
{
    size_t len = strlen(name);
    if (len < 6 || len - 5 > SWEEP_ID_LEN || strcmp(name + len - 5, ".json") != 0)
        return;
    char id[SWEEP_ID_LEN + 1];
    snprintf(id, sizeof id, "%.*s", (int)(len - 5), name);
    struct err e;
    err_clear(&e);
    cJSON *j = results_read_trial(out_dir, id, &e);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "wall_seconds");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "method");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "task");
    bool timed = cJSON_IsString(st) && strcmp(st->valuestring, "failed") != 0 &&
                 cJSON_IsNumber(w) && isfinite(w->valuedouble) && w->valuedouble >= 0 &&
                 cJSON_IsString(m) && cJSON_IsString(t);
    if (timed && *n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        struct timed *nv = realloc(*v, nc * sizeof *nv);
        timed = nv != NULL;
        if (nv) {
            *v = nv;
            *cap = nc;
        }
    }
    if (timed) {
        struct timed *r = &(*v)[(*n)++];
        snprintf(r->method, sizeof r->method, "%s", m->valuestring);
        snprintf(r->task, sizeof r->task, "%s", t->valuestring);
        r->seconds = w->valuedouble;
    }
    cJSON_Delete(j);
}

/* Every timed record of out_dir/trials/ into *v (malloc'ed); returns their count. */
static size_t read_timed(const char *out_dir, struct timed **v)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/trials", out_dir);
    size_t n = 0, cap = 0;
    *v = NULL;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        add_record(out_dir, de->d_name, v, &n, &cap);
    closedir(d);
    return n;
}

/* Mean seconds of the records of t's method and task, else of all n records. */
static double trial_seconds(const struct trial *t, const struct timed *v, size_t n, double all)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].method, t->label) == 0 && strcmp(v[i].task, t->task) == 0) {
            sum += v[i].seconds;
            k++;
        }
    return k ? sum / (double)k : all;
}

void plan_estimate_print(FILE *out, const char *out_dir, const struct trial *const *todo,
                         size_t n)
{
    if (n == 0) {
        fprintf(out, "estimated remaining: nothing to run\n");
        return;
    }
    struct timed *v;
    size_t nv = read_timed(out_dir, &v);
    if (nv == 0) {
        fprintf(out, "no estimate (no recorded trials)\n");
        free(v);
        return;
    }
    double all = 0, total = 0;
    for (size_t i = 0; i < nv; i++)
        all += v[i].seconds;
    all /= (double)nv;
    for (size_t i = 0; i < n; i++)
        total += trial_seconds(todo[i], v, nv, all);
    fprintf(out, "estimated remaining: ~%.0f min (from %zu recorded trials)\n",
            ceil(total / 60.0), nv);
    free(v);
}
