/* tests/worker/model/golden_ttl.c -- the golden test's online TLM trajectory and greedy
 * generations (see wgolden.h). The TLM step is written out here exactly as DESIGN §1
 * states it (select on ce > threshold, weight lamb * exp(ce - threshold) as a constant,
 * loss = sum_sel w ce / n_sel with batch 1, clip 1.0, AdamW, constant lr, the optimizer
 * stepping even when nothing is selected), so the test checks the engine's pieces, not
 * a loop that could share a bug with them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "tests/worker/wgolden.h"
#include "tests/worker/wtest.h"
#include "worker/model/generate.h"
#include "worker/adapter/optim.h"

/* Keeps the worst |got - want| / max(|want|, floor); floor 0 means absolute error. */
static void track(double *worst, double got, double want, double floor) {
    double d = fabs(got - want);
    if (floor > 0)
        d /= fabs(want) > floor ? fabs(want) : floor;
    if (d > *worst || isnan(d))
        *worst = d;
}

int wg_check_ttl(GoldenCase *gc) {
    Err err = {{0}};
    int64_t n_tok, n;
    int32_t *tok = wt_get_i32(gc->st, "ttl.tokens", -1, &n_tok);
    int32_t *lens = wt_get_i32(gc->st, "ttl.seq_lens", -1, &n);
    float *w_ce = wt_get_f32(gc->st, "ttl.ce", n, NULL);
    int32_t *w_sel = wt_get_i32(gc->st, "ttl.selected", n, NULL);
    float *w_weight = wt_get_f32(gc->st, "ttl.weight", n, NULL);
    float *w_loss = wt_get_f32(gc->st, "ttl.loss", n, NULL);
    float *w_norm = wt_get_f32(gc->st, "ttl.grad_norm", n, NULL);
    const double thr = wg_num(gc, "ttl", "threshold", 3.0);
    const double lamb = wg_num(gc, "ttl", "lamb", 0.1);
    const double lr = wg_num(gc, "ttl", "lr", 5e-5);
    LoraConfig lc = {.rank = (int32_t)wg_num(gc, "ttl", "lora_r", 8),
                     .alpha = (float)wg_num(gc, "ttl", "lora_alpha", 16),
                     .targets = wg_targets(gc, "ttl", LORA_BIT(LORA_Q) | LORA_BIT(LORA_V))};
    OptimConfig oc = optim_defaults();
    oc.max_grad_norm = wg_num(gc, "ttl", "max_grad_norm", 1.0);
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(gc->m), gc->ops, &err), "lora", err.msg);
    tu_check_rc(lora_load(&l, tu_path(gc->dir, "golden.safetensors"), "ttl.init.", &err),
                "lora_load", err.msg);
    Optim opt;
    optim_init(&opt, &oc);

    int fails = 0, n_sel = 0;
    double e_ce = 0, e_w = 0, e_loss = 0, e_norm = 0;
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        float ce;
        tu_check_rc(model_forward(gc->m, &l, tok + off, &lens[i], 1, 1, &ce, &err), "fwd",
                    err.msg);
        off += lens[i];
        const int sel = ce > thr;
        /* the weight is a constant: d loss / d ce = w / n_sel, n_sel = 1 when selected */
        const float w = (float)(lamb * exp((double)ce - thr));
        const float dce = sel ? w : 0.0f;
        const float loss = sel ? w * ce : 0.0f;
        if (sel != (w_sel[i] != 0))
            fails += tu_fail("%s ttl step %lld: selected %d, golden %d (ce %.7g, golden %.7g)",
                             gc->name, (long long)i, sel, w_sel[i], ce, w_ce[i]);
        n_sel += sel;
        track(&e_ce, ce, w_ce[i], 0);
        track(&e_w, w, w_weight[i], 1.0);
        track(&e_loss, loss, w_loss[i], 1.0);
        lora_zero_grads(&l);
        tu_check_rc(model_backward(gc->m, &l, &dce, &err), "backward", err.msg);
        const double norm = optim_step(&opt, &l, lr);
        track(&e_norm, norm, w_norm[i], 1e-6);
    }
    if (!(e_ce <= 1e-5))
        fails += tu_fail("%s ttl: per-step ce max abs err %.3g > 1e-5", gc->name, e_ce);
    if (!(e_w <= 1e-5) || !(e_loss <= 1e-5))
        fails += tu_fail("%s ttl: weight rel err %.3g, loss rel err %.3g > 1e-5", gc->name,
                         e_w, e_loss);
    if (!(e_norm <= 1e-4))
        fails += tu_fail("%s ttl: grad norm rel err %.3g > 1e-4", gc->name, e_norm);
    if (fails == 0)
        tu_note("%s ttl: %lld steps, %d selected; max err: ce %.2e abs, weight %.2e rel, "
                "loss %.2e rel, grad norm %.2e rel", gc->name, (long long)n, n_sel, e_ce, e_w,
                e_loss, e_norm);
    /* the final adapter: reuse the batch checker's comparison through lora.h */
    double worst = 0;
    char key[256], name[320];
    for (int64_t layer = 0; layer < l.n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(&l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            const int64_t na = lc.rank * v->n_in, nb = v->n_out * lc.rank;
            float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4);
            lora_download(&l, layer, (LoraTarget)t, 0, a, b);
            for (int is_b = 0; is_b < 2; is_b++) {
                lora_key(key, sizeof key, layer, (LoraTarget)t, is_b);
                snprintf(name, sizeof name, "ttl.final.%s", key);
                float *want = wt_get_f32(gc->st, name, is_b ? nb : na, NULL);
                const double r = tu_rel_norm_err(is_b ? b : a, want, is_b ? nb : na);
                if (r > worst || isnan(r))
                    worst = r;
                free(want);
            }
            free(a);
            free(b);
        }
    if (!(worst <= 1e-4))
        fails += tu_fail("%s ttl: final adapter norm-wise rel err %.3g > 1e-4", gc->name, worst);
    else
        if (fails == 0)
        tu_note("%s ttl: final adapter worst norm-wise rel err %.2e", gc->name, worst);
    lora_free(&l);
    free(tok);
    free(lens);
    free(w_ce);
    free(w_sel);
    free(w_weight);
    free(w_loss);
    free(w_norm);
    return fails;
}

