/* tests/worker/model/tp_checks.c -- the tp model against the tp = 1 reference each rank holds, and
 * against the goldens where the case has them (tests/ref/make_golden.py):
 *   batch: logits and per-sample ce within 1e-5 relative of tp = 1; LoRA gradients,
 *     gathered, within 1e-5 norm-wise per tensor; lora_save byte-identical to tp = 1;
 *   TTL (DESIGN §1 TLM steps, batch 1, clip 1.0, AdamW): per-step ce 1e-5, grad norm
 *     1e-5, the final adapter 1e-4 (and vs the golden's), the adapter bit-identical
 *     across dp replicas after every step (tp x dp runs feed every replica the same
 *     sample, sum the gradients over dp and divide by dp, as the loop's all-reduce does);
 *   generation: greedy tokens identical to tp = 1 and to the golden;
 *   the chunked lm_head + cross-entropy of a tp model: ce and LoRA gradients as above;
 *   activation recomputation (gradient_checkpointing) at the same tp: ce and this rank's
 *     LoRA gradients bit-equal to the tp model that keeps its activations.
 * Every number is world-reduced; every function returns the world-summed failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "tests/worker/model/tptest.h"
#include "tests/worker/wtest.h"
#include "worker/model/generate.h"
#include "worker/adapter/optim.h"

/* Both adapters with the same values: the golden init, or random values set on the
 * reference and scattered into the sharded one (lora_scatter). */
static void adapters(TpCase *tc, const LoraConfig *lc, const char *prefix, Lora *l,
                     Lora *ref) {
    Err err = {{0}};
    const ModelConfig *cfg = model_config(tc->m);
    tu_check_rc(lora_alloc_tp(l, lc, cfg, model_ops(tc->m), tc->comm, &err), "lora_alloc_tp",
                err.msg);
    tu_check_rc(lora_alloc(ref, lc, cfg, model_ops(tc->ref), &err), "lora_alloc", err.msg);
    if (prefix != NULL) {
        const char *path = tu_path(tc->dir, "golden.safetensors");
        tu_check_rc(lora_load(l, path, prefix, &err), "lora_load", err.msg);
        tu_check_rc(lora_load(ref, path, prefix, &err), "lora_load (tp = 1)", err.msg);
        return;
    }
    wt_lora_randomize(ref, 77, 0.2f);
    float *full = malloc((size_t)ref->n_full * 4);
    tu_check_rc(lora_gather(ref, LORA_PARAMS, full, &err), "lora_gather", err.msg);
    lora_scatter(l, LORA_PARAMS, full);
    free(full);
}

static double rel(double got, double want) {
    const double d = fabs(got - want) / (fabs(want) > 1e-30 ? fabs(want) : 1.0);
    return isnan(d) ? INFINITY : d;
}

/* The saved files of both adapters are the same bytes (tp rank 0 writes the tp one). */
static int check_save(TpCase *tc, Lora *l, Lora *ref) {
    Err err = {{0}};
    char a[4096], b[4096];
    const int tp = comm_size(tc->comm, COMM_TP), dpr = comm_rank(tc->comm, COMM_DP);
    snprintf(a, sizeof a, "%s/tp_%s_tp%d_dp%d.safetensors", tu_tmp_dir(), tc->name, tp, dpr);
    snprintf(b, sizeof b, "%s/tp_%s_ref_r%d.safetensors", tu_tmp_dir(), tc->name,
             tc->world_rank);
    tu_check_rc(lora_save(l, a, &err), "lora_save", err.msg);
    tu_check_rc(lora_save(ref, b, &err), "lora_save (tp = 1)", err.msg);
    int bad = 0;
    if (comm_rank(tc->comm, COMM_TP) == 0) {
        size_t na, nb;
        char *fa = tu_read_file(a, &na), *fb = tu_read_file(b, &nb);
        bad = fa == NULL || fb == NULL || na != nb || memcmp(fa, fb, na) != 0;
        free(fa);
        free(fb);
    }
    if (tp_sum_int(tc->comm, bad) != 0)
        return tp_fail(tc, "lora_save under tp differs from the tp = 1 file");
    tp_note(tc, "lora_save: the tp file is byte-identical to the tp = 1 one");
    return 0;
}

/* lora_init draws the full A and keeps this rank's slice: the same adapter at any tp,
 * exactly (the gathered params equal the tp = 1 ones bit for bit). */
