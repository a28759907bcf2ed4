/* worker/methods/method_entropy.c -- the step machinery shared by the entropy objectives (see
 * method_entropy.h). Positions: a sample with prompt length P and G kept generated
 * tokens is fed as prompt + gen[0..G-2] (P + G - 1 tokens); row P - 1 + j of its logits
 * is the distribution gen[j] was decoded from (greedy, so gen[j] is its argmax), for
 * j = 0..G-1. Those G rows are the "next-token distributions over the first 80
 * generated tokens" of the TLM paper's Tent baseline; gen[G-1] itself need not be fed.
 * The sample's objective is the mean entropy over its G rows. */
#include "worker/methods/method_entropy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ent_open(EntState *st, Model *m, Lora *lora, const MethodParams *p, int32_t max_seqs,
             int64_t max_len, float extra, int radial, Err *err) {
    if (model_tp(m, NULL) > 1)
        return err_set(err, "the entropy objectives (tent, eata, come) need the whole "
                            "vocabulary's distribution, and under parallel.tp > 1 each rank "
                            "holds a slice: use parallel.tp: 1 (dp still scales them)");
    memset(st, 0, sizeof *st);
    if (p->offline)
        return err_set(err, "the entropy objectives need the answers generated before the "
                            "update epoch: use method.setting: online");
    const ModelOptions mo = model_options(m);
    if (!mo.full_logits)
        return err_set(err, "the entropy objectives read the whole logits: the model must "
                            "be opened with ModelOptions.full_logits (Method.needs_logits)");
    st->max_tok = (int64_t)max_seqs * (max_len + ENT_GEN_TOKENS);
    if (mo.max_train_tokens < st->max_tok)
        return err_set(err, "a train pass of %d samples x (%lld input + %d generated) tokens "
                            "needs max_train_tokens >= %lld; the model was opened for %lld",
                       max_seqs, (long long)max_len, ENT_GEN_TOKENS, (long long)st->max_tok,
                       (long long)mo.max_train_tokens);
    st->m = m;
    st->lora = lora;
    st->ops = model_ops(m);
    st->V = model_config(m)->vocab_size;
    st->extra = extra;
    st->radial = radial;
    st->max_seqs = max_seqs;
    const size_t T = (size_t)st->max_tok, B = (size_t)max_seqs;
    st->tok = malloc(T * sizeof *st->tok);
    st->mask = calloc(T, sizeof *st->mask);
    st->ent = calloc(T, sizeof *st->ent);
    st->dent = calloc(T, sizeof *st->dent);
    st->lens = calloc(B, sizeof *st->lens);
    st->row0 = calloc(B, sizeof *st->row0);
    st->n_rows = calloc(B, sizeof *st->n_rows);
    st->mean_ent = calloc(B, sizeof *st->mean_ent);
    if (!st->tok || !st->mask || !st->ent || !st->dent || !st->lens || !st->row0 ||
        !st->n_rows || !st->mean_ent) {
        ent_close(st);
        return err_set(err, "out of memory for %lld token rows", (long long)T);
    }
    const Ops *o = st->ops;
    if ((st->d_mask = o->alloc(T * sizeof(int32_t), err)) == NULL ||
        (st->d_ent = o->alloc(T * sizeof(float), err)) == NULL ||
        (st->d_lse = o->alloc(T * sizeof(float), err)) == NULL ||
        (st->d_dent = o->alloc(T * sizeof(float), err)) == NULL) {
        ent_close(st);
        return err_prefix(err, "entropy rows (%lld tokens): ", (long long)T);
    }
    return 0;
}

void ent_close(EntState *st) {
    free(st->tok);
    free(st->mask);
    free(st->ent);
    free(st->dent);
    free(st->lens);
    free(st->row0);
    free(st->n_rows);
    free(st->mean_ent);
    if (st->ops != NULL) {
        st->ops->release(st->d_mask);
        st->ops->release(st->d_ent);
        st->ops->release(st->d_lse);
        st->ops->release(st->d_dent);
    }
    memset(st, 0, sizeof *st);
}

