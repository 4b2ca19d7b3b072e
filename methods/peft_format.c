/*
 * peft_format: HF PEFT adapter directories for lora and ia3 (see peft_format.h).
 *
 * Name mapping.  A method tensor "<method>.encoder.layer.{i}.<module>.<t>" of the
 * model's store becomes "base_model.model.<arch>.encoder.layer.{i}.<module>.<t>" plus
 * ".weight" for LoRA's lora_A / lora_B (PEFT stores them as nn.Linear weights) and
 * nothing for IA3's ia3_l; <arch> is "bert" or "roberta".  The head tensor
 * "classifier.*" becomes "base_model.model.classifier.*" (PEFT's modules_to_save
 * wrapper drops "modules_to_save.default." when saving).  Shapes: LoRA as stored;
 * IA3 (OUT, 1) for output scaling and (1, F) for the GELU-output scaling on
 * output.dense (PEFT keeps the vector broadcastable against the Linear's output or input).
 */
#include "methods/peft_format.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/readfile.h"
#include "methods/registry.h"
#include "model/io/safetensors.h"

#define PEFT_PATH_MAX 4096

enum { PEFT_NMODULES = 6 }; /* the linear sites SITE_Q .. SITE_FFN_OUT */

const char *peft_site_module(enum hook_site s)
{
    static const char *const names[PEFT_NMODULES] = {
        "attention.self.query",   "attention.self.key", "attention.self.value",
        "attention.output.dense", "intermediate.dense", "output.dense"};
    return (int)s >= 0 && (int)s < PEFT_NMODULES ? names[s] : "?";
}

/* ---- small helpers ---------------------------------------------------------- */

static const char *arch_segment(const struct model *m)
{
    return m->head == HEAD_ROBERTA ? "roberta" : "bert";
}

