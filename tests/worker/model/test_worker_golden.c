/* tests/worker/model/test_worker_golden.c -- the engine against tests/ref/make_golden.py
 * (PyTorch + transformers + peft), on each case dir tests/data/golden/<case>/:
 *   logits (base and LoRA): per sequence max|got - want| / max|want| <= 1e-4 (the
 *     criterion), also reported element-wise as max |got - want| / max(|want|, 1);
 *   per-sample ce: <= 1e-5 absolute;  LoRA gradients of sum_s ce_s: <= 1e-4 norm-wise
 *     relative per tensor;  batched forward == per-sequence forward;
 *   20 online TLM steps: each step's ce (1e-5), selection, weight, loss, grad norm, and
 *     the final adapter (1e-4 norm-wise relative per tensor);
 *   greedy generations from the base model: token-identical.
 * The logits are read from a model opened with ModelOptions.full_logits; ce, gradients,
 * the TLM steps and the generations are then checked again on a model that runs its
 * lm_head + cross-entropy in chunks of 8 rows (the default path: the batch's 68 tokens
 * in 9 chunks, the last partial), against the same goldens and bounds.
 * The case list is argv[1..] (default: llama_gqa qwen2_bias). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "tests/worker/wgolden.h"
#include "worker/model/generate.h"
#include "worker/model/model.h"
#include "worker/adapter/optim.h"

double wg_num(const GoldenCase *gc, const char *section, const char *key, double def) {
    json_t *sec = section != NULL ? json_object_get(gc->meta, section) : NULL;
    json_t *v = json_is_object(sec) ? json_object_get(sec, key) : NULL;
    if (v == NULL)
        v = json_object_get(gc->meta, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

uint32_t wg_targets(const GoldenCase *gc, const char *section, uint32_t def) {
    json_t *sec = section != NULL ? json_object_get(gc->meta, section) : NULL;
    json_t *a = json_is_object(sec) ? json_object_get(sec, "lora_targets") : NULL;
    if (a == NULL)
        a = json_object_get(gc->meta, "lora_targets");
    if (!json_is_array(a))
        return def;
    uint32_t bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        int t = json_is_string(v) ? lora_target_parse(json_string_value(v)) : -1;
        if (t >= 0)
            bits |= LORA_BIT(t);
    }
    return bits != 0 ? bits : def;
}

/* Logits of a pass (T, V) against want: per sequence max|d| / max|want| (criterion,
 * 1e-4) and element-wise max |d| / max(|want|, 1) (reported). */
static int check_logits(const GoldenCase *gc, const char *label, const float *want,
                        const int32_t *lens, int n_seqs) {
    int64_t T;
    const void *d_logits = model_logits(gc->m, &T);
    const int64_t V = model_config(gc->m)->vocab_size;
    float *got = malloc((size_t)(T * V) * sizeof(float));
    gc->ops->download(got, d_logits, T * V);
    double worst_seq = 0, worst_el = 0;
    int64_t off = 0;
    for (int s = 0; s < n_seqs; s++) {
        double md = 0, mw = 0;
        for (int64_t i = off * V; i < (off + lens[s]) * V; i++) {
            const double d = fabs((double)got[i] - want[i]), w = fabs((double)want[i]);
            md = d > md ? d : md;
            mw = w > mw ? w : mw;
            const double el = d / (w > 1.0 ? w : 1.0);
            worst_el = el > worst_el ? el : worst_el;
        }
        const double r = mw > 0 ? md / mw : md;
        worst_seq = r > worst_seq ? r : worst_seq;
        off += lens[s];
    }
    free(got);
    if (!(worst_seq <= 1e-4))
        return tu_fail("%s %s: logits rel err %.3g per sequence (max|d|/max|want|) > 1e-4; "
                       "element-wise (floor 1) %.3g", gc->name, label, worst_seq, worst_el);
    tu_note("%s %s: logits rel err %.2e per sequence (max|d|/max|want|), %.2e element-wise "
            "(|d|/max(|want|,1))", gc->name, label, worst_seq, worst_el);
    return 0;
}

static int check_ce(const GoldenCase *gc, const char *label, const float *got,
                    const float *want, int n, double tol) {
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        worst = d > worst || isnan(d) ? d : worst;
    }
    if (!(worst <= tol))
        return tu_fail("%s %s: ce max abs err %.3g > %.1g", gc->name, label, worst, tol);
    tu_note("%s %s: ce max abs err %.2e", gc->name, label, worst);
    return 0;
}

/* Every view of l (params or grads) against golden tensors prefix + PEFT key. */
static int check_adapter(const GoldenCase *gc, const Lora *l, int grads, const char *prefix,
                         double tol) {
    int fails = 0;
    double worst = 0;
    char key[256], name[320];
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            const int64_t na = l->cfg.rank * v->n_in, nb = v->n_out * l->cfg.rank;
            float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4);
            lora_download(l, layer, (LoraTarget)t, grads, a, b);
            for (int is_b = 0; is_b < 2; is_b++) {
                lora_key(key, sizeof key, layer, (LoraTarget)t, is_b);
                snprintf(name, sizeof name, "%s%s", prefix, key);
                float *want = wt_get_f32(gc->st, name, is_b ? nb : na, NULL);
                char label[400];
                snprintf(label, sizeof label, "%s %s", gc->name, name);
                double r;
                fails += tu_compare_norm(label, is_b ? b : a, want, is_b ? nb : na, tol, &r);
                worst = r > worst || isnan(r) ? r : worst;
                free(want);
            }
            free(a);
            free(b);
        }
    if (fails == 0)
        tu_note("%s %s*: worst norm-wise rel err %.2e", gc->name, prefix, worst);
    return fails;
}

/* The batch: base and LoRA logits (with_logits: the model keeps whole logits) and ce,
 * LoRA gradients of sum ce, packing. */
