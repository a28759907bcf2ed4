/* tests/worker/model/test_worker_cuda.c -- the whole engine on the CUDA backend (bf16 weights
 * and activations, fp32 accumulation, fp32 LoRA) against the fp64 golden files, with
 * tolerances for bf16: logits per sequence max|d| / max|want| <= 3e-2, per-sample ce
 * <= 3e-2 absolute, LoRA gradients <= 1e-1 norm-wise relative; greedy generations run
 * through the KV cache and their agreement with the golden tokens is reported (bf16 may
 * flip near-ties, so it is not a criterion). Exits 77 (skipped) without a usable GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/model/generate.h"
#include "worker/model/model.h"

static int run_case(const Ops *ops, const char *name) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/data/golden/%s", tu_source_dir(), name);
    SafeTensors *st = wt_st_open(tu_path(dir, "golden.safetensors"));
    Err err = {{0}};
    ModelOptions mo = {.full_logits = 1, .max_tokens = 1024, .max_seqs = 16, .max_lora_rank = 16, .max_pos = 1024};
    Model *m = model_open(dir, ops, &mo, &err);
    tu_check_rc(m == NULL, "model_open", err.msg);
    const int64_t V = model_config(m)->vocab_size;
    int64_t n_tok, n_seqs;
    int32_t *tok = wt_get_i32(st, "batch.tokens", -1, &n_tok);
    int32_t *lens = wt_get_i32(st, "batch.seq_lens", -1, &n_seqs);
    float *want = wt_get_f32(st, "batch.logits_lora", n_tok * V, NULL);
    float *want_ce = wt_get_f32(st, "batch.ce_lora", n_seqs, NULL);
    float *got = malloc((size_t)(n_tok * V) * sizeof(float)), ce[64], dce[64];
    int fails = 0;

    LoraConfig lc = {.rank = 8, .alpha = 16, .targets = LORA_ALL_TARGETS};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m), ops, &err), "lora_alloc", err.msg);
    tu_check_rc(lora_load(&l, tu_path(dir, "golden.safetensors"), "lora.init.", &err),
                "lora_load", err.msg);
    tu_check_rc(model_forward(m, &l, tok, lens, (int32_t)n_seqs, 1, ce, &err), "fwd", err.msg);
    ops->download(got, model_logits(m, NULL), n_tok * V);
    double worst = 0, worst_ce = 0;
    for (int64_t s = 0, off = 0; s < n_seqs; off += lens[s], s++) {
        double md = 0, mw = 0;
        for (int64_t i = off * V; i < (off + lens[s]) * V; i++) {
            md = fmax(md, fabs((double)got[i] - want[i]));
            mw = fmax(mw, fabs((double)want[i]));
        }
        worst = fmax(worst, md / mw);
        worst_ce = fmax(worst_ce, fabs((double)ce[s] - want_ce[s]));
        dce[s] = 1.0f;
    }
    if (!(worst <= 3e-2) || !(worst_ce <= 3e-2))
        fails += tu_fail("%s cuda: logits rel err %.3g, ce abs err %.3g", name, worst, worst_ce);
    else
        tu_note("%s cuda: logits rel err %.2e, ce abs err %.2e", name, worst, worst_ce);

    lora_zero_grads(&l);
    tu_check_rc(model_backward(m, &l, dce, &err), "backward", err.msg);
    double worst_g = 0;
    char key[256], gname[320];
    for (int64_t layer = 0; layer < l.n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(&l, layer, (LoraTarget)t);
            const int64_t na = 8 * v->n_in, nb = v->n_out * 8;
            float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4);
            lora_download(&l, layer, (LoraTarget)t, 1, a, b);
            for (int is_b = 0; is_b < 2; is_b++) {
                lora_key(key, sizeof key, layer, (LoraTarget)t, is_b);
                snprintf(gname, sizeof gname, "lora.grad.%s", key);
                float *w = wt_get_f32(st, gname, is_b ? nb : na, NULL);
                worst_g = fmax(worst_g, tu_rel_norm_err(is_b ? b : a, w, is_b ? nb : na));
                free(w);
            }
            free(a);
            free(b);
        }
    if (!(worst_g <= 1e-1))
        fails += tu_fail("%s cuda: LoRA gradient rel err %.3g > 1e-1", name, worst_g);
    else
        tu_note("%s cuda: LoRA gradients worst norm-wise rel err %.2e", name, worst_g);

    int64_t n_p, n_out;
    int32_t *prompts = wt_get_i32(st, "gen.prompts", -1, NULL);
    int32_t *plens = wt_get_i32(st, "gen.prompt_lens", -1, &n_p);
    int32_t *gwant = wt_get_i32(st, "gen.output", -1, &n_out);
    const int32_t max_new = (int32_t)(n_out / n_p);
    Generator *g = gen_open(m, (int32_t)n_p, 128, &err);
    tu_check_rc(g == NULL, "gen_open", err.msg);
    int32_t *out = malloc((size_t)n_out * sizeof(int32_t)), olens[64];
    tu_check_rc(gen_run(g, NULL, prompts, plens, (int32_t)n_p, max_new, NULL, 0, out, olens,
                        &err), "gen_run", err.msg);
    int64_t same = 0;
    for (int64_t i = 0; i < n_out; i++)
        same += out[i] == gwant[i];
    tu_note("%s cuda: greedy tokens agreeing with the fp64 golden: %lld of %lld", name,
            (long long)same, (long long)n_out);
    gen_close(g);
    lora_free(&l);
    model_close(m);
    st_close(st);
    free(tok), free(lens), free(want), free(want_ce), free(got);
    free(prompts), free(plens), free(gwant), free(out);
    return fails;
}

int main(void) {
    Err err = {{0}};
    const Ops *ops = ops_cuda(0, &err);
    if (ops == NULL)
        tu_skip(err.msg);
    int fails = run_case(ops, "llama_gqa") + run_case(ops, "qwen2_bias");
    return tu_report(fails);
}
