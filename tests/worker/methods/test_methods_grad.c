/* tests/worker/methods/test_methods_grad.c -- the entropy objectives (worker/methods/method_tent.c,
 * method_eata.c, method_come.c) through the whole model on the CPU backend: each
 * method's score and backward on a step of MT_N samples against the independent
 * reference of tests/worker/methods/mtest.c, and its LoRA gradients (all seven targets, rank 4,
 * random A and B) against central finite differences of the method's full loss
 *   tent  (1/n_sel) sum_sel mean_j H(softmax z_ij)
 *   come  (1/n_sel) sum_sel mean_j H(opinion of z_ij |z0_ij| / |z_ij|), K = V
 *   eata  (1/n_sel) sum_sel w_i mean_j H(softmax z_ij) + lambda sum F (theta - theta0)^2
 * with the selection, the weights and COME's norms held at the evaluation point (they
 * are detached). This checks the engine hook (model_backward_logits), the entropy ops,
 * the positions (rows P-1 .. P+G-2) and the weights in one go. EATA runs on dp rank 1
 * (entropy only) and dp rank 0 (+ its Fisher regulariser, F recomputed here from the
 * definition), on a model scaled so that some samples are above E0 = 0.4 ln V and some
 * below: the unselected ones must contribute nothing. Tolerances as
 * tests/worker/model/test_worker_grad.c (fp32 model, h = 4e-3): per probe 2e-4 + 2e-2 |fd|,
 * over the probes rel err <= 1e-2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/worker/methods/mtest.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"

#define EATA_LAMBDA 2000.0 /* as worker/methods/method_eata.c documents (EATA's fisher_alpha) */
#define N_PROBE 24
#define MAX_ROWS (MT_N * (MT_MAX_LEN + MT_GEN_STRIDE))

typedef struct Ref {
    const Method *meth;
    double extra;                 /* -inf, or log V for come */
    double norm0[MAX_ROWS];       /* come: row norms at the evaluation point */
    uint8_t sel[MT_N];
    double w[MT_N];
    int64_t n_sel;
    int reg;                      /* eata on dp rank 0 */
    float *theta0, *fisher;       /* (n_params) */
} Ref;

static double ref_loss(MtFixture *f, Lora *l, const Ref *r) {
    double mean[MT_N];
    int32_t rows[MT_N];
    mt_ref_entropy(f, l, r->extra, isinf(r->extra) ? NULL : r->norm0, NULL, mean, rows);
    double L = 0;
    for (int i = 0; i < MT_N; i++)
        if (r->sel[i])
            L += r->w[i] * mean[i] / (double)r->n_sel;
    if (r->reg)
        for (int64_t k = 0; k < l->n_params; k++) {
            const double d = (double)l->host[k] - r->theta0[k];
            L += EATA_LAMBDA * r->fisher[k] * d * d;
        }
    return L;
}

/* F = mean over the samples of the squared LoRA gradient of each prompt's ce. */
static void fisher_by_definition(MtFixture *f, Lora *l, float *fisher) {
    const Ops *o = l->ops;
    float *g = malloc((size_t)l->n_params * sizeof *g), one = 1.0f, ce;
    Err err = {{0}};
    memset(fisher, 0, (size_t)l->n_params * sizeof *fisher);
    int off = 0;
    for (int i = 0; i < MT_N; i++) {
        tu_check_rc(model_forward(f->m, l, f->tokens + off, &f->lens[i], 1, 1, &ce, &err),
                    "fisher fwd", err.msg);
        lora_zero_grads(l);
        tu_check_rc(model_backward(f->m, l, &one, &err), "fisher bwd", err.msg);
        o->download_raw(g, l->grads, (size_t)l->n_params * sizeof *g);
        for (int64_t k = 0; k < l->n_params; k++)
            fisher[k] += g[k] * g[k] / (float)MT_N;
        off += f->lens[i];
    }
    free(g);
}