static int check_init(TpCase *tc) {
    Err err = {{0}};
    Lora l, ref;
    const ModelConfig *cfg = model_config(tc->m);
    tu_check_rc(lora_alloc_tp(&l, &tc->lc, cfg, model_ops(tc->m), tc->comm, &err), "alloc",
                err.msg);
    tu_check_rc(lora_alloc(&ref, &tc->lc, cfg, model_ops(tc->ref), &err), "alloc", err.msg);
    lora_init(&l, 42);
    lora_init(&ref, 42);
    double whole;
    const double e = tp_adapter_err(tc, &l, &ref, LORA_PARAMS, &whole);
    lora_free(&l);
    lora_free(&ref);
    if (e != 0.0 || whole != 0.0)
        return tp_fail(tc, "lora_init under tp differs from tp = 1: rel err %.3g", e);
    tp_note(tc, "lora_init under tp: gathered adapter bit-identical to tp = 1");
    return 0;
}

static int check_chunked(TpCase *tc, Lora *l, Lora *ref, const float *dce,
                         const float *ce_ref);
static int check_recompute(TpCase *tc, Lora *l, const float *dce);

int tp_check_batch(TpCase *tc) {
    Err err = {{0}};
    Lora l, ref;
    int fails = check_init(tc);
    adapters(tc, &tc->lc, tc->init_prefix, &l, &ref);
    const int32_t n = (int32_t)tc->n_seqs;
    float *ce = calloc((size_t)n, 4), *ce_ref = calloc((size_t)n, 4), *dce = calloc((size_t)n, 4);
    /* base model, then the adapter with a backward */
    tu_check_rc(model_forward(tc->m, NULL, tc->tok, tc->lens, n, 0, ce, &err), "fwd", err.msg);
    tu_check_rc(model_forward(tc->ref, NULL, tc->tok, tc->lens, n, 0, ce_ref, &err), "fwd",
                err.msg);
    double e_base = tp_logits_err(tc), e_ce = 0;
    for (int32_t s = 0; s < n; s++)
        e_ce = fmax(e_ce, rel(ce[s], ce_ref[s]));
    tu_check_rc(model_forward(tc->m, &l, tc->tok, tc->lens, n, 1, ce, &err), "fwd", err.msg);
    tu_check_rc(model_forward(tc->ref, &ref, tc->tok, tc->lens, n, 1, ce_ref, &err), "fwd",
                err.msg);
    const double e_lora = tp_logits_err(tc);
    for (int32_t s = 0; s < n; s++) {
        e_ce = fmax(e_ce, rel(ce[s], ce_ref[s]));
        dce[s] = 1.0f;
    }
    e_ce = tp_max(tc->comm, e_ce);
    const double tol = tc->tol > 0 ? tc->tol : 1e-5;
    if (!(e_base <= tol && e_lora <= tol && e_ce <= tol))
        fails += tp_fail(tc, "batch vs tp = 1: logits rel err base %.3g, lora %.3g, ce %.3g "
                         "> %.0e", e_base, e_lora, e_ce, tol);
    else
        tp_note(tc, "batch vs tp = 1: logits rel err (max|d|/max|want|) base %.2e, lora "
                "%.2e; ce rel err %.2e", e_base, e_lora, e_ce);
    if (tc->golden != NULL && tc->init_prefix != NULL) {
        float *want = wt_get_f32(tc->golden, "batch.ce_lora", n, NULL);
        double e = 0;
        for (int32_t s = 0; s < n; s++)
            e = fmax(e, fabs((double)ce[s] - want[s]));
        free(want);
        e = tp_max(tc->comm, e);
        fails += !(e <= 1e-5) ? tp_fail(tc, "batch ce vs golden: abs err %.3g > 1e-5", e) : 0;
        if (e <= 1e-5)
            tp_note(tc, "batch ce vs golden: max abs err %.2e", e);
    }
    lora_zero_grads(&l);
    lora_zero_grads(&ref);
    tu_check_rc(model_backward(tc->m, &l, dce, &err), "backward", err.msg);
    tu_check_rc(model_backward(tc->ref, &ref, dce, &err), "backward (tp = 1)", err.msg);
    /* criterion: the whole gradient norm-wise (1e-5); per tensor as the golden test does
     * (1e-4): a small tensor amplifies fp32 reduction-order differences */
    double e_whole;
    const double e_g = tp_adapter_err(tc, &l, &ref, LORA_GRADS, &e_whole);
    if (!(e_whole <= tol && e_g <= 10 * tol))
        fails += tp_fail(tc, "LoRA gradients vs tp = 1: norm-wise rel err %.3g (%.0e), worst "
                         "tensor %.3g (%.0e)", e_whole, tol, e_g, 10 * tol);
    else
        tp_note(tc, "LoRA gradients (gathered) vs tp = 1: norm-wise rel err %.2e, worst "
                "tensor %.2e", e_whole, e_g);
    if (tc->golden != NULL && tc->init_prefix != NULL) {
        const double e = tp_adapter_golden_err(tc, &l, LORA_GRADS, "lora.grad.");
        fails += !(e <= 1e-4) ? tp_fail(tc, "LoRA gradients vs golden: %.3g > 1e-4", e) : 0;
        if (e <= 1e-4)
            tp_note(tc, "LoRA gradients (gathered) vs golden: worst norm-wise rel err %.2e", e);
    }
    fails += check_save(tc, &l, &ref);
    fails += check_chunked(tc, &l, &ref, dce, ce_ref);
    fails += check_recompute(tc, &l, dce);
    lora_free(&l);
    lora_free(&ref);
    free(ce);
    free(ce_ref);
    free(dce);
    return tp_sum_int(tc->comm, fails) > 0;
}