int wg_check_gen(GoldenCase *gc) {
    Err err = {{0}};
    int64_t n_tok, n, n_out;
    int32_t *prompts = wt_get_i32(gc->st, "gen.prompts", -1, &n_tok);
    int32_t *lens = wt_get_i32(gc->st, "gen.prompt_lens", -1, &n);
    int32_t *want = wt_get_i32(gc->st, "gen.output", -1, &n_out);
    const int32_t max_new = (int32_t)(n_out / n);
    int32_t longest = 0;
    for (int64_t i = 0; i < n; i++)
        longest = lens[i] > longest ? lens[i] : longest;
    Generator *g = gen_open(gc->m, (int32_t)n, longest + max_new, &err);
    tu_check_rc(g == NULL, "gen_open", err.msg);
    int32_t *out = malloc((size_t)n_out * sizeof(int32_t));
    int32_t *out_lens = malloc((size_t)n * sizeof(int32_t));
    tu_check_rc(gen_run(g, NULL, prompts, lens, (int32_t)n, max_new, NULL, 0, out, out_lens,
                        &err), "gen_run", err.msg);
    int fails = 0, same = 0;
    for (int64_t s = 0; s < n; s++) {
        int row_ok = out_lens[s] == max_new;
        for (int32_t i = 0; row_ok && i < max_new; i++)
            row_ok = out[s * max_new + i] == want[s * max_new + i];
        same += row_ok;
        if (!row_ok) {
            fails += tu_fail("%s gen: prompt %lld differs", gc->name, (long long)s);
            for (int32_t i = 0; i < max_new; i++)
                if (out[s * max_new + i] != want[s * max_new + i]) {
                    printf("   first difference at %d: got %d want %d\n", i,
                           out[s * max_new + i], want[s * max_new + i]);
                    break;
                }
        }
    }
    if (fails == 0)
        tu_note("%s gen: %lld x %d greedy tokens identical", gc->name, (long long)n, max_new);
    gen_close(g);
    free(prompts);
    free(lens);
    free(want);
    free(out);
    free(out_lens);
    return fails;
}