/* The adapter the checks evaluate at (seed 32; check_method's theta0 uses seed 31). */
static void test_lora(Lora *l, const Model *m, uint64_t seed) {
    Err err = {{0}};
    LoraConfig lc = {.rank = 4, .alpha = 8.0f, .targets = LORA_ALL_TARGETS};
    tu_check_rc(lora_alloc(l, &lc, model_config(m), model_ops(m), &err), "lora_alloc", err.msg);
    wt_lora_randomize(l, seed, 0.3f);
}

static int check_method(MtFixture *f, const char *name, int dp_rank) {
    Err err = {{0}};
    const Ops *ops = model_ops(f->m);
    Ref *r = calloc(1, sizeof *r);
    r->meth = method_find(name);
    if (r->meth == NULL || r->meth->open == NULL || r->meth->gen_tokens != 80)
        return tu_fail("%s: not registered with open and 80 generated tokens", name);
    const int is_eata = strcmp(name, "eata") == 0, is_come = strcmp(name, "come") == 0;
    r->extra = is_come ? log((double)f->V) : -INFINITY;
    r->reg = is_eata && dp_rank == 0;
    Lora l;
    test_lora(&l, f->m, 31);
    r->theta0 = malloc((size_t)l.n_params * sizeof(float));
    r->fisher = calloc((size_t)l.n_params, sizeof(float));
    memcpy(r->theta0, l.host, (size_t)l.n_params * sizeof(float));
    const MethodParams mp = {.threshold = 3.0, .lamb = 0.1, .offline = 0};
    void *state = NULL;
    tu_check_rc(r->meth->open(&state, f->m, &l, &mp, MT_N, MT_MAX_LEN, &err), "open", err.msg);
    wt_lora_randomize(&l, 32, 0.3f); /* theta != theta0: the regulariser has a gradient */
    if (r->reg)
        fisher_by_definition(f, &l, r->fisher);

    /* the reference first: its forwards must not come between score and backward */
    double mean[MT_N], nrm[MAX_ROWS];
    int32_t rows[MT_N];
    mt_ref_entropy(f, &l, r->extra, NULL, nrm, mean, rows);
    memcpy(r->norm0, nrm, sizeof nrm);
    float ce_ref[MT_N];
    tu_check_rc(model_forward(f->m, &l, f->tokens, f->lens, MT_N, 0, ce_ref, &err), "fwd",
                err.msg);
    MethodStep s = mt_step(f, &l, &mp, state, dp_rank);
    tu_check_rc(r->meth->score(&s, &err), "score", err.msg);
    const double e0 = 0.4 * log((double)f->V);
    int fails = 0, n_above = 0;
    double want_sum = 0;
    for (int i = 0; i < MT_N; i++) {
        r->sel[i] = rows[i] > 0 && (!is_eata || mean[i] < e0);
        r->w[i] = !r->sel[i] ? 0.0 : is_eata ? exp(e0 - mean[i]) : 1.0;
        r->n_sel += r->sel[i];
        n_above += rows[i] > 0 && mean[i] >= e0;
        want_sum += r->w[i] * mean[i];
        if (s.selected[i] != r->sel[i] || fabs(s.weight[i] - r->w[i]) > 1e-5 * (1 + r->w[i]))
            fails += tu_fail("%s: sample %d (H %.4f, E0 %.4f, G %d): selected %d weight %.6g, "
                             "want %d %.6g", name, i, mean[i], e0, rows[i], s.selected[i],
                             s.weight[i], r->sel[i], r->w[i]);
        if (fabsf(s.ce[i] - ce_ref[i]) > 1e-6f)
            fails += tu_fail("%s: sample %d score ce %.7g, input ce %.7g", name, i, s.ce[i],
                             ce_ref[i]);
    }
    if (fabs(s.loss_sum - want_sum) > 1e-5 * (1 + fabs(want_sum)))
        fails += tu_fail("%s: loss_sum %.8g, reference %.8g", name, s.loss_sum, want_sum);
    if (is_eata && (r->n_sel == 0 || n_above == 0))
        fails += tu_fail("eata: the fixture must put samples on both sides of E0 (%lld "
                         "selected, %d above)", (long long)r->n_sel, n_above);

    lora_zero_grads(&l); /* as the loop does between score and backward */
    if (r->n_sel > 0) /* the loop skips backward when nothing is selected */
        tu_check_rc(r->meth->backward(&s, r->n_sel, &err), "backward", err.msg);
    float *g = malloc((size_t)l.n_params * sizeof *g);
    ops->download_raw(g, l.grads, (size_t)l.n_params * sizeof *g);
    const float h = 4e-3f;
    double num = 0, den = 0, worst = 0, gmax = 0;
    for (int k = 0; k < N_PROBE; k++) {
        const int64_t i = (int64_t)((k + 0.5) * (double)l.n_params / N_PROBE);
        const float p0 = l.host[i];
        double lv[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            l.host[i] = p0 + (sgn ? -h : h);
            ops->upload_raw(l.params + i, &l.host[i], sizeof(float));
            lv[sgn] = ref_loss(f, &l, r);
        }
        l.host[i] = p0;
        ops->upload_raw(l.params + i, &l.host[i], sizeof(float));
        const double fd = (lv[0] - lv[1]) / (2.0 * (double)h), d = fabs(fd - g[i]);
        num += d * d;
        den += fd * fd;
        worst = fmax(worst, d);
        gmax = fmax(gmax, fabs(fd));
        if (d > 2e-4 + 2e-2 * fabs(fd))
            fails += tu_fail("%s dp%d: param %lld: analytic %.6g, finite difference %.6g", name,
                             dp_rank, (long long)i, g[i], fd);
    }
    const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    if (rel > 1e-2 || gmax == 0)
        fails += tu_fail("%s dp%d: gradient rel err %.3g over %d probes (max|fd| %.3g)", name,
                         dp_rank, rel, N_PROBE, gmax);
    else
        tu_note("%s dp%d: %lld/%d selected; gradient vs finite differences: rel err %.2e, "
                "max abs %.2e, max|g| %.2e (%d probes)", name, dp_rank, (long long)r->n_sel,
                MT_N, rel, worst, gmax, N_PROBE);
    r->meth->close(state);
    lora_free(&l);
    free(g);
    free(r->theta0);
    free(r->fisher);
    free(r);
    return fails;
}