static int check_batch(GoldenCase *gc, int with_logits) {
    Err err = {{0}};
    int64_t n_tok, n_seqs;
    int32_t *tok = wt_get_i32(gc->st, "batch.tokens", -1, &n_tok);
    int32_t *lens = wt_get_i32(gc->st, "batch.seq_lens", -1, &n_seqs);
    const int64_t V = model_config(gc->m)->vocab_size;
    float *want_base = wt_get_f32(gc->st, "batch.logits_base", n_tok * V, NULL);
    float *want_lora = wt_get_f32(gc->st, "batch.logits_lora", n_tok * V, NULL);
    float *ce_base = wt_get_f32(gc->st, "batch.ce_base", n_seqs, NULL);
    float *ce_lora = wt_get_f32(gc->st, "batch.ce_lora", n_seqs, NULL);
    float ce[64], one[64];
    int fails = 0;

    tu_check_rc(model_forward(gc->m, NULL, tok, lens, (int32_t)n_seqs, 0, ce, &err), "fwd",
                err.msg);
    if (with_logits)
        fails += check_logits(gc, "base", want_base, lens, (int)n_seqs);
    fails += check_ce(gc, "base", ce, ce_base, (int)n_seqs, 1e-5);

    LoraConfig lc = {.rank = (int32_t)wg_num(gc, "batch", "lora_r", 8),
                     .alpha = (float)wg_num(gc, "batch", "lora_alpha", 16),
                     .targets = wg_targets(gc, "batch", LORA_ALL_TARGETS)};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(gc->m), gc->ops, &err), "lora", err.msg);
    tu_check_rc(lora_load(&l, tu_path(gc->dir, "golden.safetensors"), "lora.init.", &err),
                "lora_load", err.msg);
    tu_check_rc(model_forward(gc->m, &l, tok, lens, (int32_t)n_seqs, 1, ce, &err), "fwd",
                err.msg);
    if (with_logits)
        fails += check_logits(gc, "lora", want_lora, lens, (int)n_seqs);
    fails += check_ce(gc, "lora", ce, ce_lora, (int)n_seqs, 1e-5);
    float dce[64];
    for (int s = 0; s < n_seqs; s++)
        dce[s] = 1.0f; /* d(sum_s ce_s) / d ce_s */
    lora_zero_grads(&l);
    tu_check_rc(model_backward(gc->m, &l, dce, &err), "backward", err.msg);
    fails += check_adapter(gc, &l, 1, "lora.grad.", 1e-4);

    /* batched == one sequence at a time (with the adapter on) */
    int64_t off = 0;
    for (int s = 0; s < n_seqs; s++) {
        tu_check_rc(model_forward(gc->m, &l, tok + off, &lens[s], 1, 0, &one[s], &err), "fwd",
                    err.msg);
        if (with_logits)
            fails += check_logits(gc, "lora one-sequence", want_lora + off * V, &lens[s], 1);
        off += lens[s];
    }
    fails += check_ce(gc, "batched vs one-sequence", one, ce, (int)n_seqs, 1e-5);
    lora_free(&l);
    free(tok);
    free(lens);
    free(want_base);
    free(want_lora);
    free(ce_base);
    free(ce_lora);
    return fails;
}

int wg_run_case(const char *dir, const char *name) {
    GoldenCase gc = {.dir = dir, .name = name, .ops = ops_cpu()};
    json_error_t jerr;
    gc.meta = json_load_file(tu_path(dir, "golden.json"), 0, &jerr);
    if (gc.meta == NULL)
        return tu_fail("%s/golden.json: %s (line %d)", dir, jerr.text, jerr.line);
    gc.st = wt_st_open(tu_path(dir, "golden.safetensors"));
    Err err = {{0}};
    ModelOptions mo = {.full_logits = 1, .max_tokens = 1024, .max_seqs = 16,
                       .max_lora_rank = 16, .max_pos = 1024};
    gc.m = model_open(dir, gc.ops, &mo, &err);
    tu_check_rc(gc.m == NULL, "model_open", err.msg);
    int fails = check_batch(&gc, 1);
    model_close(gc.m);
    mo = (ModelOptions){.max_tokens = 1024, .max_seqs = 8, .max_lora_rank = 16,
                        .max_pos = 1024, .logit_rows = 8};
    gc.m = model_open(dir, gc.ops, &mo, &err);
    tu_check_rc(gc.m == NULL, "model_open (chunked)", err.msg);
    printf("-- %s, the lm_head in chunks of 8 rows\n", name);
    fails += check_batch(&gc, 0);
    fails += wg_check_ttl(&gc);
    fails += wg_check_gen(&gc);
    model_close(gc.m);
    st_close(gc.st);
    json_decref(gc.meta);
    return fails;
}


int main(int argc, char **argv) {
    const char *def[] = {"llama_gqa", "qwen2_bias"};
    const char **cases = argc > 1 ? (const char **)argv + 1 : def;
    const int n_cases = argc > 1 ? argc - 1 : 2;
    int fails = 0, ran = 0;
    for (int c = 0; c < n_cases; c++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/data/golden/%s", tu_source_dir(), cases[c]);
        char *probe = tu_read_file(tu_path(dir, "golden.safetensors"), NULL);
        if (probe == NULL) {
            printf("missing %s/golden.safetensors\n", dir);
            continue;
        }
        free(probe);
        ran++;
        printf("== case %s\n", cases[c]);
        fails += wg_run_case(dir, cases[c]);
    }
    if (ran == 0)
        tu_skip("no golden files yet (run tests/ref/make_golden.py)");
    if (ran < n_cases)
        fails += tu_fail("%d of %d golden cases missing", n_cases - ran, n_cases);
    return tu_report(fails);
}