static int join(char *out, const char *dir, const char *file, struct err *e)
{
    int n = snprintf(out, PEFT_PATH_MAX, "%s/%s", dir, file);
    if (n < 0 || n >= PEFT_PATH_MAX)
        return ERR_SET(e, ERR_LIMIT, "path too long: %s/%s", dir, file);
    return ERR_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The whole file at path, NUL-terminated (caller frees), at most max bytes. */
static char *read_text(const char *path, size_t max, struct err *e)
{
    FILE *f;
    if (readfile_fopen(path, &f, e))
        return NULL;
    char *buf = malloc(max + 1);
    size_t len = buf ? fread(buf, 1, max + 1, f) : 0;
    bool bad = buf && ferror(f);
    fclose(f);
    if (!buf) {
        ERR_SET(e, ERR_NOMEM, "out of memory reading %s", path);
        return NULL;
    }
    if (bad || len > max) {
        free(buf);
        if (bad)
            ERR_SET(e, ERR_IO, "%s: read failed", path);
        else
            ERR_SET(e, ERR_LIMIT, "%s: larger than %zu bytes", path, max);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* ---- tensor names ------------------------------------------------------------- */

/* If p is a tensor of method `method` ("lora" / "ia3"), write its PEFT name and
 * shape and return true. */
static bool method_tensor_name(const struct model *m, const char *method, const struct param *p,
                               char *name, size_t n, int64_t shape[2])
{
    size_t k = strlen(method);
    if (p->group != PGROUP_METHOD || strncmp(p->name, method, k) != 0 || p->name[k] != '.')
        return false;
    const char *rest = p->name + k + 1; /* encoder.layer.{i}.<module>.<tensor> */
    bool is_lora = strcmp(method, "lora") == 0;
    snprintf(name, n, "base_model.model.%s.%s%s", arch_segment(m), rest, is_lora ? ".weight" : "");
    if (is_lora) {
        shape[0] = p->shape[0];
        shape[1] = p->shape[1];
    } else {
        /* ffn_act lives on the FFN output Linear "...layer.{i}.output.dense" (not on
         * "attention.output.dense"): the only input scaling. */
        int layer, off = 0;
        bool ffn_act = sscanf(rest, "encoder.layer.%d.%n", &layer, &off) == 1 && off > 0 &&
                       strcmp(rest + off, "output.dense.ia3_l") == 0;
        shape[0] = ffn_act ? 1 : (int64_t)p->numel;
        shape[1] = ffn_act ? (int64_t)p->numel : 1;
    }
    return true;
}

static void head_tensor_name(const struct param *p, char *name, size_t n)
{
    snprintf(name, n, "base_model.model.%s", p->name);
}

/* ---- target_modules ----------------------------------------------------------- */

/* Choice name of a method's targets -> hook site (the PEFT module it adapts). */
static int choice_site(const char *choice)
{
    static const struct {
        const char *name;
        enum hook_site site;
    } map[] = {{"q", SITE_Q},
               {"k", SITE_K},
               {"v", SITE_V},
               {"o", SITE_O},
               {"ffn_in", SITE_FFN_IN},
               {"ffn_out", SITE_FFN_OUT},
               {"ffn_act", SITE_FFN_OUT}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, choice) == 0)
            return (int)map[i].site;
    return -1;
}

/* Append the target_modules entries of one site.  "output.dense" alone would also match
 * "attention.output.dense" under PEFT's suffix rule, so the FFN output Linear is named per
 * layer ("layer.{i}.output.dense"); the others are unique suffixes (the short names
 * "query", "key", "value" as PEFT's BERT defaults write them). */
static void add_site_entries(cJSON *arr, enum hook_site s, int L)
{
    static const char *const short_names[PEFT_NMODULES] = {
        "query", "key", "value", "attention.output.dense", "intermediate.dense", NULL};
    if (s != SITE_FFN_OUT) {
        cJSON_AddItemToArray(arr, cJSON_CreateString(short_names[s]));
        return;
    }
    for (int l = 0; l < L; l++) {
        char buf[64];
        snprintf(buf, sizeof buf, "layer.%d.output.dense", l);
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    }
}

/* PEFT's target rule: the module key equals the entry or ends with "." + entry. */
static bool target_matches(const char *key, const char *entry)
{
    size_t n = strlen(key), k = strlen(entry);
    if (strcmp(key, entry) == 0)
        return true;
    return k > 0 && n > k && key[n - k - 1] == '.' && strcmp(key + n - k, entry) == 0;
}

/* ---- save ---------------------------------------------------------------------- */

static cJSON *config_json(const struct method_inst *mi, const struct model *m,
                          const char *base_model)
{
    const bool lora = strcmp(mi->ops->name, "lora") == 0;
    const struct hp_values *hp = &mi->hp;
    cJSON *root = cJSON_CreateObject();
    cJSON *targets = cJSON_CreateArray(), *ff = lora ? NULL : cJSON_CreateArray();
    cJSON *mts = cJSON_CreateArray();
    if (!root || !targets || (!lora && !ff) || !mts) {
        cJSON_Delete(root), cJSON_Delete(targets), cJSON_Delete(ff), cJSON_Delete(mts);
        return NULL;
    }
    const int ti = hp_index(hp, "targets");
    const uint32_t mask = hp_set(hp, "targets");
    for (int k = 0; k < HP_MAX_CHOICES; k++) {
        char choice[32];
        if (!(mask & (1u << k)) || !hp_choice_name(hp->defs[ti].choices, k, choice, sizeof choice))
            continue;
        int s = choice_site(choice);
        if (s < 0)
            continue;
        add_site_entries(targets, (enum hook_site)s, m->enc.L);
        if (!lora && strcmp(choice, "ffn_act") == 0)
            add_site_entries(ff, (enum hook_site)s, m->enc.L);
    }
    cJSON_AddItemToArray(mts, cJSON_CreateString("classifier"));

    cJSON_AddStringToObject(root, "peft_type", lora ? "LORA" : "IA3");
    cJSON_AddStringToObject(root, "task_type", "SEQ_CLS");
    cJSON_AddStringToObject(root, "base_model_name_or_path", base_model ? base_model : "");
    cJSON_AddNullToObject(root, "revision");
    cJSON_AddBoolToObject(root, "inference_mode", true);
    if (lora) {
        cJSON_AddNumberToObject(root, "r", (double)hp_int(hp, "rank"));
        cJSON_AddNumberToObject(root, "lora_alpha", hp_float(hp, "alpha"));
        cJSON_AddNumberToObject(root, "lora_dropout", hp_float(hp, "dropout"));
        cJSON_AddBoolToObject(root, "use_rslora", hp_bool(hp, "rslora"));
    }
    cJSON_AddItemToObject(root, "target_modules", targets);
    if (!lora)
        cJSON_AddItemToObject(root, "feedforward_modules", ff);
    cJSON_AddBoolToObject(root, "fan_in_fan_out", false);
    if (lora) {
        cJSON_AddStringToObject(root, "bias", "none");
        cJSON_AddBoolToObject(root, "init_lora_weights", true);
        cJSON_AddNullToObject(root, "layers_to_transform");
        cJSON_AddNullToObject(root, "layers_pattern");
        cJSON_AddItemToObject(root, "rank_pattern", cJSON_CreateObject());
        cJSON_AddItemToObject(root, "alpha_pattern", cJSON_CreateObject());
    } else {
        cJSON_AddBoolToObject(root, "init_ia3_weights", true);
    }
    cJSON_AddItemToObject(root, "modules_to_save", mts);
    return root;
}

static int check_supported(const struct method_inst *mi, struct err *e)
{
    if (!mi || !mi->ops)
        return ERR_SET(e, ERR_STATE, "peft: no method instance to save");
    if (strcmp(mi->ops->name, "lora") != 0 && strcmp(mi->ops->name, "ia3") != 0)
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "peft: method '%s' has no HF PEFT layout here (lora and ia3 only)",
                       mi->ops->name);
    return ERR_OK;
}

int peft_save(const char *dir, const struct method_inst *mi, const struct model *m, struct err *e)
{
    return peft_save_with_base(dir, mi, m, NULL, e);
}

int peft_save_with_base(const char *dir, const struct method_inst *mi, const struct model *m,
                        const char *base_model, struct err *e)
{
    if (check_supported(mi, e))
        return e->code;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ERR_SET(e, ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
    char path[PEFT_PATH_MAX];
    struct st_write_tensor *t = calloc(m->ps.n ? m->ps.n : 1, sizeof *t);
    char(*names)[PARAM_NAME_MAX + 64] = calloc(m->ps.n ? m->ps.n : 1, sizeof *names);
    int rc = ERR_OK;
    if (!t || !names) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory saving %s", dir);
        goto out_free;
    }
    size_t k = 0, nmethod = 0;
    for (size_t i = 0; i < m->ps.n; i++) { /* method tensors first, in registration order */
        const struct param *p = m->ps.items[i];
        if (!method_tensor_name(m, mi->ops->name, p, names[k], sizeof names[k], t[k].shape))
            continue;
        t[k].name = names[k];
        t[k].ndim = 2;
        t[k].data = p->data;
        k++;
        nmethod++;
    }
    size_t want = mi->ops->count ? mi->ops->count(&mi->hp, &m->cfg) : 0;
    size_t got = 0;
    for (size_t i = 0; i < k; i++)
        got += (size_t)(t[i].shape[0] * t[i].shape[1]);
    if (nmethod == 0 || got != want) {
        rc = ERR_SET(e, ERR_STATE,
                     "peft: the model holds %zu values in %zu '%s.*' tensors, the instance "
                     "needs %zu",
                     got, nmethod, mi->ops->name, want);
        goto out_free;
    }
    for (size_t i = 0; i < m->ps.n; i++) {
        const struct param *p = m->ps.items[i];
        if (p->group != PGROUP_HEAD)
            continue;
        head_tensor_name(p, names[k], sizeof names[k]);
        t[k] = (struct st_write_tensor){.name = names[k], .ndim = p->ndim, .data = p->data};
        for (int d = 0; d < p->ndim; d++)
            t[k].shape[d] = p->shape[d];
        k++;
    }
    const char *meta[] = {"format", "pt"}; /* what PEFT / transformers write */
    if ((rc = join(path, dir, PEFT_WEIGHTS_NAME, e)) || (rc = st_write(path, t, k, meta, 1, e)))
        goto out_free;

    cJSON *root = config_json(mi, m, base_model);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory writing %s", PEFT_CONFIG_NAME);
        goto out_free;
    }
    if (!(rc = join(path, dir, PEFT_CONFIG_NAME, e)))
        rc = fileio_write_atomic(path, text, strlen(text), e);
    free(text);
out_free:
    free(names);
    free(t);
    return rc;
}

