/*
 * pretrain build state: the log line, stop test and release of struct pt (contract in
 * build_state.h).
 */
#include "harness/pretrain/build_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* One log line (clears a progress line first on a terminal). */
void pt_say(struct pt *p, const char *fmt, ...)
{
    FILE *out = p->o->out;
    if (!out)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "%spretrain %s: ", p->o->tty ? "\r\033[K" : "", p->c->name);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
    fflush(out);
}

bool pt_stopped(const struct pt *p)
{
    return p->o->stop && *p->o->stop;
}

int pt_interrupted(struct err *e)
{
    return ERR_SET(e, ERR_STATE, "interrupted: pretraining abandoned, nothing was written");
}

void pt_free(struct pt *p)
{
    free(p->labels);
    free(p->pos);
    free(p->mids);
    free(p->special);
    if (p->have_head)
        mlm_head_destroy(&p->head);
    if (p->have_model)
        model_destroy(&p->m);
    tok_split_free(&p->held);
    tok_split_free(&p->train);
    tokenizer_free(p->tok);
    vocab_tokens_free(p->vocab, p->nvocab);
}
