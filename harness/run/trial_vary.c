/* trial_vary: which settings of a trial vary across its sweep (see trial_vary.h).  A setting
 * varies when another trial with the same method in the same position, or any other trial for
 * train settings, formats it differently. */
#include "harness/run/trial_vary.h"

#include <string.h>

#include "base/schema.h"
#include "base/strfmt.h"
#include "harness/sweep/train_cfg.h"

/* Does hyperparameter h of method slot i differ between t and some other trial? */
static bool hp_varies(const struct sweep *sw, const struct trial *t, int i, int h)
{
    char mine[128], other[128];
    hp_format(&t->m[i].hp, h, mine, sizeof mine);
    for (size_t k = 0; k < sw->ntrials; k++) {
        const struct trial *u = &sw->trials[k];
        if (u == t || u->nmethods <= i || u->m[i].ops != t->m[i].ops || u->m[i].hp.n <= h)
            continue;
        hp_format(&u->m[i].hp, h, other, sizeof other);
        if (strcmp(mine, other) != 0)
            return true;
    }
    return false;
}

/* Does train setting f differ between t and some other trial? */
static bool train_varies(const struct sweep *sw, const struct trial *t, int f)
{
    char mine[64], other[64];
    train_cfg_format(&t->train, f, mine, sizeof mine);
    for (size_t k = 0; k < sw->ntrials; k++) {
        train_cfg_format(&sw->trials[k].train, f, other, sizeof other);
        if (strcmp(mine, other) != 0)
            return true;
    }
    return false;
}

void trial_vary_text(const struct sweep *sw, const struct trial *t, char *buf, size_t n)
{
    size_t o = 0;
    char v[128];
    buf[0] = '\0';
    for (int i = 0; i < t->nmethods; i++)
        for (int h = 0; h < t->m[i].hp.n; h++) {
            if (!hp_varies(sw, t, i, h))
                continue;
            hp_format(&t->m[i].hp, h, v, sizeof v);
            o = str_appendf(buf, n, o, "%s%s%s%s=%s", o ? " " : "",
                            t->nmethods > 1 ? t->m[i].ops->name : "", t->nmethods > 1 ? "." : "",
                            t->m[i].hp.defs[h].name, v);
        }
    for (int f = 0; f < train_cfg_nfields(); f++) {
        if (!train_varies(sw, t, f))
            continue;
        train_cfg_format(&t->train, f, v, sizeof v);
        o = str_appendf(buf, n, o, "%s%s=%s", o ? " " : "", train_cfg_field_name(f), v);
    }
}
