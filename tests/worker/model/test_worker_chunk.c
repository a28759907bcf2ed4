/* tests/worker/model/test_worker_chunk.c -- the chunked lm_head + cross-entropy
 * (worker/model/forward.c head_xent: the logits buffer holds C rows, a train pass forms
 * each row's unit lm_head input gradient at once and model_backward scales it by the
 * row's d loss) against the whole-logits path (ModelOptions.full_logits, today's code)
 * on the same model, adapter and batch: per-sample ce of an inference and a train pass
 * (with and without a loss mask) and the LoRA gradients of a backward whose per-sample
 * dce differ (one is 0), for chunks that divide T, that do not, and that exceed it. With
 * d loss / d loss_t a power of two the scale rounds nothing and both paths do the same
 * arithmetic (SmolLM2: bit-equal); with any dce they differ by where d loss multiplies
 * in (before the lm_head matmul, or after it), within 1e-6 (tiny) / 3e-6 (SmolLM2). A
 * chunk above T keeps the pass's logits for the backward, the whole-logits path: bit-equal.
 * Also: a chunked model refuses model_logits, model_dlogits and model_backward_logits.
 * No argument: a tiny random Llama (label cpu). "smollm2": SmolLM2-135M's Q4_1 GGUF read
 * in place from ../shared (V 49152; label shared, skipped without it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/model/model.h"

#define MAX_SEQS 4

typedef struct Case {
    const char *name, *path;
    ModelOptions mo;           /* the whole-logits model's; chunked: the same but C */
    const int32_t *lens;       /* MAX_SEQS */
    int32_t *tok;
    uint8_t *mask;             /* a loss mask over the batch */
    int64_t T;
} Case;

/* The worst |a - b| / |b| over n samples, and how many differ at all. */
static double ce_err(const float *a, const float *b, int n, int *n_diff) {
    double e = 0;
    *n_diff = 0;
    for (int i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]) / fmax(fabs((double)b[i]), 1e-30);
        e = d > e ? d : e;
        *n_diff += a[i] != b[i];
    }
    return e;
}

/* Per-sample ce of an inference pass, a train pass and a masked train pass, and the
 * gradients of both train passes' backwards (dce_mask, dce), added, into ce
 * (3 * MAX_SEQS) and g. */
static void run(const Case *c, Model *m, Lora *l, const float *dce_mask, const float *dce,
                float *ce, float *g) {
    Err err = {{0}};
    tu_check_rc(model_forward(m, l, c->tok, c->lens, MAX_SEQS, 0, ce, &err), "fwd", err.msg);
    tu_check_rc(model_forward_masked(m, l, c->tok, c->lens, MAX_SEQS, c->mask, 1,
                                     ce + MAX_SEQS, &err), "masked train fwd", err.msg);
    lora_zero_grads(l);
    tu_check_rc(model_backward(m, l, dce_mask, &err), "masked backward", err.msg);
    tu_check_rc(model_forward(m, l, c->tok, c->lens, MAX_SEQS, 1, ce + 2 * MAX_SEQS, &err),
                "train fwd", err.msg);
    tu_check_rc(model_backward(m, l, dce, &err), "backward", err.msg); /* adds */
    model_ops(m)->download_raw(g, l->grads, (size_t)l->n_params * sizeof(float));
}

static int check_refusals(const Case *c, Model *m, Lora *l) {
    Err err = {{0}};
    float ce[MAX_SEQS];
    int fails = 0;
    tu_check_rc(model_forward(m, l, c->tok, c->lens, MAX_SEQS, 1, ce, &err), "fwd", err.msg);
    if (model_logits(m, NULL) != NULL || model_dlogits(m) != NULL)
        fails += tu_fail("%s: a chunked model handed out its logits buffer", c->name);
    if (model_backward_logits(m, l, &err) == 0 || strstr(err.msg, "full_logits") == NULL)
        fails += tu_fail("%s: model_backward_logits on a chunked model: \"%s\"", c->name,
                         err.msg);
    return fails;
}

/* d ce_s / d loss_t = dce_s / n_pred_s is a power of two (w_s) when dce_s = w_s n_pred_s:
 * then scaling before the lm_head matmul (whole logits) or after it (chunks) rounds
 * nothing and the two paths must agree to the matmuls' summation order. */
static void pow2_dce(const Case *c, const float *w, const uint8_t *mask, float *dce) {
    int64_t t = 0;
    for (int s = 0; s < MAX_SEQS; s++) {
        int n = 0;
        for (int i = 0; i + 1 < c->lens[s]; i++)
            n += mask == NULL || mask[t + i + 1];
        dce[s] = w[s] * (float)n;
        t += c->lens[s];
    }
}

/* One chunked model (logit_rows C) against the whole-logits results for one dce set. */
static int compare(const Case *c, int64_t C, const char *what, double tol_g, const float *ce,
                   const float *ce_want, const float *g, const float *g_want, int64_t n) {
    int fails = 0, n_diff[3];
    /* one chunk holds the pass: the whole-logits path itself, bit for bit */
    const double tol_ce = C >= c->T ? 0 : 1e-6;
    tol_g = C >= c->T ? 0 : tol_g;
    const double e_inf = ce_err(ce, ce_want, MAX_SEQS, &n_diff[0]);
    const double e_msk = ce_err(ce + MAX_SEQS, ce_want + MAX_SEQS, MAX_SEQS, &n_diff[1]);
    const double e_trn = ce_err(ce + 2 * MAX_SEQS, ce_want + 2 * MAX_SEQS, MAX_SEQS,
                                &n_diff[2]);
    char label[200];
    snprintf(label, sizeof label, "%s T %lld C %lld (%s), %s: LoRA gradients", c->name,
             (long long)c->T, (long long)C,
             c->T % C == 0 ? "divides T" : C > c->T ? "above T" : "does not divide T", what);
    double e_g;
    fails += tu_compare_norm(label, g, g_want, n, tol_g, &e_g);
    if (!(e_inf <= tol_ce && e_msk <= tol_ce && e_trn <= tol_ce))
        fails += tu_fail("%s: ce rel err inference %.3g, masked train %.3g, train %.3g "
                         "> %.0e", label, e_inf, e_msk, e_trn, tol_ce);
    if (fails == 0)
        tu_note("%s: rel err %.2e (%.0e); ce rel err inference %.2e (%d of %d samples not "
                "bit-equal), masked train %.2e (%d), train %.2e (%d)", label, e_g, tol_g,
                e_inf, n_diff[0], MAX_SEQS, e_msk, n_diff[1], e_trn, n_diff[2]);
    return fails;
}

