/*
 * hparams: declared hyperparameters of a method and their validation.
 *
 * A method declares a table of struct hp_def.  A sweep (or a test) gives a
 * list of key -> value strings; hp_parse checks every key against the table
 * (unknown key: error listing the valid keys, with a did-you-mean), parses
 * each value by its declared type (no YAML 1.1 surprises: booleans are
 * exactly true/false), checks ranges and choices, and fills struct hp_values
 * with defaults for the rest.  Values of a HP_SET are comma-separated
 * choices ("q,v"); their order does not matter (stored as a bit mask).
 */
#ifndef METHODS_HPARAMS_H
#define METHODS_HPARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define HP_MAX 24          /* hyperparameters per method */
#define HP_MAX_CHOICES 16  /* choices of an enum or set */

enum hp_type {
    HP_INT = 0, /* integer in [lo, hi] */
    HP_FLOAT,   /* finite real in [lo, hi] */
    HP_BOOL,    /* true | false */
    HP_ENUM,    /* one of choices */
    HP_SET,     /* non-empty subset of choices */
};

struct hp_def {
    const char *name;
    enum hp_type type;
    const char *def;     /* default as text; NULL = optional, unset unless given */
    double lo, hi;       /* range for HP_INT / HP_FLOAT */
    const char *choices; /* "a|b|c" for HP_ENUM / HP_SET */
    const char *doc;     /* one line */
};

struct hp_val {
    bool set;       /* has a value (given, or a default exists) */
    bool given;     /* given by the user (not the default) */
    long i;         /* HP_INT, HP_ENUM (choice index) */
    double f;       /* HP_FLOAT (HP_INT also mirrors here) */
    bool b;         /* HP_BOOL */
    uint32_t mask;  /* HP_SET: bit k = choice k */
};

struct hp_values {
    const struct hp_def *defs; /* borrowed: the method's table */
    int n;
    struct hp_val v[HP_MAX];
};

/* One key -> value pair as it came from a file or the command line. */
struct hp_kv {
    const char *key;
    const char *value;
    const char *where; /* "sweep.yaml:12:5" or NULL; prefixes error messages */
};

/* Validate kv[0..nkv) against defs[0..ndefs) of method `method`; fill out. */
int hp_parse(struct hp_values *out, const char *method, const struct hp_def *defs, int ndefs,
             const struct hp_kv *kv, int nkv, struct err *e);

/* Index of name in out->defs, or -1. */
int hp_index(const struct hp_values *h, const char *name);

/* Typed access by name (the name must be declared: an undeclared name is a
 * programming error and aborts). */
long hp_int(const struct hp_values *h, const char *name);
double hp_float(const struct hp_values *h, const char *name);
bool hp_bool(const struct hp_values *h, const char *name);
int hp_enum(const struct hp_values *h, const char *name);         /* choice index */
const char *hp_enum_name(const struct hp_values *h, const char *name);
uint32_t hp_set(const struct hp_values *h, const char *name);     /* bit mask */
bool hp_is_set(const struct hp_values *h, const char *name);

/* Choice index of word in "a|b|c", or -1. */
int hp_choice_index(const char *choices, const char *word);
/* Choice k of "a|b|c" copied into buf. */
const char *hp_choice_name(const char *choices, int k, char *buf, size_t n);

/* Canonical text of one value (e.g. "16", "0.0001", "true", "swish", "q,v"),
 * "" when unset.  Used for CSV columns and trial ids: the same value always
 * gives the same text. */
void hp_format(const struct hp_values *h, int idx, char *buf, size_t n);

/* Levenshtein distance (for did-you-mean), capped at 99. */
int hp_edit_distance(const char *a, const char *b);

/* Closest of the candidates (NULL-terminated array) to word, or NULL when nothing is close. */
const char *hp_did_you_mean(const char *word, const char *const *cands, int n);

/* hp_did_you_mean, plus one swap of adjacent letters ("rnak" -> "rank", "tpye" -> "type"): the
 * commonest typo, which plain edit distance counts as two edits.  For hand-written files. */
const char *hp_guess(const char *word, const char *const *cands, int n);

#endif
