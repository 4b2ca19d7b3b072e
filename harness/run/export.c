/*
 * export: an adapter saved by `run` rewritten in HF PEFT's layout (see export.h).
 */
#include "harness/run/export.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run/adapter_dir.h"
#include "methods/peft_format.h"
#include "methods/registry.h"

struct eopts {
    const char *adapter, *format, *out, *model;
};

static const char usage[] =
    "usage: peftbench export ADAPTER_DIR --format peft --out DIR [--model MODEL]\n"
    "  Writes a lora or ia3 adapter saved by `run` in Hugging Face PEFT's layout:\n"
    "  DIR/adapter_config.json, DIR/adapter_model.safetensors (PEFT's tensor names), and\n"
    "  DIR/peftbench.json (task, labels, max_seq_len, tokenizer: read by predict).\n"
    "  Formats: peft.  MODEL (a directory or builtin:NAME) defaults to the adapter's base\n"
    "  model.  Exit 0 written, 2 usage or unusable input, 1 writing DIR failed.\n";

static int parse(struct eopts *o, int argc, char **argv, FILE *errf)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = strcmp(a, "--format") == 0  ? &o->format
                            : strcmp(a, "--out") == 0   ? &o->out
                            : strcmp(a, "--model") == 0 ? &o->model
                                                        : NULL;
        if (slot && v) {
            *slot = v;
            i++;
        } else if (a[0] != '-' && !o->adapter) {
            o->adapter = a;
        } else {
            fprintf(errf, "peftbench export: %s '%s'\n%s",
                    slot ? "a value is missing after" : "unexpected argument", a, usage);
            return 2;
        }
    }
    const char *why = !o->adapter  ? "ADAPTER_DIR is required"
                      : !o->format ? "--format is required (formats: peft)"
                      : !o->out    ? "--out DIR is required"
                                   : NULL;
    if (why) {
        fprintf(errf, "peftbench export: %s\n%s", why, usage);
        return 2;
    }
    if (strcmp(o->format, "peft") != 0) {
        fprintf(errf, "peftbench export: unknown --format '%s'; the formats are: peft\n",
                o->format);
        return 2;
    }
    return 0;
}

/* The adapter must be peftbench's own, with exactly one lora or ia3 method. */
static int check_exportable(const char *adapter, const struct persist_meta *meta, struct err *e)
{
    if (meta->format == PERSIST_PEFT)
        return ERR_SET(e, ERR_CONFIG, "%s is already in HF PEFT's layout", adapter);
    char names[PERSIST_MAX_METHODS * 34] = "";
    for (int i = 0, k = 0; i < meta->nmethods; i++)
        k += snprintf(names + k, sizeof names - (size_t)k, "%s%s", i ? "+" : "", meta->methods[i]);
    bool ok = meta->nmethods == 1 && (strcmp(names, "lora") == 0 || strcmp(names, "ia3") == 0);
    if (!ok)
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "%s holds %s '%s'; --format peft exists for a single lora or ia3 "
                       "method only (formats: peft)",
                       adapter, meta->nmethods == 1 ? "method" : "the composition",
                       meta->nmethods ? names : "no method");
    return ERR_OK;
}

/* Trainable backbone tensors (none for lora or ia3 today) have no place in PEFT's file. */
static int check_backbone_frozen(const char *adapter, const struct model *m, struct err *e)
{
    for (size_t i = 0; i < m->ps.n; i++) {
        const struct param *p = m->ps.items[i];
        if (p->trainable && p->group != PGROUP_METHOD && p->group != PGROUP_HEAD)
            return ERR_SET(e, ERR_UNSUPPORTED,
                           "%s trains the backbone tensor '%s', which PEFT's layout for lora "
                           "and ia3 cannot hold",
                           adapter, p->name);
    }
    return ERR_OK;
}

/* --out must not be the adapter itself: its adapter_config.json would be replaced. */
static int check_out(const struct eopts *o, struct err *e)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (realpath(o->adapter, a) && realpath(o->out, b) && strcmp(a, b) == 0)
        return ERR_SET(e, ERR_CONFIG, "--out %s is the adapter directory itself; name another",
                       o->out);
    return ERR_OK;
}

static int fail(FILE *errf, const struct err *e, int status)
{
    fprintf(errf, "peftbench export: %s\n", e->msg);
    return status;
}

/* Load the adapter on its backbone and write it; the exit status. */
static int export_peft(const struct eopts *o, const struct persist_meta *meta, FILE *out,
                       FILE *errf)
{
    char model_dir[PERSIST_PATH_MAX], abs_dir[PATH_MAX];
    if (adapter_resolve_model("export", o->adapter, meta, o->model, model_dir, sizeof model_dir,
                              errf))
        return 2;
    struct err e;
    err_clear(&e);
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct method_inst mi[PERSIST_MAX_METHODS];
    int nm = 0;
    if (adapter_load_model(o->adapter, meta, model_dir, &m, mi, &nm, &acct, &e))
        return fail(errf, &e, 2);
    int status = check_backbone_frozen(o->adapter, &m, &e) ? 2 : 0;
    const char *base = realpath(model_dir, abs_dir) ? abs_dir : model_dir;
    if (status == 0 && (peft_save_with_base(o->out, &mi[0], &m, base, &e) ||
                        persist_save_sidecar(o->out, meta, &e)))
        status = 1;
    if (status)
        fail(errf, &e, status);
    else
        fprintf(out, "wrote %s (HF PEFT layout, %s, %d labels)\n", o->out, meta->methods[0],
                meta->num_labels);
    for (int i = nm; i-- > 0;)
        method_destroy(&mi[i]);
    model_destroy(&m);
    return status;
}

int export_main(int argc, char **argv, FILE *out, FILE *errf)
{
    struct eopts o;
    int status = parse(&o, argc, argv, errf);
    if (status)
        return status;
    struct err e;
    err_clear(&e);
    struct persist_meta meta;
    if (persist_read_meta(o.adapter, &meta, &e))
        return fail(errf, &e, 2);
    if (check_exportable(o.adapter, &meta, &e) || check_out(&o, &e))
        status = fail(errf, &e, 2);
    else
        status = export_peft(&o, &meta, out, errf);
    persist_meta_free(&meta);
    return status;
}