/* ---- load: the head's width ------------------------------------------------------ */

static const char *const head_names[2] = {"base_model.model.classifier.weight",
                                          "base_model.model.classifier.out_proj.weight"};

static bool want_head(const char *name, void *ctx)
{
    (void)ctx;
    return strcmp(name, head_names[0]) == 0 || strcmp(name, head_names[1]) == 0;
}

int peft_head_width(const char *dir, int *C, struct err *e)
{
    char path[PEFT_PATH_MAX];
    *C = 0;
    if (join(path, dir, PEFT_WEIGHTS_NAME, e))
        return e->code;
    struct st_file f;
    if (st_read(&f, path, want_head, NULL, e))
        return e->code;
    const struct st_tensor *t = st_find(&f, head_names[0]);
    if (!t)
        t = st_find(&f, head_names[1]);
    int rc = ERR_OK;
    if (!t)
        rc = ERR_SET(e, ERR_UNSUPPORTED,
                     "%s: no task head (%s); save the adapter with modules_to_save "
                     "[\"classifier\"], or predictions would come from an untrained head",
                     path, head_names[0]);
    else if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > 1000000)
        rc = ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': expected a matrix (num_labels, hidden)",
                     path, t->name);
    else
        *C = (int)t->shape[0];
    st_free(&f);
    return rc;
}

