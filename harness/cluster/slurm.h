/*
 * slurm: `peftbench slurm`, a sweep as a Slurm job array.  peftbench does not
 * schedule anything itself: it writes batch scripts and (with --submit) calls sbatch.
 *
 *   DIR/slurm/array.<stamp>.map   the trials not yet done when the array was planned, one
 *                                 line each: array index, plan index, trial id.  Never
 *                                 rewritten, so editing the sweep cannot shift trials under
 *                                 an array that is still running.
 *   DIR/slurm/array.sbatch        the job array (--array=0-(n-1)%K): task i runs the trials
 *                                 of the map lines whose array index is i, each with
 *                                 `run --trial P --trial-id ID --no-csv` (run refuses an id
 *                                 that is no longer at P); threads from SLURM_CPUS_PER_TASK;
 *                                 Slurm's warning SIGTERM (--signal=B:TERM@SLURM_SIGNAL_SECONDS)
 *                                 is passed on to the trial, which records nothing.
 *   DIR/slurm/collect.sbatch      `collect DIR` then `plot DIR`, submitted with
 *                                 --dependency=afterany:<array job> (a plot failure is logged
 *                                 and does not fail the job: results.csv is complete).
 *   DIR/slurm/logs/               array-<job>_<task>.out, collect-<job>.out
 *
 * Every path in the scripts is absolute (the binary from /proc/self/exe), and every
 * value is quoted: single quotes for the shell, double quotes with \" and \\ for
 * #SBATCH lines (sbatch's own tokenizer), %% for % in Slurm filename patterns.
 * Only a newline cannot be written; it is refused with an error naming the value.
 * Resubmitting (`peftbench slurm` again) plans only the trials still missing.
 */
#ifndef HARNESS_SLURM_H
#define HARNESS_SLURM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "harness/sweep/sweep.h"

#define SLURM_SIGNAL_SECONDS 120  /* warning SIGTERM before the time limit: > one train step */
#define SLURM_ARRAY_WARN     1000 /* above this many tasks, mention MaxArraySize */

struct slurm_opts {
    const char *sweep_path;
    const char *out_dir;   /* NULL: results/<sweep name> */
    const char *partition; /* NULL: the cluster's default partition */
    const char *time;      /* NULL: the partition's default time limit */
    const char *mem;       /* NULL: the partition's default memory */
    int cpus_per_task;     /* >= 1; also the OpenMP/OpenBLAS threads of each trial */
    int max_parallel;      /* 0: no limit; else the array's %K throttle */
    int trials_per_task;   /* >= 1: trials run one after another by each array task */
    const char *extra;     /* NULL, or more sbatch options, split like a shell command */
    bool submit;           /* call sbatch (else print the commands) */
    bool skip_failed;      /* leave trials recorded as failed alone (default: resubmit them,
                            * like `run`: the usual cause, a bad path, has been fixed) */
    bool allow_large;
    bool strict;           /* every trial runs with --strict (NaN/Inf weights are an error) */
    const char *const *overrides; /* key.path=value, passed on to every `run` */
    int noverrides;
    const char *exe; /* NULL: this program (/proc/self/exe); must be absolute */
};

/* Everything a script says, resolved.  Paths are absolute; strings are borrowed. */
struct slurm_job {
    const struct slurm_opts *o; /* borrowed: resources, run flags, overrides */
    const char *exe;            /* the peftbench binary */
    const char *sweep;          /* the sweep file */
    const char *out_dir;        /* the results directory */
    const char *workdir;        /* --chdir: where `builtin:` models and relative paths resolve */
    const char *map;            /* the map file */
    const char *name;           /* the sweep name */
    const char *stamp;          /* when it was planned, e.g. 20250102T030405 */
    size_t ntrials;             /* trials in the map */
    size_t ntasks;              /* array tasks: ceil(ntrials / trials_per_task) */
    char **extra;               /* borrowed: (nextra) words of o->extra */
    int nextra;
};

/* s quoted for a POSIX shell: unchanged when it is made of [A-Za-z0-9_@%+=:,./-] and
 * not empty, else in single quotes with ' written as '\''.  Returns a malloc'ed
 * string (caller frees), NULL when out of memory. */
char *slurm_quote_shell(const char *s);

/* s quoted for an #SBATCH line: unchanged when it is not empty and has no blank, quote,
 * backslash or '#', else in double quotes with " and \ escaped by a backslash.  (A %
 * in a filename pattern is the caller's to double.)  Returns a malloc'ed string, NULL
 * when s holds a newline (no #SBATCH line can carry one) or out of memory. */
char *slurm_quote_directive(const char *s);

/* Split s into words like a shell does, without expansions: blanks separate,
 * '...' is literal, "..." honours \" \\ \$ \`, a backslash outside quotes escapes the
 * next character.  *words gets a malloc'ed array of *n malloc'ed strings (free with
 * slurm_free_words).  An unterminated quote is ERR_CONFIG naming s. */
int slurm_split_words(const char *s, char ***words, int *n, struct err *e);
void slurm_free_words(char **words, int n);

/* The plan indices of the trials of sw not recorded as done in out_dir/trials/
 * (results_trial_done), in plan order.  *idx gets a malloc'ed array (NULL when *n is 0). */
int slurm_select(const struct sweep *sw, const char *out_dir, bool retry_failed, size_t **idx,
                 size_t *n, struct err *e);

/* The map text: a comment line, then for k < n: "<k / per_task>\t<idx[k]>\t<trial id>\n".
 * Returns a malloc'ed string, NULL when out of memory. */
char *slurm_map_text(const struct sweep *sw, const size_t *idx, size_t n, int per_task,
                     const char *stamp);

/* The two scripts for job j.  Malloc'ed text, or NULL with e filled (a value holds a
 * newline, or out of memory). */
char *slurm_array_script(const struct slurm_job *j, struct err *e);
char *slurm_collect_script(const struct slurm_job *j, struct err *e);

/* `peftbench slurm`: load the sweep, select the missing trials, write the map and the
 * scripts under OUT/slurm/, then submit them (o->submit) or print the commands.
 * Returns the exit status: 0 ok (also when nothing is missing), 1 error. */
int slurm_main(const struct slurm_opts *o, FILE *out, FILE *errf);

#endif
