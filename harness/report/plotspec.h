/*
 * plotspec: a figure spec -- one entry of a sweep's `plots:` list -- parsed and
 * checked against the YAML, before any results exist.  Column names are only
 * resolved against results.csv when the figures are made (plotcols.h); the
 * default figures are specs built in code (figures.h).
 *
 * Plot specs (the sweep's `plots:` list of mappings):
 *   output    figure name (file stem; [A-Za-z0-9._-]); default "<y>-vs-<x>"
 *             or "<type>-<y>".  Naming a default figure replaces it.
 *   type      line (default) | scatter | bar | curve
 *   x         line/scatter: a results.csv column: a measure (its mean over
 *             seeds is used), a hyperparameter ("lora.rank", or just "rank":
 *             every column named *.rank, first non-empty), task, method, ...
 *             Not used by bar and curve.
 *   y         a measure column (default primary_value); bar: a list stacks;
 *             curve: dev_primary (default) or train_loss.
 *   group_by  column or list: one series per distinct value (default method;
 *             "setting" is the setting's label).  Not used by bar.
 *   split_by  column or list: one figure per distinct value (default task,
 *             unless task is x or in group_by; [] for none).
 *   filter    mapping column: value or [values]: keep settings whose cell
 *             equals one of them (numbers compare numerically).
 *   logx, logy  true | false (default: automatic for x, off for y)
 *   errorbars ci95 (default: the 95% Student-t confidence interval of the
 *             mean over seeds) | std | sem | minmax | none.  `errors` is the
 *             older name of the same field.  A point backed by one seed has
 *             no error bar and is ringed; n is in the legend or the bar label.
 *   title, xlabel, ylabel   text
 *   enabled   false drops the figure (e.g. a default)
 * Unknown fields are errors naming file:line:col with a did-you-mean; column
 * names are checked against results.csv when the figures are made, with the
 * position of the spec field in the message.
 */
#ifndef HARNESS_PLOTSPEC_H
#define HARNESS_PLOTSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "harness/yaml/yaml.h"

#define PLOT_MAX_LIST   16 /* y columns, group_by/split_by columns, filter values */
#define PLOT_MAX_FILTER 8
#define PLOT_NAME_MAX   96
#define PLOT_COL_MAX    128
#define PLOT_WHERE_MAX  200
#define PLOT_TEXT_MAX   256

enum plot_type { PLOT_LINE = 0, PLOT_SCATTER, PLOT_BAR, PLOT_CURVE };
enum plot_errors {
    PLOT_ERRORS_STD = 0,
    PLOT_ERRORS_SEM,
    PLOT_ERRORS_CI95,
    PLOT_ERRORS_MINMAX,
    PLOT_ERRORS_NONE,
};

/* A column named by a spec, with where it was named. */
struct plot_ref {
    char name[PLOT_COL_MAX];
    char where[PLOT_WHERE_MAX]; /* "file:line:col: plots[i].field" ("" for built-in specs) */
};

struct plot_filter {
    struct plot_ref col;
    char values[PLOT_MAX_LIST][PLOT_COL_MAX];
    int nvalues;
};

struct plot_spec {
    char output[PLOT_NAME_MAX]; /* file stem in plots/ */
    char where[PLOT_WHERE_MAX]; /* "file:line:col" of the spec, for messages */
    enum plot_type type;
    struct plot_ref x; /* name "" when not given */
    struct plot_ref y[PLOT_MAX_LIST];
    int ny;
    struct plot_ref group_by[PLOT_MAX_LIST];
    int ngroup;
    bool group_given; /* false: the type's default */
    struct plot_ref split_by[PLOT_MAX_LIST];
    int nsplit;
    bool split_given;
    struct plot_filter filter[PLOT_MAX_FILTER];
    int nfilter;
    int logx, logy; /* -1 automatic, 0 off, 1 on */
    enum plot_errors errors;
    char title[PLOT_TEXT_MAX], xlabel[PLOT_TEXT_MAX], ylabel[PLOT_TEXT_MAX];
    bool enabled;
    bool builtin; /* a default figure: no "settings share a point" warnings */
};

struct plot_specs {
    struct plot_spec *v; /* owned: (n) */
    int n;
};

/* Parse and validate a `plots:` node (NULL or null: no specs) into *ps.
 * Errors (ERR_CONFIG) name file:line:col and the field: not a list, an item
 * that is not a mapping, an unknown field (did-you-mean), a bad type/errors
 * value, a list where one value is expected, a duplicate output name.  On
 * failure *ps is empty. */
int plots_parse(struct plot_specs *ps, const struct ynode *plots, struct err *e);

/* Load a sweep YAML file (includes resolved) and parse its `plots:`; name
 * (size n) receives the sweep name (the `sweep:` key, else the file name
 * without extension). */
int plots_load_sweep(struct plot_specs *ps, char *name, size_t n, const char *yaml_path,
                     struct err *e);

/* Free the specs (NULL-safe, idempotent). */
void plots_specs_free(struct plot_specs *ps);

/* Output name stem from any text: characters outside [A-Za-z0-9._-] become '_'. */
void plots_sanitize(char *out, size_t n, const char *in);

/* A spec with every field at its default (type line, automatic log axes, ci95 error bars,
 * enabled, no columns):
 * what a `plots:` item starts from, and each default figure. */
void plot_spec_init(struct plot_spec *sp);

#endif