/* ---- load: adapter_config.json -------------------------------------------------- */

static const char *json_type(const cJSON *x)
{
    if (!x)
        return "nothing (absent)";
    if (cJSON_IsNull(x))
        return "null";
    if (cJSON_IsBool(x))
        return cJSON_IsTrue(x) ? "true" : "false";
    if (cJSON_IsNumber(x))
        return "a number";
    if (cJSON_IsString(x))
        return "a string";
    if (cJSON_IsArray(x))
        return "an array";
    if (cJSON_IsObject(x))
        return "an object";
    return "an invalid value";
}

/* "a string (\"8\")", "a number (0.5)" ...: the found value for messages. */
static const char *found(const cJSON *x, char *buf, size_t n)
{
    if (cJSON_IsString(x))
        snprintf(buf, n, "a string (\"%.60s\")", x->valuestring);
    else if (cJSON_IsNumber(x))
        snprintf(buf, n, "a number (%.17g)", x->valuedouble);
    else
        snprintf(buf, n, "%s", json_type(x));
    return buf;
}

struct cfg_reader {
    const char *path;
    const cJSON *root;
};

static const cJSON *field(const struct cfg_reader *r, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(r->root, name);
}

static int bad_field(const struct cfg_reader *r, const char *name, const char *expected,
                     const cJSON *x, int code, struct err *e)
{
    char buf[128];
    return ERR_SET(e, code, "%s: field '%s': expected %s, found %s", r->path, name, expected,
                   found(x, buf, sizeof buf));
}

/* Optional number (absent or null: def). */
static int get_number(const struct cfg_reader *r, const char *name, double def, double *out,
                      struct err *e)
{
    const cJSON *x = field(r, name);
    if (!x || cJSON_IsNull(x)) {
        *out = def;
        return ERR_OK;
    }
    if (!cJSON_IsNumber(x))
        return bad_field(r, name, "a number", x, ERR_FORMAT, e);
    *out = x->valuedouble;
    return ERR_OK;
}

/* Optional bool that must equal `must` when given (a PEFT feature we do not implement). */
static int require_bool(const struct cfg_reader *r, const char *name, bool must, struct err *e)
{
    const cJSON *x = field(r, name);
    if (!x || cJSON_IsNull(x))
        return ERR_OK;
    if (!cJSON_IsBool(x))
        return bad_field(r, name, "true or false", x, ERR_FORMAT, e);
    if (cJSON_IsTrue(x) != must)
        return bad_field(
            r, name, must ? "true (the only supported value)" : "false (the only supported value)",
            x, ERR_UNSUPPORTED, e);
    return ERR_OK;
}