static int run_case(const Case *c, const int64_t *chunks, int n_chunks, double tol_any) {
    Err err = {{0}};
    ModelOptions mo = c->mo;
    mo.full_logits = 1;
    Model *full = model_open(c->path, ops_cpu(), &mo, &err);
    tu_check_rc(full == NULL, "model_open (whole logits)", err.msg);
    LoraConfig lc = {.rank = 4, .alpha = 8.0f, .targets = LORA_ALL_TARGETS};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(full), ops_cpu(), &err), "lora_alloc",
                err.msg);
    wt_lora_randomize(&l, 77, 0.3f);
    /* any dce (one 0: that sample's rows must vanish), and power-of-two d loss / d loss_t */
    const float dce[MAX_SEQS] = {1.0f, 0.3f, 0.0f, 2.7f}, w[MAX_SEQS] = {1.0f, 0.5f, 0.0f, 2.0f};
    float dce_pm[MAX_SEQS], dce_p[MAX_SEQS];
    pow2_dce(c, w, c->mask, dce_pm);
    pow2_dce(c, w, NULL, dce_p);
    float ce_want[2][3 * MAX_SEQS], ce[3 * MAX_SEQS];
    const size_t g_bytes = (size_t)l.n_params * sizeof(float);
    float *g_want[2] = {malloc(g_bytes), malloc(g_bytes)}, *g = malloc(g_bytes);
    run(c, full, &l, dce, dce, ce_want[0], g_want[0]);
    run(c, full, &l, dce_pm, dce_p, ce_want[1], g_want[1]);
    model_close(full);

    int fails = 0;
    for (int k = 0; k < n_chunks; k++) {
        mo = c->mo;
        mo.logit_rows = chunks[k];
        Model *m = model_open(c->path, ops_cpu(), &mo, &err);
        tu_check_rc(m == NULL, "model_open (chunked)", err.msg);
        const int64_t C = model_options(m).logit_rows;
        run(c, m, &l, dce, dce, ce, g);
        fails += compare(c, C, "dce {1, .3, 0, 2.7}", tol_any, ce, ce_want[0], g, g_want[0],
                         l.n_params);
        run(c, m, &l, dce_pm, dce_p, ce, g);
        fails += compare(c, C, "d loss_t {1, .5, 0, 2}", 1e-6, ce, ce_want[1], g, g_want[1],
                         l.n_params);
        if (k == 0)
            fails += check_refusals(c, m, &l);
        model_close(m);
    }
    lora_free(&l);
    free(g_want[0]);
    free(g_want[1]);
    free(g);
    return fails;
}

static void make_batch(Case *c, int64_t V) {
    c->T = wt_masked_batch(c->lens, MAX_SEQS, (int)V, &c->tok, &c->mask);
}

int main(int argc, char **argv) {
    int fails = 0;
    if (argc > 1 && strcmp(argv[1], "smollm2") == 0) {
        char path[4096];
        wt_smollm2_gguf(path, sizeof path);
        static const int32_t lens[MAX_SEQS] = {37, 50, 25, 16}; /* T 128 */
        Case c = {.name = "SmolLM2 Q4_1", .path = path, .lens = lens,
                  .mo = {.max_tokens = 160, .max_seqs = MAX_SEQS, .max_lora_rank = 4,
                         .max_pos = 64, .weight_format = WEIGHT_Q4_1,
                         .weight_file_types = 1}};
        make_batch(&c, 49152);
        const int64_t chunks[] = {64, 48, 256}; /* 128 = 2 x 64; 48 x 2 + 32; one chunk */
        /* any dce: 1.2e-6 measured, the d loss scale's rounding before the lm_head
         * matmul (whole) or after it (chunks), through 30 layers; power-of-two d loss
         * rounds nothing: bit-equal */
        fails += run_case(&c, chunks, 3, 3e-6);
        free(c.tok), free(c.mask);
        return tu_report(fails);
    }
    TinySpec llama = {.L = 2, .D = 16, .H = 4, .KVH = 2, .HD = 8, .F = 24, .V = 40,
                      .max_pos = 64, .qkv_bias = 0, .tie = 1, .seed = 11};
    const char *dir = tu_path(tu_tmp_dir(), "chunk_llama");
    wt_make_tiny_model(dir, &llama);
    static const int32_t lens[MAX_SEQS] = {5, 9, 3, 7}; /* T 24 */
    Case c = {.name = "tiny llama", .path = dir, .lens = lens,
              .mo = {.max_tokens = 32, .max_seqs = MAX_SEQS, .max_lora_rank = 4}};
    make_batch(&c, llama.V);
    const int64_t chunks[] = {8, 4, 7, 32}; /* 3 x 8; 6 x 4; 3 x 7 + 3; one chunk */
    fails += run_case(&c, chunks, 4, 1e-6);
    free(c.tok), free(c.mask);
    return tu_report(fails);
}