/* The chunked lm_head + cross-entropy under tp (worker/model/forward.c head_xent): a tp
 * model opened without full_logits, chunks of C = max(7, batch) rows (so the batch spans
 * several, the last partial), the vocabulary-parallel statistics gathered per chunk and
 * the unit lm_head gradients scaled then summed over tp; per-sample ce and the LoRA
 * gradients of l (the sharded adapter the batch check used) against the whole-logits
 * tp = 1 reference's (ce_ref, ref's grads), within the batch check's bounds. */
static int check_chunked(TpCase *tc, Lora *l, Lora *ref, const float *dce,
                         const float *ce_ref) {
    Err err = {{0}};
    const int32_t n = (int32_t)tc->n_seqs;
    ModelOptions mo = model_options(tc->m);
    mo.full_logits = 0;
    mo.logit_rows = 7;
    mo.max_seqs = n;
    Model *m = model_open(tc->dir, ops_cpu(), &mo, &err);
    if (tp_sum_int(tc->comm, m == NULL) > 0) {
        model_close(m);
        return tp_fail(tc, "model_open (chunked) failed on some rank: %s", err.msg);
    }
    int64_t T = 0;
    for (int32_t s = 0; s < n; s++)
        T += tc->lens[s];
    const int64_t C = model_options(m).logit_rows;
    float *ce = calloc((size_t)n, 4);
    lora_zero_grads(l);
    tu_check_rc(model_forward(m, l, tc->tok, tc->lens, n, 1, ce, &err), "chunked fwd",
                err.msg);
    tu_check_rc(model_backward(m, l, dce, &err), "chunked backward", err.msg);
    double e_ce = 0, e_whole;
    for (int32_t s = 0; s < n; s++)
        e_ce = fmax(e_ce, rel(ce[s], ce_ref[s]));
    e_ce = tp_max(tc->comm, e_ce);
    const double e_g = tp_adapter_err(tc, l, ref, LORA_GRADS, &e_whole);
    model_close(m);
    free(ce);
    const double tol = tc->tol > 0 ? tc->tol : 1e-5;
    if (!(e_ce <= tol && e_whole <= tol && e_g <= 10 * tol))
        return tp_fail(tc, "chunked head (T %lld, C %lld) vs whole logits at tp = 1: ce rel "
                       "err %.3g, LoRA gradients %.3g, worst tensor %.3g", (long long)T,
                       (long long)C, e_ce, e_whole, e_g);
    tp_note(tc, "chunked head (T %lld, C %lld) vs whole logits at tp = 1: ce rel err %.2e, "
            "LoRA gradients norm-wise %.2e, worst tensor %.2e", (long long)T, (long long)C,
            e_ce, e_whole, e_g);
    return 0;
}

/* A train forward + backward of the batch on model m with the sharded adapter l: ce
 * (host, n_seqs) and this rank's gradients (owned-after-return). */
static float *train_pass(TpCase *tc, Model *m, Lora *l, const float *dce, float *ce) {
    Err err = {{0}};
    lora_zero_grads(l);
    tu_check_rc(model_forward(m, l, tc->tok, tc->lens, (int32_t)tc->n_seqs, 1, ce, &err),
                "train fwd", err.msg);
    tu_check_rc(model_backward(m, l, dce, &err), "backward", err.msg);
    float *g = malloc((size_t)l->n_params * sizeof *g);
    l->ops->download_raw(g, l->grads, (size_t)l->n_params * sizeof *g);
    return g;
}

/* Activation recomputation under tp (worker/model/backward.c: each layer's forward rerun,
 * its all-reduces included, before its backward): a tp model opened as tc->m but with
 * gradient_checkpointing gives this rank's ce and LoRA gradients bit for bit. */