/* Optional field that must be absent, null or empty (layers_to_transform, rank_pattern ...). */
static int require_empty(const struct cfg_reader *r, const char *name, struct err *e)
{
    const cJSON *x = field(r, name);
    if (!x || cJSON_IsNull(x) ||
        ((cJSON_IsObject(x) || cJSON_IsArray(x)) && cJSON_GetArraySize(x) == 0))
        return ERR_OK;
    return bad_field(r, name, "null or empty (peftbench does not implement this setting)", x,
                     ERR_UNSUPPORTED, e);
}

/* A list of strings (or null: *out = NULL).  A string is PEFT's regex form: unsupported. */
static int get_string_list(const struct cfg_reader *r, const char *name, const cJSON **out,
                           struct err *e)
{
    const cJSON *x = field(r, name);
    *out = NULL;
    if (!x || cJSON_IsNull(x))
        return ERR_OK;
    if (cJSON_IsString(x))
        return bad_field(r, name, "a list of module names (a regex string is not supported)", x,
                         ERR_UNSUPPORTED, e);
    if (!cJSON_IsArray(x))
        return bad_field(r, name, "a list of strings", x, ERR_FORMAT, e);
    const cJSON *it;
    cJSON_ArrayForEach(it, x)
    {
        if (!cJSON_IsString(it)) {
            char buf[128];
            return ERR_SET(e, ERR_FORMAT,
                           "%s: field '%s': expected a list of strings, found %s "
                           "in the list",
                           r->path, name, found(it, buf, sizeof buf));
        }
    }
    *out = x;
    return ERR_OK;
}

static bool list_has(const cJSON *list, const char *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
            return true;
    }
    return false;
}

/* First entry of list matching key (PEFT target rule, or plain suffix when plain), or NULL. */
static const char *list_match(const cJSON *list, const char *key, bool plain)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        if (plain ? ends_with(key, it->valuestring) : target_matches(key, it->valuestring))
            return it->valuestring;
    }
    return NULL;
}

static int no_duplicate_keys(const struct cfg_reader *r, struct err *e)
{
    for (const cJSON *a = r->root->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && strcmp(a->string, b->string) == 0)
                return ERR_SET(e, ERR_FORMAT, "%s: field '%s' given twice", r->path, a->string);
    return ERR_OK;
}

/*
 * Resolve target_modules (and IA3's feedforward_modules) to the method's "targets"
 * value, following PEFT's matching rule on each layer's module keys
 * "<arch>.encoder.layer.{i}.<module>".  Every layer must select the same modules.
 */
