/* tests/worker/model/test_worker_grad.c -- a whole train step through the full model on the
 * CPU backend, for LoRA on each target alone and on all seven: the LoRA gradients of
 * L = sum_s dce_s * ce_s against central finite differences of the forward, then one
 * clip + AdamW step checked against its closed form (first AdamW step moves each
 * parameter by -lr * sign(g)). Two tiny random models: Llama (GQA, explicit head_dim,
 * tied) and Qwen2 (q/k/v bias, untied). Also: batched forward == per-sequence forward,
 * a backward with all-zero dce adds nothing, and the loss mask of model_forward_masked
 * (all ones == no mask bit for bit; one marked token == its own -log p from the
 * unmasked ce of the sequence and of its prefix; gradients of a masked loss against
 * finite differences). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/model/model.h"
#include "worker/adapter/optim.h"

#define N_SEQS 3
static const int32_t SEQ_LENS[N_SEQS] = {7, 4, 1};
static const float DCE[N_SEQS] = {0.7f, 1.3f, 0.5f};

/* The loss mask the gradient checks run under (NULL: none). */
static const uint8_t *g_mask;

static double weighted_loss(Model *m, const Lora *l, const int32_t *tok) {
    float ce[N_SEQS];
    Err err = {{0}};
    tu_check_rc(model_forward_masked(m, l, tok, SEQ_LENS, N_SEQS, g_mask, 0, ce, &err),
                "forward", err.msg);
    double s = 0;
    for (int i = 0; i < N_SEQS; i++)
        s += (double)DCE[i] * ce[i];
    return s;
}

/* Gradient check of one adapter: analytic grads vs central differences at a spread of
 * parameter indices (both A and B of every layer are hit by the stride). */
static int check_grads(Model *m, Lora *l, const int32_t *tok, const char *label) {
    Err err = {{0}};
    float ce[N_SEQS];
    const Ops *ops = model_ops(m);
    tu_check_rc(model_forward_masked(m, l, tok, SEQ_LENS, N_SEQS, g_mask, 1, ce, &err),
                "train fwd", err.msg);
    lora_zero_grads(l);
    tu_check_rc(model_backward(m, l, DCE, &err), "backward", err.msg);
    float *g = malloc((size_t)l->n_params * sizeof(float));
    ops->download_raw(g, l->grads, (size_t)l->n_params * sizeof(float));

    const int n_probe = 24;
    const float h = 4e-3f;
    double num = 0, den = 0, worst = 0;
    int fails = 0;
    for (int k = 0; k < n_probe; k++) {
        const int64_t i = (int64_t)((k + 0.5) * (double)l->n_params / n_probe);
        const float p0 = l->host[i];
        l->host[i] = p0 + h;
        ops->upload_raw(l->params + i, &l->host[i], sizeof(float));
        const double lp = weighted_loss(m, l, tok);
        l->host[i] = p0 - h;
        ops->upload_raw(l->params + i, &l->host[i], sizeof(float));
        const double lm = weighted_loss(m, l, tok);
        l->host[i] = p0;
        ops->upload_raw(l->params + i, &l->host[i], sizeof(float));
        const double fd = (lp - lm) / (2.0 * (double)h);
        const double d = fabs(fd - g[i]);
        num += d * d;
        den += fd * fd;
        if (d > worst)
            worst = d;
        if (d > 2e-4 + 2e-2 * fabs(fd))
            fails += tu_fail("%s: param %lld: analytic %.6g, finite difference %.6g", label,
                             (long long)i, g[i], fd);
    }
    const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    if (rel > 1e-2)
        fails += tu_fail("%s: gradient rel err %.3g over %d probes", label, rel, n_probe);
    else
        tu_note("%s: gradient vs finite differences: rel err %.2e, max abs %.2e (%d probes)",
                label, rel, worst, n_probe);
    free(g);
    return fails;
}

/* One clip + AdamW step: the reported norm is the grads' norm, and each parameter with
 * a clear gradient moves by -lr * sign(g) (first AdamW step). */