/* Packs prompt_i + gen_i[0..G-2] into st->tok and marks the G scored rows. */
static void pack(EntState *st, const MethodStep *s) {
    int64_t t = 0, in = 0;
    for (int32_t i = 0; i < s->n; i++) {
        const int32_t P = s->lens[i];
        const int32_t g = s->gen_lens[i] < ENT_GEN_TOKENS ? s->gen_lens[i] : ENT_GEN_TOKENS;
        const int32_t *gen = s->gen + (int64_t)i * s->gen_stride;
        memcpy(st->tok + t, s->tokens + in, (size_t)P * sizeof *st->tok);
        if (g > 1)
            memcpy(st->tok + t + P, gen, (size_t)(g - 1) * sizeof *st->tok);
        st->lens[i] = P + (g > 1 ? g - 1 : 0);
        st->row0[i] = (int32_t)(t + P - 1);
        st->n_rows[i] = g;
        for (int32_t j = 0; j < st->lens[i]; j++)
            st->mask[t + j] = j >= P - 1 && j < P - 1 + g;
        t += st->lens[i];
        in += P;
    }
    st->n_tok = t;
}

int ent_forward(EntState *st, MethodStep *s, Err *err) {
    if (s->gen == NULL || s->gen_lens == NULL)
        return err_set(err, "no generated answers in this step (the entropy objectives "
                            "need the online setting and optim.batch_size 1)");
    /* The score every method reports: the current model's input ce. */
    if (model_forward_masked(s->m, s->lora, s->tokens, s->lens, s->n, s->loss_mask,
                             0, s->ce, err) != 0 ||
        method_score_alt(s, err) != 0)
        return -1;
    pack(st, s);
    const Ops *o = st->ops;
    const int64_t T = st->n_tok;
    o->upload_raw(st->d_mask, st->mask, (size_t)T * sizeof(int32_t));
    /* s->dce is free until backward: it takes the train pass's (unused) ce. */
    if (model_forward(s->m, s->lora, st->tok, st->lens, s->n, 1, s->dce, err) != 0)
        return -1;
    o->entropy_fwd(st->d_ent, st->d_lse, model_logits(s->m, NULL), st->d_mask, st->extra, T,
                   st->V);
    o->download_raw(st->ent, st->d_ent, (size_t)T * sizeof(float));
    for (int32_t i = 0; i < s->n; i++) {
        double sum = 0;
        for (int32_t j = 0; j < st->n_rows[i]; j++)
            sum += st->ent[st->row0[i] + j];
        st->mean_ent[i] = st->n_rows[i] > 0 ? (float)(sum / st->n_rows[i]) : 0.0f;
    }
    return 0;
}

int ent_backward(EntState *st, MethodStep *s, int64_t n_sel_global, Err *err) {
    const int64_t T = st->n_tok;
    int any = 0;
    memset(st->dent, 0, (size_t)T * sizeof *st->dent);
    for (int32_t i = 0; i < s->n; i++) {
        if (!s->selected[i] || st->n_rows[i] == 0)
            continue;
        /* d (w_i mean_j H_ij / n_sel) / d H_ij; w_i is a constant (detached) */
        const float g = s->weight[i] / (float)((double)n_sel_global * st->n_rows[i]);
        for (int32_t j = 0; j < st->n_rows[i]; j++)
            st->dent[st->row0[i] + j] = g;
        any |= g != 0.0f;
    }
    if (!any)
        return 0; /* nothing selected here: a zero gradient (the train pass is dropped) */
    const Ops *o = st->ops;
    o->upload_raw(st->d_dent, st->dent, (size_t)T * sizeof(float));
    void *dl = model_dlogits(s->m);
    o->entropy_bwd(dl, dl, st->d_lse, st->d_ent, st->d_dent, st->extra, st->radial, T, st->V);
    return model_backward_logits(s->m, s->lora, err);
}

int ent_state_open(void **state, Model *m, Lora *lora, const MethodParams *p,
                   int32_t max_seqs, int64_t max_len, float extra, int radial, Err *err) {
    EntState *st = calloc(1, sizeof *st);
    if (st == NULL)
        return err_set(err, "out of memory");
    if (ent_open(st, m, lora, p, max_seqs, max_len, extra, radial, err) != 0) {
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

void ent_state_close(void *state) {
    if (state == NULL)
        return;
    ent_close(state);
    free(state);
}

int ent_score_all(MethodStep *s, Err *err) {
    s->loss_sum = 0;
    if (s->n == 0)
        return 0;
    EntState *st = s->state;
    if (ent_forward(st, s, err) != 0)
        return -1;
    for (int32_t i = 0; i < s->n; i++) {
        s->selected[i] = st->n_rows[i] > 0;
        s->weight[i] = s->selected[i] ? 1.0f : 0.0f;
        s->loss_sum += s->weight[i] * (double)st->mean_ent[i];
    }
    return 0;
}

int ent_step_backward(MethodStep *s, int64_t n_sel_global, Err *err) {
    if (s->n == 0)
        return 0;
    return ent_backward(s->state, s, n_sel_global, err);
}