static int resolve_targets(const struct cfg_reader *r, const struct model *m, bool lora,
                           const cJSON *targets, const cJSON *ff, char *out, size_t n,
                           struct err *e)
{
    static const char *const lora_choice[PEFT_NMODULES] = {"q", "k", "v", "o", "ffn_in", "ffn_out"};
    static const char *const ia3_out_choice[PEFT_NMODULES] = {"q", "k", "v", "o", "ffn_in", NULL};
    uint32_t first = 0;
    for (int l = 0; l < m->enc.L; l++) {
        uint32_t mask = 0; /* bit s: module s; bit 8 + s: module s as IA3 input scaling */
        for (int s = 0; s < PEFT_NMODULES; s++) {
            char key[192];
            snprintf(key, sizeof key, "%s.encoder.layer.%d.%s", arch_segment(m), l,
                     peft_site_module((enum hook_site)s));
            const char *hit = list_match(targets, key, false);
            if (!hit)
                continue;
            const char *ffhit = ff ? list_match(ff, key, true) : NULL;
            if (lora) {
                mask |= 1u << s;
            } else if (ffhit && s == SITE_FFN_OUT) {
                mask |= 1u << (8 + s);
            } else if (ffhit) {
                return ERR_SET(e, ERR_UNSUPPORTED,
                               "%s: feedforward_modules entry '%s' matches '%s' (PEFT matches by "
                               "suffix), asking for an input scaling of it; peftbench's ia3 "
                               "scales inputs only on the FFN output Linear: name it "
                               "'layer.N.output.dense' to avoid the attention output",
                               r->path, ffhit, key);
            } else if (!ia3_out_choice[s]) {
                return ERR_SET(e, ERR_UNSUPPORTED,
                               "%s: target_modules entry '%s' asks for an output scaling of "
                               "'%s', which peftbench's ia3 does not offer (list it in "
                               "feedforward_modules for the paper's GELU-output scaling)",
                               r->path, hit, key);
            } else {
                mask |= 1u << s;
            }
        }
        if (l == 0)
            first = mask;
        else if (mask != first)
            return ERR_SET(e, ERR_UNSUPPORTED,
                           "%s: target_modules select different modules in layer 0 and layer %d; "
                           "peftbench adapts the same modules in every layer",
                           r->path, l);
    }
    if (!first)
        return ERR_SET(e, ERR_CONFIG, "%s: field 'target_modules' matches no Linear of the encoder",
                       r->path);
    size_t o = 0;
    out[0] = '\0';
    for (int s = 0; s < PEFT_NMODULES; s++) {
        const char *c = NULL;
        if (first & (1u << s))
            c = lora ? lora_choice[s] : ia3_out_choice[s];
        else if (first & (1u << (8 + s)))
            c = "ffn_act";
        if (c)
            o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s%s", o ? "," : "", c);
    }
    return ERR_OK;
}

/* Parse and validate the config into method name + hyperparameter strings. */
struct peft_cfg {
    const char *method; /* "lora" | "ia3" */
    char rank[32], alpha[64], dropout[64], targets[128];
    bool rslora;
    bool head_required; /* modules_to_save lists "classifier" */
};

static int parse_config(const struct cfg_reader *r, const struct model *m, struct peft_cfg *c,
                        struct err *e)
{
    if (!cJSON_IsObject(r->root))
        return ERR_SET(e, ERR_FORMAT, "%s: expected a JSON object, found %s", r->path,
                       json_type(r->root));
    if (no_duplicate_keys(r, e))
        return e->code;
    const cJSON *pt = field(r, "peft_type");
    if (!cJSON_IsString(pt))
        return bad_field(r, "peft_type", "a string (\"LORA\" or \"IA3\")", pt, ERR_FORMAT, e);
    if (strcmp(pt->valuestring, "LORA") == 0)
        c->method = "lora";
    else if (strcmp(pt->valuestring, "IA3") == 0)
        c->method = "ia3";
    else
        return bad_field(r, "peft_type", "\"LORA\" or \"IA3\"", pt, ERR_UNSUPPORTED, e);
    const bool lora = c->method[0] == 'l';

    const cJSON *tt = field(r, "task_type");
    if (tt && !cJSON_IsNull(tt)) {
        if (!cJSON_IsString(tt))
            return bad_field(r, "task_type", "a string", tt, ERR_FORMAT, e);
        if (strcmp(tt->valuestring, "SEQ_CLS") != 0)
            return bad_field(r, "task_type", "\"SEQ_CLS\" (the tensor names depend on it)", tt,
                             ERR_UNSUPPORTED, e);
    }
    /* Newer PEFT fields that change which modules are adapted or how: refused unless off. */
    if (require_bool(r, "fan_in_fan_out", false, e) || require_empty(r, "exclude_modules", e) ||
        require_empty(r, "layer_replication", e) || require_empty(r, "target_parameters", e) ||
        require_empty(r, "trainable_token_indices", e) ||
        require_empty(r, "alora_invocation_tokens", e) || require_bool(r, "use_qalora", false, e))
        return e->code;
    const cJSON *mts;
    if (get_string_list(r, "modules_to_save", &mts, e))
        return e->code;
    c->head_required = mts && list_has(mts, "classifier");

