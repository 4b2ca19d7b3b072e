/*
 * train_resolve: the methods' published train defaults applied under the
 * user's settings (the precedence is in train_resolve.h).
 */
#include "harness/sweep/train_resolve.h"

train_mask train_method_mask(const struct method_train *d)
{
    train_mask m = 0;
    if (d->lr > 0)
        m |= TRAIN_BIT(train_cfg_field_index("lr"));
    if (d->epochs > 0)
        m |= TRAIN_BIT(train_cfg_field_index("epochs"));
    if (d->has_warmup_ratio)
        m |= TRAIN_BIT(train_cfg_field_index("warmup_ratio"));
    if (d->has_weight_decay)
        m |= TRAIN_BIT(train_cfg_field_index("weight_decay"));
    return m;
}

void train_apply_method_defaults(struct train_cfg *t, const struct method_ops *const *ops, int nm,
                                 train_mask keep)
{
    /* last to first, so that the first method declaring a setting has the last word */
    for (int i = nm - 1; i >= 0; i--) {
        const struct method_train *d = &ops[i]->train;
        struct train_cfg def = *t;
        if (d->lr > 0)
            def.lr = d->lr;
        if (d->epochs > 0)
            def.epochs = d->epochs;
        if (d->has_warmup_ratio)
            def.warmup_ratio = d->warmup_ratio;
        if (d->has_weight_decay)
            def.weight_decay = d->weight_decay;
        train_cfg_copy(t, &def, train_method_mask(d) & ~keep);
    }
}