/* The scale of the final norm that puts the samples on both sides of E0 under the
 * adapter the checks use. */
static double straddling_scale(void) {
    static const double scales[] = {1.0, 1.5, 2.0, 3.0, 4.0, 0.75, 0.5};
    const double e0 = 0.4 * log(40.0);
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        MtFixture f;
        mt_open(&f, "methods_probe", scales[k]);
        double mean[MT_N];
        int32_t rows[MT_N];
        Lora l;
        test_lora(&l, f.m, 32);
        mt_ref_entropy(&f, &l, -INFINITY, NULL, NULL, mean, rows);
        lora_free(&l);
        int below = 0, above = 0;
        for (int i = 0; i < MT_N; i++)
            if (rows[i] > 0)
                below += mean[i] < e0 - 0.05, above += mean[i] > e0 + 0.05;
        mt_close(&f);
        printf("final norm x%.2f: mean H", scales[k]);
        for (int i = 0; i < MT_N; i++)
            printf(" %.3f", mean[i]);
        printf("\n");
        if (below >= 2 && above >= 1) {
            printf("final norm x%.2f: %d samples below E0 = %.3f, %d above\n", scales[k],
                   below, e0, above);
            return scales[k];
        }
    }
    printf("FAIL: no final-norm scale puts samples on both sides of E0\n");
    exit(1);
}

int main(void) {
    MtFixture f;
    mt_open(&f, "methods_grad", straddling_scale());
    int fails = 0;
    fails += check_method(&f, "tent", 0);
    fails += check_method(&f, "come", 0);
    fails += check_method(&f, "eata", 1);
    fails += check_method(&f, "eata", 0);
    mt_close(&f);
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "PASSED", fails);
    return fails != 0;
}