static int check_recompute(TpCase *tc, Lora *l, const float *dce) {
    Err err = {{0}};
    const int32_t n = (int32_t)tc->n_seqs;
    ModelOptions mo = model_options(tc->m);
    mo.gradient_checkpointing = 1;
    Model *m = model_open(tc->dir, ops_cpu(), &mo, &err);
    if (tp_sum_int(tc->comm, m == NULL) > 0) {
        model_close(m);
        return tp_fail(tc, "model_open (recompute) failed on some rank: %s", err.msg);
    }
    float *ce = calloc((size_t)n, 4), *ce_ck = calloc((size_t)n, 4);
    float *g = train_pass(tc, tc->m, l, dce, ce), *g_ck = train_pass(tc, m, l, dce, ce_ck);
    const int bad = memcmp(ce, ce_ck, (size_t)n * 4) != 0 ||
                    memcmp(g, g_ck, (size_t)l->n_params * sizeof *g) != 0;
    const double e = tp_max(tc->comm, tu_rel_norm_err(g_ck, g, l->n_params));
    const int n_bad = tp_sum_int(tc->comm, bad);
    model_close(m);
    free(ce), free(ce_ck), free(g), free(g_ck);
    if (n_bad > 0)
        return tp_fail(tc, "recomputed activations vs kept at tp = %d: ce or LoRA gradients "
                       "differ on %d rank(s) (gradients norm-wise %.3g)",
                       comm_size(tc->comm, COMM_TP), n_bad, e);
    tp_note(tc, "recomputed activations vs kept at tp = %d: ce and every rank's LoRA "
            "gradients bit-equal", comm_size(tc->comm, COMM_TP));
    return 0;
}

/* One TLM step (DESIGN §1, batch 1) on model m: returns ce, steps the optimizer. dp_avg
 * sums the gradients over dp and divides by dp (every replica saw the same sample). */
static float tlm_step(TpCase *tc, Model *m, Lora *l, Optim *o, int64_t i, int64_t off,
                      int dp_avg, double *norm) {
    Err err = {{0}};
    float ce;
    tu_check_rc(model_forward(m, l, tc->ttl_tok + off, &tc->ttl_lens[i], 1, 1, &ce, &err),
                "ttl fwd", err.msg);
    const float w = (float)(tc->lamb * exp((double)ce - tc->thr));
    const float dce = ce > tc->thr ? w : 0.0f;
    lora_zero_grads(l);
    tu_check_rc(model_backward(m, l, &dce, &err), "ttl backward", err.msg);
    const int dp = comm_size(tc->comm, COMM_DP);
    if (dp_avg && dp > 1) {
        tu_check_rc(comm_all_reduce(tc->comm, COMM_DP, l->grads, l->n_params, COMM_F32,
                                    COMM_SUM, &err), "dp grads", err.msg);
        l->ops->scale(l->grads, 1.0f / (float)dp, l->n_params);
    }
    *norm = optim_step(o, l, tc->lr);
    return ce;
}