    const cJSON *targets, *ff = NULL;
    if (get_string_list(r, "target_modules", &targets, e))
        return e->code;
    if (lora) {
        const cJSON *rr = field(r, "r");
        double rank = 8.0, alpha, drop; /* PEFT's LoraConfig defaults: r 8, alpha 8, dropout 0 */
        if (rr && !cJSON_IsNull(rr)) {
            if (!cJSON_IsNumber(rr) || rr->valuedouble != (double)(long)rr->valuedouble)
                return bad_field(r, "r", "an integer", rr, ERR_FORMAT, e);
            rank = rr->valuedouble;
        }
        if (get_number(r, "lora_alpha", 8.0, &alpha, e) ||
            get_number(r, "lora_dropout", 0.0, &drop, e))
            return e->code;
        const cJSON *rs = field(r, "use_rslora");
        if (rs && !cJSON_IsNull(rs) && !cJSON_IsBool(rs))
            return bad_field(r, "use_rslora", "true or false", rs, ERR_FORMAT, e);
        c->rslora = cJSON_IsTrue(rs);
        const cJSON *bias = field(r, "bias");
        if (bias && !cJSON_IsNull(bias) &&
            (!cJSON_IsString(bias) || strcmp(bias->valuestring, "none") != 0))
            return bad_field(r, "bias", "\"none\" (trained biases are not supported)", bias,
                             cJSON_IsString(bias) ? ERR_UNSUPPORTED : ERR_FORMAT, e);
        if (require_bool(r, "use_dora", false, e) || require_bool(r, "lora_bias", false, e) ||
            require_empty(r, "layers_to_transform", e) || require_empty(r, "rank_pattern", e) ||
            require_empty(r, "alpha_pattern", e))
            return e->code;
        snprintf(c->rank, sizeof c->rank, "%.0f", rank);
        snprintf(c->alpha, sizeof c->alpha, "%.17g", alpha);
        snprintf(c->dropout, sizeof c->dropout, "%.17g", drop);
    } else {
        if (get_string_list(r, "feedforward_modules", &ff, e) ||
            require_empty(r, "layers_to_transform", e))
            return e->code;
    }
    /* null target_modules: PEFT's model-type defaults for bert/roberta (METHODS.md §4.3, §5.2) */
    cJSON *dflt = NULL, *dflt_ff = NULL;
    if (!targets) {
        dflt = lora ? cJSON_CreateStringArray((const char *const[]){"query", "value"}, 2)
                    : cJSON_CreateStringArray((const char *const[]){"key", "value", "output.dense"},
                                              3);
        targets = dflt;
    }
    if (!lora && !ff) { /* PEFT fills feedforward_modules from the same table independently */
        dflt_ff = cJSON_CreateStringArray((const char *const[]){"output.dense"}, 1);
        ff = dflt_ff;
    }
    int rc = targets ? resolve_targets(r, m, lora, targets, ff, c->targets, sizeof c->targets, e)
                     : ERR_SET(e, ERR_NOMEM, "out of memory");
    cJSON_Delete(dflt);
    cJSON_Delete(dflt_ff);
    return rc;
}

/* ---- load: tensors ------------------------------------------------------------ */

static int copy_tensor(const struct st_file *f, bool *used, const char *file, const char *name,
                       const int64_t *shape, int ndim, float *dst, size_t numel, bool required,
                       struct err *e)
{
    const struct st_tensor *t = st_find(f, name);
    if (!t) {
        if (required)
            return ERR_SET(e, ERR_FORMAT, "%s: missing tensor '%s' (the config's targets need it)",
                           file, name);
        return ERR_OK;
    }
    bool same = t->ndim == ndim && t->numel == numel;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char want[64] = "", got[64] = "";
        size_t a = 0, b = 0;
        for (int d = 0; d < ndim; d++)
            a += (size_t)snprintf(want + a, a < sizeof want ? sizeof want - a : 0, "%s%lld",
                                  d ? ", " : "", (long long)shape[d]);
        for (int d = 0; d < t->ndim; d++)
            b += (size_t)snprintf(got + b, b < sizeof got ? sizeof got - b : 0, "%s%lld",
                                  d ? ", " : "", (long long)t->shape[d]);
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s': expected shape [%s], found [%s]", file,
                       name, want, got);
    }
    memcpy(dst, t->data, numel * sizeof(float));
    used[t - f->tensors] = true;
    return ERR_OK;
}

