/* tests/worker/model/test_lora_stack.c -- a stack of adapters (worker/adapter/lora_stack.h)
 * through the model's per-row pass (model_forward_rows, kernels lora_rows_*) on the
 * golden tiny Llama (tests/data/golden/llama_gqa, GQA): each stacked adapter starts
 * bit-equal to the plain adapter of its seed; one pass over 5 sequences tagged with 3
 * adapters (out of order, one adapter on two sequences, one on none) gives every sequence
 * the masked ce of a pass with its adapter alone, and after the backward every adapter's
 * gradients equal those of a backward over its own sequences only (1e-5 norm-wise
 * relative: the pass has 22 rows, an adapter alone 1-11, and the CPU forward matmul sums
 * in another order from 16 rows on -- outer products instead of dot products -- which
 * moves the gradients by ~2e-6); an unused adapter's gradients are exactly 0. Also the
 * refusals: an index past the stack (naming the token), a stack without an index.
 * Exit status = failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/adapter/lora_stack.h"
#include "worker/model/model.h"

#define N_ADAPTERS 4 /* adapter 3 gets no sequence */
#define N_SEQS 5
static const int32_t SEQ_LENS[N_SEQS] = {6, 3, 7, 1, 5};
static const int32_t SEQ_ADAPTER[N_SEQS] = {2, 0, 1, 0, 2};
static const float DCE[N_SEQS] = {0.5f, 1.25f, 0.75f, 2.0f, 0.25f};

/* Adapter i's params (or grads) of every view, host (n_params). */
static float *download(const Lora *l, int grads) {
    float *x = malloc((size_t)l->n_params * sizeof *x);
    l->ops->download_raw(x, grads ? l->grads : l->params, (size_t)l->n_params * sizeof *x);
    return x;
}

/* The stacked pass against one pass per adapter over its own sequences. */
static int check_pass(Model *m, LoraStack *s, const int32_t *tok, const uint8_t *mask,
                      Lora *ref) {
    Err err = {{0}};
    int64_t T = 0, off[N_SEQS];
    for (int i = 0; i < N_SEQS; i++) {
        off[i] = T;
        T += SEQ_LENS[i];
    }
    int32_t *rows = malloc((size_t)T * sizeof *rows);
    for (int i = 0; i < N_SEQS; i++)
        for (int32_t k = 0; k < SEQ_LENS[i]; k++)
            rows[off[i] + k] = SEQ_ADAPTER[i];
    float ce[N_SEQS], want[N_SEQS] = {0};
    lora_stack_pack(s);
    tu_check_rc(model_forward_rows(m, &s->rows, rows, tok, SEQ_LENS, N_SEQS, mask, 1, ce, &err),
                "model_forward_rows", err.msg);
    tu_check_rc(model_backward(m, &s->rows, DCE, &err), "backward (stack)", err.msg);
    int fails = 0;
    for (int32_t a = 0; a < N_ADAPTERS; a++) {
        lora_stack_unpack_grads(s, a);
        /* the reference: adapter a's parameters in a plain adapter, its sequences alone */
        float *p = download(&s->one[a], 0);
        ref->ops->upload_raw(ref->params, p, (size_t)ref->n_params * sizeof *p);
        lora_zero_grads(ref);
        int32_t *tk = malloc((size_t)T * sizeof *tk), lens[N_SEQS], idx[N_SEQS];
        uint8_t *mk = malloc((size_t)T);
        float dce[N_SEQS], c[N_SEQS];
        int32_t n = 0;
        int64_t t = 0;
        for (int i = 0; i < N_SEQS; i++) {
            if (SEQ_ADAPTER[i] != a)
                continue;
            memcpy(tk + t, tok + off[i], (size_t)SEQ_LENS[i] * sizeof *tk);
            memcpy(mk + t, mask + off[i], (size_t)SEQ_LENS[i]);
            t += SEQ_LENS[i];
            lens[n] = SEQ_LENS[i];
            dce[n] = DCE[i];
            idx[n++] = i;
        }
        if (n > 0) {
            tu_check_rc(model_forward_masked(m, ref, tk, lens, n, mk, 1, c, &err),
                        "forward (one adapter)", err.msg);
            tu_check_rc(model_backward(m, ref, dce, &err), "backward (one adapter)", err.msg);
            for (int32_t j = 0; j < n; j++)
                want[idx[j]] = c[j];
        }
        float *g = download(&s->one[a], 1), *gw = download(ref, 1);
        if (n > 0) {
            fails += tu_compare_norm("grads of an adapter", g, gw, ref->n_params, 1e-5, NULL);
        } else {
            for (int64_t k = 0; k < ref->n_params && fails == 0; k++)
                if (g[k] != 0.0f)
                    fails += tu_fail("adapter %d has no sequence, grad[%lld] = %g", a,
                                     (long long)k, (double)g[k]);
        }
        free(p), free(g), free(gw), free(tk), free(mk);
    }
    for (int i = 0; i < N_SEQS; i++)
        if (!(fabs(ce[i] - want[i]) <= 1e-5 * fabs(want[i])))
            fails += tu_fail("sequence %d (adapter %d): ce %.9g, alone %.9g", i, SEQ_ADAPTER[i],
                             (double)ce[i], (double)want[i]);
    if (fails == 0)
        tu_note("%d sequences on %d adapters: ce and every adapter's gradients as alone",
                N_SEQS, N_ADAPTERS);
    /* refusals */
    rows[4] = N_ADAPTERS;
    if (model_forward_rows(m, &s->rows, rows, tok, SEQ_LENS, N_SEQS, mask, 1, ce, &err) == 0 ||
        strstr(err.msg, "token 4 of the pass: adapter index 4") == NULL)
        fails += tu_fail("an index past the stack: %s", err.msg);
    if (model_forward_masked(m, &s->rows, tok, SEQ_LENS, N_SEQS, mask, 1, ce, &err) == 0 ||
        strstr(err.msg, "needs a per-row adapter index") == NULL)
        fails += tu_fail("a stack without an index: %s", err.msg);
    free(rows);
    return fails;
}

