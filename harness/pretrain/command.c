/*
 * pretrain command: `peftbench pretrain` and builtin:NAME, with the signal handling they
 * share (contract in command.h).
 */
#include "harness/pretrain/command.h"

#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/strfmt.h"
#include "harness/pretrain/build.h"
#include "harness/pretrain/cache.h"
#include "harness/pretrain/config.h"

/* ---- signals ------------------------------------------------------------------------- */

static volatile sig_atomic_t pt_stop;

static void pt_on_signal(int sig)
{
    pt_stop = sig;
}

struct saved_signals {
    struct sigaction intr, term;
};

static void signals_install(struct saved_signals *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pt_on_signal;
    sigemptyset(&sa.sa_mask);
    pt_stop = 0;
    sigaction(SIGINT, &sa, &s->intr);
    sigaction(SIGTERM, &sa, &s->term);
}

static void signals_restore(const struct saved_signals *s)
{
    sigaction(SIGINT, &s->intr, NULL);
    sigaction(SIGTERM, &s->term, NULL);
}

int pretrain_builtin(const char *name, char *dir, size_t n, FILE *out, struct err *e)
{
    size_t len = strlen(name);
    bool ok = len > 0 && len < PRETRAIN_NAME_MAX && name[0] != '.';
    for (size_t i = 0; i < len && ok; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || strchr("-_.", name[i]);
    if (!ok)
        return ERR_SET(e, ERR_CONFIG,
                       "builtin:%.60s: a built-in model name is letters, digits, '-', '_' and "
                       "'.' (it names %s/NAME.yaml)",
                       name, PRETRAIN_CONFIG_DIR);
    char cfg[PRETRAIN_PATH_MAX];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", PRETRAIN_CONFIG_DIR, name);
    if ((size_t)snprintf(dir, n, "%s/%s", PRETRAIN_MODEL_DIR, name) >= n)
        return ERR_SET(e, ERR_LIMIT, "model directory path too long");
    struct stat sb;
    if (stat(cfg, &sb) != 0) {
        char list[512] = "";
        size_t o = 0;
        DIR *d = opendir(PRETRAIN_CONFIG_DIR);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0 && o < sizeof list)
                o = str_appendf(list, sizeof list, o, "%s%.*s", o ? ", " : "", (int)(l - 5),
                                de->d_name);
        }
        if (d)
            closedir(d);
        return ERR_SET(e, ERR_CONFIG,
                       "builtin:%s: no pretraining config %s (%s; run peftbench from the "
                       "repository root); built-in models: %s",
                       name, cfg, strerror(errno), o ? list : "none");
    }
    struct saved_signals ss;
    signals_install(&ss);
    struct pretrain_opts o = {out, out && isatty(fileno(out)), &pt_stop};
    bool built;
    int rc = pretrain_ensure(cfg, dir, &o, &built, e);
    signals_restore(&ss);
    if (rc && pt_stop) {
        /* Ctrl-C during the build: nothing was written.  End the way the signal would
         * have ended the command (status 128 + signal), after saying so. */
        int sig = (int)pt_stop;
        if (out)
            fprintf(out, "peftbench: %s\n", e->msg);
        fflush(NULL);
        signal(sig, SIG_DFL);
        raise(sig);
    }
    return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

static const char pretrain_usage[] =
    "usage: peftbench pretrain CONFIG.yaml [--out DIR] [--threads N] [--force] [--quiet]\n"
    "  builds a BERT by masked-language-model pretraining into DIR (default\n"
    "  " PRETRAIN_MODEL_DIR "/<name>); an up-to-date DIR is reused unless --force\n";

int pretrain_main(int argc, char **argv, FILE *out, FILE *errf)
{
    const char *path = NULL, *dir_opt = NULL;
    bool force = false, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--out") == 0 && v) {
            dir_opt = v, i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || end == v || t < 1 || t > 256) {
                fprintf(errf,
                        "peftbench pretrain: --threads expects an integer in [1, 256], "
                        "got '%s'\n",
                        v);
                return 2;
            }
            omp_set_num_threads((int)t);
            i++;
        } else if (strcmp(a, "--force") == 0) {
            force = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (a[0] != '-' && !path) {
            path = a;
        } else {
            fprintf(errf, "peftbench pretrain: unexpected argument '%s'\n%s", a, pretrain_usage);
            return 2;
        }
    }
    if (!path) {
        fprintf(errf, "%s", pretrain_usage);
        return 2;
    }
    struct err e;
    err_clear(&e);
    struct pretrain_cfg c;
    if (pretrain_cfg_load(&c, path, &e)) {
        fprintf(errf, "peftbench pretrain: %s\n", e.msg);
        return 1;
    }
    char dir[PRETRAIN_PATH_MAX];
    if (dir_opt)
        snprintf(dir, sizeof dir, "%s", dir_opt);
    else
        snprintf(dir, sizeof dir, "%s/%s", PRETRAIN_MODEL_DIR, c.name);
    while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
        dir[strlen(dir) - 1] = '\0';
    struct saved_signals ss;
    signals_install(&ss);
    FILE *o_out = quiet ? NULL : out;
    struct pretrain_opts o = {o_out, o_out && isatty(fileno(o_out)), &pt_stop};
    bool built = false;
    int rc = pretrain_ensure_cfg(&c, dir, &o, force, &built, &e);
    signals_restore(&ss);
    int status = 0;
    if (rc && pt_stop) {
        fprintf(errf, "peftbench pretrain: interrupted by signal %d; %s was not written\n",
                (int)pt_stop, dir);
        status = 128 + (int)pt_stop;
    } else if (rc) {
        fprintf(errf, "peftbench pretrain: %s\n", e.msg);
        status = 1;
    } else if (!built && !quiet) {
        fprintf(out, "peftbench pretrain: %s is up to date (config key %s); --force rebuilds\n",
                dir, c.key);
    }
    pretrain_cfg_free(&c);
    return status;
}