int tp_check_ttl(TpCase *tc, int n_steps) {
    Lora l, ref;
    adapters(tc, &tc->ttl_lc, tc->ttl_init_prefix, &l, &ref);
    Optim o, o_ref;
    optim_init(&o, NULL);
    optim_init(&o_ref, NULL);
    int fails = 0, diverged = 0, n_sel = 0;
    double e_ce = 0, e_norm = 0;
    float *w_ce = tc->golden != NULL && tc->ttl_init_prefix != NULL
                      ? wt_get_f32(tc->golden, "ttl.ce", tc->n_ttl, NULL)
                      : NULL;
    double e_golden = 0;
    int64_t off = 0;
    for (int64_t i = 0; i < n_steps && i < tc->n_ttl; i++) {
        double norm, norm_ref;
        const float ce = tlm_step(tc, tc->m, &l, &o, i, off, 1, &norm);
        const float ce_ref = tlm_step(tc, tc->ref, &ref, &o_ref, i, off, 0, &norm_ref);
        off += tc->ttl_lens[i];
        n_sel += ce_ref > tc->thr;
        e_ce = fmax(e_ce, rel(ce, ce_ref));
        e_norm = fmax(e_norm, rel(norm, norm_ref));
        if (w_ce != NULL)
            e_golden = fmax(e_golden, fabs((double)ce - w_ce[i]));
        diverged += !tp_dp_identical(tc, &l);
    }
    free(w_ce);
    e_ce = tp_max(tc->comm, e_ce);
    e_norm = tp_max(tc->comm, e_norm);
    e_golden = tp_max(tc->comm, e_golden);
    const double e_final = tp_adapter_err(tc, &l, &ref, LORA_PARAMS, NULL);
    const double tol = tc->tol > 0 ? tc->tol : 1e-5;
    if (!(e_ce <= tol && e_norm <= tol && e_final <= 10 * tol && e_golden <= 1e-5))
        fails += tp_fail(tc, "ttl vs tp = 1: ce %.3g, grad norm %.3g (%.0e), final adapter "
                         "%.3g (%.0e); ce vs golden %.3g abs", e_ce, e_norm, tol, e_final,
                         10 * tol, e_golden);
    else
        tp_note(tc, "ttl %d steps (%d selected) vs tp = 1: ce rel err %.2e, grad norm rel "
                "err %.2e, final adapter norm-wise rel err %.2e; ce vs golden %.2e abs",
                n_steps, n_sel, e_ce, e_norm, e_final, e_golden);
    if (tc->golden != NULL && tc->ttl_init_prefix != NULL) {
        const double e = tp_adapter_golden_err(tc, &l, LORA_PARAMS, "ttl.final.");
        fails += !(e <= 1e-4) ? tp_fail(tc, "ttl final adapter vs golden %.3g > 1e-4", e) : 0;
        if (e <= 1e-4)
            tp_note(tc, "ttl final adapter (gathered) vs golden: norm-wise rel err %.2e", e);
    }
    if (diverged > 0)
        fails += tp_fail(tc, "adapter differs across dp replicas after %d of %d steps",
                         diverged, n_steps);
    else if (comm_size(tc->comm, COMM_DP) > 1)
        tp_note(tc, "adapter bit-identical across %d dp replicas after each of %d steps",
                comm_size(tc->comm, COMM_DP), n_steps);
    lora_free(&l);
    lora_free(&ref);
    return tp_sum_int(tc->comm, fails) > 0;
}

int tp_check_gen(TpCase *tc) {
    Err err = {{0}};
    const int32_t n = (int32_t)tc->n_prompts, max_new = tc->max_new;
    int32_t longest = 0;
    for (int32_t i = 0; i < n; i++)
        longest = tc->prompt_lens[i] > longest ? tc->prompt_lens[i] : longest;
    int32_t *out = malloc((size_t)n * (size_t)max_new * 4), *lens = malloc((size_t)n * 4);
    int32_t *out_ref = malloc((size_t)n * (size_t)max_new * 4);
    int32_t *lens_ref = malloc((size_t)n * 4);
    Generator *g = gen_open(tc->m, n, longest + max_new, &err);
    tu_check_rc(g == NULL, "gen_open", err.msg);
    Generator *g_ref = gen_open(tc->ref, n, longest + max_new, &err);
    tu_check_rc(g_ref == NULL, "gen_open (tp = 1)", err.msg);
    tu_check_rc(gen_run(g, NULL, tc->prompts, tc->prompt_lens, n, max_new, NULL, 0, out, lens,
                        &err), "gen_run", err.msg);
    tu_check_rc(gen_run(g_ref, NULL, tc->prompts, tc->prompt_lens, n, max_new, NULL, 0,
                        out_ref, lens_ref, &err), "gen_run (tp = 1)", err.msg);
    int bad = memcmp(out, out_ref, (size_t)n * (size_t)max_new * 4) != 0 ||
              memcmp(lens, lens_ref, (size_t)n * 4) != 0;
    int bad_golden = 0;
    if (tc->golden != NULL && wt_has(tc->golden, "gen.output")) {
        int32_t *want = wt_get_i32(tc->golden, "gen.output", (int64_t)n * max_new, NULL);
        bad_golden = memcmp(out, want, (size_t)n * (size_t)max_new * 4) != 0;
        free(want);
    }
    int fails = 0;
    if (tp_sum_int(tc->comm, bad) + tp_sum_int(tc->comm, bad_golden) != 0)
        fails += tp_fail(tc, "greedy generations differ (from tp = 1: %s, from golden: %s)",
                         bad ? "yes" : "no", bad_golden ? "yes" : "no");
    else
        tp_note(tc, "greedy %d x %d tokens identical to tp = 1%s", n, max_new,
                tc->golden != NULL && wt_has(tc->golden, "gen.output") ? " and the golden"
                                                                       : "");
    gen_close(g);
    gen_close(g_ref);
    free(out);
    free(lens);
    free(out_ref);
    free(lens_ref);
    return tp_sum_int(tc->comm, fails) > 0;
}