int main(void) {
    Err err = {{0}};
    const Ops *ops = ops_cpu();
    Model *m = model_open(tu_path(tu_source_dir(), "tests/data/golden/llama_gqa"), ops, NULL,
                          &err);
    tu_check_rc(m == NULL, "model_open", err.msg);
    const ModelConfig *cfg = model_config(m);
    const LoraConfig lc = {.rank = 4, .alpha = 8, .targets = LORA_ALL_TARGETS};
    LoraStack s;
    Lora ref;
    tu_check_rc(lora_stack_alloc(&s, N_ADAPTERS, &lc, cfg, ops, NULL, NULL, &err),
                "lora_stack_alloc", err.msg);
    tu_check_rc(lora_alloc(&ref, &lc, cfg, ops, &err), "lora_alloc", err.msg);
    int fails = 0;
    for (int32_t a = 0; a < N_ADAPTERS; a++) { /* a stacked adapter is its seed's adapter */
        lora_stack_init(&s, a, 1000 + (uint64_t)a);
        lora_init(&ref, 1000 + (uint64_t)a);
        float *x = download(&s.one[a], 0), *y = download(&ref, 0);
        if (memcmp(x, y, (size_t)ref.n_params * sizeof *x) != 0)
            fails += tu_fail("stacked adapter %d differs from lora_init of its seed", a);
        free(x), free(y);
        /* B = 0 after init: random B too, so every path of the product is exercised */
        wt_lora_randomize(&s.one[a], 77 + (uint64_t)a, 0.1f);
    }
    int64_t T = 0;
    for (int i = 0; i < N_SEQS; i++)
        T += SEQ_LENS[i];
    int32_t *tok = malloc((size_t)T * sizeof *tok);
    uint8_t *mask = malloc((size_t)T);
    uint64_t rng = 5;
    for (int64_t t = 0; t < T; t++) {
        float u[2];
        wt_fill(u, 2, &rng, 0, 1);
        tok[t] = (int32_t)(u[0] * (float)cfg->vocab_size) % (int32_t)cfg->vocab_size;
        mask[t] = u[1] < 0.7f;
    }
    fails += check_pass(m, &s, tok, mask, &ref);
    free(tok);
    free(mask);
    lora_free(&ref);
    lora_stack_free(&s);
    model_close(m);
    return tu_report(fails);
}