static int check_step(Lora *l, const char *label) {
    const Ops *ops = l->ops;
    const int64_t n = l->n_params;
    float *g = malloc((size_t)n * sizeof(float)), *p = malloc((size_t)n * sizeof(float));
    ops->download_raw(g, l->grads, (size_t)n * sizeof(float));
    ops->download_raw(p, l->params, (size_t)n * sizeof(float));
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    Optim opt;
    optim_init(&opt, NULL);
    lora_reset_moments(l);
    const double lr = 1e-3;
    const double norm = optim_step(&opt, l, lr);
    int fails = 0;
    if (fabs(norm - sqrt(ss)) > 1e-6 * sqrt(ss))
        fails += tu_fail("%s: optim_step norm %.9g, expected %.9g", label, norm, sqrt(ss));
    float *q = malloc((size_t)n * sizeof(float));
    ops->download_raw(q, l->params, (size_t)n * sizeof(float));
    const double coef = norm > 1.0 ? 1.0 / (norm + 1e-6) : 1.0;
    int64_t bad = 0, checked = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(g[i] * coef) < 1e-4)
            continue;
        checked++;
        const double want = -(double)lr * (g[i] > 0 ? 1 : -1);
        if (fabs((q[i] - p[i]) - want) > 1e-3 * lr + 2e-7)
            bad++;
    }
    if (bad > 0 || checked == 0 || opt.step != 1)
        fails += tu_fail("%s: AdamW step: %lld of %lld parameters off, step %lld", label,
                         (long long)bad, (long long)checked, (long long)opt.step);
    free(g);
    free(p);
    free(q);
    return fails;
}

/* Batch of N_SEQS vs each sequence alone: same ce, same logits rows. */
static int check_batched(Model *m, const Lora *l, const int32_t *tok, const char *label) {
    Err err = {{0}};
    const Ops *ops = model_ops(m);
    const int64_t V = model_config(m)->vocab_size;
    int64_t T = 0;
    for (int s = 0; s < N_SEQS; s++)
        T += SEQ_LENS[s];
    float ce[N_SEQS], *all = malloc((size_t)(T * V) * sizeof(float));
    tu_check_rc(model_forward(m, l, tok, SEQ_LENS, N_SEQS, 0, ce, &err), "fwd", err.msg);
    ops->download(all, model_logits(m, NULL), T * V);
    int fails = 0;
    int64_t off = 0;
    for (int s = 0; s < N_SEQS; s++) {
        float one[1], *row = malloc((size_t)(SEQ_LENS[s] * V) * sizeof(float));
        tu_check_rc(model_forward(m, l, tok + off, &SEQ_LENS[s], 1, 0, one, &err), "fwd",
                    err.msg);
        ops->download(row, model_logits(m, NULL), SEQ_LENS[s] * V);
        if (fabsf(one[0] - ce[s]) > 1e-6f)
            fails += tu_fail("%s: seq %d ce batched %.9g alone %.9g", label, s, ce[s], one[0]);
        fails += tu_compare(label, row, all + off * V, SEQ_LENS[s] * V, 1e-5, 1e-5) > 0;
        off += SEQ_LENS[s];
        free(row);
    }
    free(all);
    return fails;
}

/* lora_init: A within PEFT's bound 1/sqrt(in) and spread across it, B = 0, the same seed
 * gives the same values; lora_save + lora_load round-trips every tensor exactly. */
