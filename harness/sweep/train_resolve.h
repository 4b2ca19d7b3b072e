/*
 * train_resolve: which value each train setting of a trial takes, given the
 * global defaults, the methods' published defaults, the sweep file and the
 * command line.
 *
 * Precedence, highest first (README "Per-method training defaults"):
 *   1. a command-line override of the top-level train (`train.lr=1e-4`);
 *   2. the method block's `train:` or `tune:` value;
 *   3. the sweep's top-level `train:`;
 *   4. the method's published default (struct method_train in methods/method.h);
 *      in a composed block the first method that declares the setting;
 *   5. the global default (train_cfg_default).
 * Level 3 beats level 4 on purpose: a sweep that writes `train: {lr: 1e-3}`
 * asks for one learning rate for every method, so a sweep that wants the
 * methods' own rates leaves lr out of its top-level train:.
 */
#ifndef HARNESS_TRAIN_RESOLVE_H
#define HARNESS_TRAIN_RESOLVE_H

#include "harness/sweep/train_cfg.h"
#include "methods/method.h"

/* Set the published defaults of ops[0..nm) into t, except the fields in keep
 * (those the sweep file or the command line set).  Earlier methods win. */
void train_apply_method_defaults(struct train_cfg *t, const struct method_ops *const *ops, int nm,
                                 train_mask keep);

/* The fields a method's published defaults set. */
train_mask train_method_mask(const struct method_train *d);

#endif