static int fill_tensors(const char *file, struct model *m, const char *method, bool head_required,
                        struct err *e)
{
    struct st_file f;
    if (st_read(&f, file, NULL, NULL, e))
        return e->code;
    bool *used = calloc(f.n ? f.n : 1, sizeof *used);
    int rc = used ? ERR_OK : ERR_SET(e, ERR_NOMEM, "out of memory reading %s", file);
    for (size_t i = 0; i < m->ps.n && rc == ERR_OK; i++) {
        struct param *p = m->ps.items[i];
        char name[PARAM_NAME_MAX + 64];
        int64_t shape[ST_MAX_DIMS] = {0};
        if (method_tensor_name(m, method, p, name, sizeof name, shape)) {
            rc = copy_tensor(&f, used, file, name, shape, 2, p->data, p->numel, true, e);
        } else if (p->group == PGROUP_HEAD) {
            head_tensor_name(p, name, sizeof name);
            for (int d = 0; d < p->ndim; d++)
                shape[d] = p->shape[d];
            rc = copy_tensor(&f, used, file, name, shape, p->ndim, p->data, p->numel, head_required,
                             e);
        }
    }
    for (size_t i = 0; i < f.n && rc == ERR_OK; i++)
        if (!used[i])
            rc = ERR_SET(e, ERR_FORMAT,
                         "%s: unexpected tensor '%s' (not produced by the config's targets, "
                         "nor the model's classifier)",
                         file, f.tensors[i].name);
    free(used);
    st_free(&f);
    return rc;
}

int peft_load(const char *dir, struct model *m, struct method_inst *out, uint64_t seed,
              struct err *e)
{
    memset(out, 0, sizeof *out);
    char path[PEFT_PATH_MAX], wpath[PEFT_PATH_MAX];
    if (join(path, dir, PEFT_CONFIG_NAME, e) || join(wpath, dir, PEFT_WEIGHTS_NAME, e))
        return e->code;
    char *text = read_text(path, PEFT_MAX_JSON, e);
    if (!text)
        return e->code;
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + strlen(text) ? (long)(at - text) : -1;
        free(text);
        return ERR_SET(e, ERR_FORMAT, "%s: not valid JSON (near byte %ld)", path, off);
    }
    free(text);
    struct cfg_reader r = {path, root};
    struct peft_cfg c;
    memset(&c, 0, sizeof c);
    int rc = parse_config(&r, m, &c, e);
    cJSON_Delete(root);
    if (rc)
        return rc;

    const struct method_ops *ops = method_lookup(c.method, path, e);
    if (!ops)
        return e->code;
    struct hp_kv kv[5];
    int nkv = 0;
    kv[nkv++] = (struct hp_kv){"targets", c.targets, path};
    if (ops == method_find("lora")) {
        kv[nkv++] = (struct hp_kv){"rank", c.rank, path};
        kv[nkv++] = (struct hp_kv){"alpha", c.alpha, path};
        kv[nkv++] = (struct hp_kv){"dropout", c.dropout, path};
        kv[nkv++] = (struct hp_kv){"rslora", c.rslora ? "true" : "false", path};
    }
    struct hp_values hv;
    if (method_parse(ops, &hv, kv, nkv, m, e)) {
        if (!strstr(e->msg, path)) /* model-dependent checks do not know the file */
            err_prefix(e, "%s", path);
        return e->code;
    }
    const int n0 = m->enc.hooks.n;
    if (method_create(out, ops, &hv, m, seed, e)) {
        memset(out, 0, sizeof *out);
        return e->code;
    }
    if ((rc = fill_tensors(wpath, m, c.method, c.head_required, e)) != ERR_OK) {
        method_destroy(out);
        memset(out, 0, sizeof *out);
        m->enc.hooks.n = n0; /* the instance's hooks were the last ones added */
    }
    return rc;
}