static int check_init_and_io(const Model *m, const char *name) {
    Err err = {{0}};
    const Ops *ops = model_ops(m);
    LoraConfig lc = {.rank = 4, .alpha = 8.0f, .targets = LORA_ALL_TARGETS};
    Lora a, b;
    tu_check_rc(lora_alloc(&a, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
    tu_check_rc(lora_alloc(&b, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
    lora_init(&a, 42);
    int fails = 0;
    float *pa = malloc((size_t)a.n_params * 4), *pb = malloc((size_t)a.n_params * 4);
    ops->download_raw(pa, a.params, (size_t)a.n_params * 4);
    for (int64_t layer = 0; layer < a.n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(&a, layer, (LoraTarget)t);
            const float *A = pa + (v->a - a.params), *B = pa + (v->b - a.params);
            const double bound = 1.0 / sqrt((double)v->n_in);
            double amax = 0;
            for (int64_t i = 0; i < lc.rank * v->n_in; i++)
                amax = fmax(amax, fabs(A[i]));
            for (int64_t i = 0; i < v->n_out * lc.rank; i++)
                fails += B[i] != 0.0f;
            if (amax > bound || amax < 0.5 * bound)
                fails += tu_fail("%s: lora_init layer %lld %s: max|A| %.4g, bound %.4g", name,
                                 (long long)layer, lora_target_name((LoraTarget)t), amax, bound);
        }
    lora_init(&b, 42);
    ops->download_raw(pb, b.params, (size_t)a.n_params * 4);
    if (memcmp(pa, pb, (size_t)a.n_params * 4) != 0)
        fails += tu_fail("%s: lora_init is not deterministic", name);
    wt_lora_randomize(&a, 9, 0.5f);
    const char *path = tu_path(tu_tmp_dir(), "grad_adapter.safetensors");
    tu_check_rc(lora_save(&a, path, &err), "lora_save", err.msg);
    tu_check_rc(lora_load(&b, path, "", &err), "lora_load", err.msg);
    ops->download_raw(pa, a.params, (size_t)a.n_params * 4);
    ops->download_raw(pb, b.params, (size_t)a.n_params * 4);
    if (memcmp(pa, pb, (size_t)a.n_params * 4) != 0)
        fails += tu_fail("%s: lora_save + lora_load changed the adapter", name);
    LoraConfig lc8 = {.rank = 8, .alpha = 8.0f, .targets = LORA_ALL_TARGETS};
    Lora c;
    tu_check_rc(lora_alloc(&c, &lc8, model_config(m), ops, &err), "lora_alloc", err.msg);
    if (lora_load(&c, path, "", &err) == 0 || strstr(err.msg, "lora_A") == NULL)
        fails += tu_fail("%s: a rank-4 file loaded as rank 8 (%s)", name, err.msg);
    if (fails == 0)
        tu_note("%s: lora_init within PEFT's bound, deterministic; save/load round trip", name);
    lora_free(&c);
    lora_free(&a);
    lora_free(&b);
    free(pa);
    free(pb);
    return fails;
}

/* model_forward_masked: all ones is model_forward; marking only the last token of the
 * first sequence gives -log p(last | prefix) = (n - 1) ce(seq) - (n - 2) ce(prefix); a
 * masked loss's gradients against finite differences. */
static int check_mask(Model *m, Lora *l, const int32_t *tok, const char *name) {
    Err err = {{0}};
    int fails = 0;
    uint8_t ones[16], last[16] = {0}, some[16] = {0};
    memset(ones, 1, sizeof ones);
    float ce[N_SEQS], ce_m[N_SEQS];
    tu_check_rc(model_forward(m, l, tok, SEQ_LENS, N_SEQS, 0, ce, &err), "fwd", err.msg);
    tu_check_rc(model_forward_masked(m, l, tok, SEQ_LENS, N_SEQS, ones, 0, ce_m, &err),
                "masked fwd", err.msg);
    if (memcmp(ce, ce_m, sizeof ce) != 0)
        fails += tu_fail("%s: an all-ones loss mask changed the ce", name);
    const int32_t n = SEQ_LENS[0], n1 = n - 1;
    last[n - 1] = 1;
    float ce_last[N_SEQS], ce_pre;
    tu_check_rc(model_forward_masked(m, l, tok, SEQ_LENS, N_SEQS, last, 0, ce_last, &err),
                "masked fwd", err.msg);
    tu_check_rc(model_forward(m, l, tok, &n1, 1, 0, &ce_pre, &err), "prefix fwd", err.msg);
    const double want = (double)(n - 1) * ce[0] - (double)(n - 2) * ce_pre;
    if (fabs(ce_last[0] - want) > 1e-4 * (1.0 + fabs(want)) || ce_last[1] != 0.0f)
        fails += tu_fail("%s: masked ce of the last token %.7g, want %.7g (others %g)", name,
                         ce_last[0], want, ce_last[1]);
    /* a mask over parts of the first two sequences, for the gradient check */
    for (int i = 0; i < 16; i++)
        some[i] = (uint8_t)(i % 3 != 0);
    g_mask = some;
    char label[128];
    snprintf(label, sizeof label, "%.96s/masked", name);
    fails += check_grads(m, l, tok, label);
    g_mask = NULL;
    return fails;
}

static int run_model(const char *name, const TinySpec *spec) {
    const char *dir = tu_path(tu_tmp_dir(), name);
    wt_make_tiny_model(dir, spec);
    Err err = {{0}};
    const Ops *ops = ops_cpu();
    ModelOptions mo = {.full_logits = 1, .max_tokens = 32, .max_seqs = 4, .max_lora_rank = 4};
    Model *m = model_open(dir, ops, &mo, &err);
    tu_check_rc(m == NULL, "model_open", err.msg);
    int32_t tok[16];
    uint64_t s = spec->seed + 7;
    float r[16];
    wt_fill(r, 16, &s, 0, (double)spec->V);
    for (int i = 0; i < 16; i++)
        tok[i] = (int32_t)r[i] % (int32_t)spec->V;

    int fails = 0;
    for (int t = 0; t <= LORA_N_TARGETS; t++) {
        LoraConfig lc = {.rank = 4, .alpha = 8.0f,
                         .targets = t < LORA_N_TARGETS ? LORA_BIT(t) : LORA_ALL_TARGETS};
        Lora l;
        tu_check_rc(lora_alloc(&l, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
        wt_lora_randomize(&l, 100 + (uint64_t)t, 0.3f);
        char label[96];
        snprintf(label, sizeof label, "%s/%s", name,
                 t < LORA_N_TARGETS ? lora_target_name((LoraTarget)t) : "all");
        fails += check_grads(m, &l, tok, label);
        fails += check_step(&l, label);
        if (t == LORA_N_TARGETS) {
            fails += check_batched(m, &l, tok, label);
            wt_lora_randomize(&l, 100 + (uint64_t)t, 0.3f); /* the point check_grads used */
            fails += check_mask(m, &l, tok, label);
        }
        lora_free(&l);
    }
    fails += check_batched(m, NULL, tok, name);
    fails += check_init_and_io(m, name);

    /* a backward whose dce are all zero adds nothing (unselected TLM sample) */
    LoraConfig lc = {.rank = 2, .alpha = 4.0f, .targets = LORA_BIT(LORA_Q)};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
    lora_init(&l, 5);
    float ce[N_SEQS], zero[N_SEQS] = {0}, gsum = 0;
    tu_check_rc(model_forward(m, &l, tok, SEQ_LENS, N_SEQS, 1, ce, &err), "fwd", err.msg);
    lora_zero_grads(&l);
    tu_check_rc(model_backward(m, &l, zero, &err), "backward", err.msg);
    for (int64_t i = 0; i < l.n_params; i++) {
        float gi;
        ops->download_raw(&gi, l.grads + i, sizeof gi);
        gsum += fabsf(gi);
    }
    if (gsum != 0.0f)
        fails += tu_fail("%s: zero dce gave gradients (sum |g| %g)", name, gsum);
    if (model_backward(m, &l, DCE, &err) == 0)
        fails += tu_fail("%s: a second backward of one forward was accepted", name);
    lora_free(&l);
    model_close(m);
    return fails;
}

int main(void) {
    int fails = 0;
    TinySpec llama = {.L = 2, .D = 16, .H = 4, .KVH = 2, .HD = 8, .F = 24, .V = 40,
                      .max_pos = 64, .qkv_bias = 0, .tie = 1, .seed = 11};
    TinySpec qwen = {.L = 2, .D = 12, .H = 3, .KVH = 1, .HD = 4, .F = 20, .V = 36,
                     .max_pos = 64, .qkv_bias = 1, .tie = 0, .seed = 23};
    fails += run_model("grad_llama", &llama);
    fails += run_model("grad_qwen2", &qwen);
    return tu_report(fails);
}
