/* tests/worker/model/test_worker_gguf.c -- a .gguf model.path read in place (issue 18)
 * against the same file converted by `tlm convert gguf` to F32 safetensors: SmolLM2-135M-
 * Instruct (Q4_1 projections, a Q8_0 tied embedding, F32 norms) from ../shared. With
 * the file's own types kept (model.weights auto: the Q4_1 and Q8_0 blocks go to the
 * backend as they are, q/k rows un-permuted as whole rows of blocks) the numbers are the
 * conversion's in another summation order, so:
 *   - config and tokenizer built in memory equal the converted files' (ids of a ChatML
 *     prompt, chat template text);
 *   - the logits of a packed forward with a random adapter on, norm-wise rel <= 1e-4;
 *   - an online TLM run over a few prompts (select on ce > threshold, weight
 *     lamb * exp(ce - threshold), backward, AdamW; DESIGN §1) selects the same samples
 *     with the same ce (<= 1e-4 rel each) and ends with the same adapter (<= 1e-3 rel);
 *   - model.weights f32 from the GGUF gives the conversion's logits (<= 1e-5);
 *   - model.weights q8_0 from this Q4_1 file is refused naming the tensor and the choices;
 *   - the pre-load memory check sizes each tensor by its own type: the file's tensor
 *     bytes exactly on fp32 (widened norms accounted for on bf16);
 *   - NF4 quantized at load from the F32 conversion: each prompt's ce within 15% of the
 *     unquantized model's (measured: worst 11.6%, mean 0.33 nats; the F32 weights are
 *     already Q4_1's levels, so NF4 rounds a second time) and the TLM loop on NF4 selects
 *     what it selects on bf16.
 * Label shared: skipped without ../shared. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/gguf_convert.h"
#include "io/convert/gguf_source.h"
#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/adapter/lora.h"
#include "worker/adapter/optim.h"
#include "worker/model/model.h"

#define MAX_TOK 64
#define N_TLM 6
#define NF4_CE_TOL 0.15 /* rel; measured 0.116 (SmolLM2, whose F32 is the Q4_1 file dequantized) */

/* Prompts of plain English (low ppl) and of noise (high ppl): the threshold sits between. */
static const char *const PROMPTS[N_TLM] = {
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nzq xv 7# plorb vantic quellsome jirp 42 ntt<|im_end|>\n"
    "<|im_start|>assistant\n",
    "The quick brown fox jumps over the lazy dog. It was a sunny day in the park.",
    "<|im_start|>user\nI have a headache and a fever since two days, what should I do?"
    "<|im_end|>\n<|im_start|>assistant\n",
    "Kxq vbr 19 zzle morp; ath-ath quin 0x7f flerb grooble snerk.",
    "<|im_start|>user\nExplain photosynthesis in one sentence.<|im_end|>\n"
    "<|im_start|>assistant\n",
};

/* tu_check that also prints what was measured when it passes. */
static int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (ok)
        tu_vnote(fmt, ap);
    else
        tu_vfail(fmt, ap);
    va_end(ap);
    return ok ? 0 : 1;
}

static Model *open_model(const char *path, WeightFormat f, int file_types, Err *err) {
    const ModelOptions mo = {.full_logits = 1, .max_tokens = N_TLM * MAX_TOK, .max_train_tokens = MAX_TOK,
                             .max_seqs = N_TLM, .max_pos = MAX_TOK, .weight_format = f,
                             .weight_file_types = file_types};
    return model_open(path, ops_cpu(), &mo, err);
}

/* Encodes the prompts with tok; returns the tokens, lens filled. */
static int32_t *encode_all(const Tokenizer *tok, int32_t *lens, int64_t *n_total) {
    int32_t *all = malloc(N_TLM * MAX_TOK * sizeof *all);
    *n_total = 0;
    for (int p = 0; p < N_TLM; p++) {
        int32_t *ids;
        int64_t n;
        Err err = {{0}};
        tu_check_rc(tok_encode(tok, PROMPTS[p], strlen(PROMPTS[p]), 1, &ids, &n, &err),
                    "tok_encode", err.msg);
        if (n > MAX_TOK)
            n = MAX_TOK;
        memcpy(all + *n_total, ids, (size_t)n * sizeof *ids);
        lens[p] = (int32_t)n;
        *n_total += n;
        free(ids);
    }
    return all;
}

static int check_tokenizers(const char *gguf, const char *dir) {
    Err err = {{0}};
    Tokenizer *a = model_src_tokenizer(gguf, &err);
    tu_check_rc(a == NULL, "model_src_tokenizer (gguf)", err.msg);
    Tokenizer *b = model_src_tokenizer(dir, &err);
    tu_check_rc(b == NULL, "model_src_tokenizer (dir)", err.msg);
    int32_t la[N_TLM], lb[N_TLM];
    int64_t na, nb;
    int32_t *ia = encode_all(a, la, &na), *ib = encode_all(b, lb, &nb);
    int fails = check(na == nb && memcmp(ia, ib, (size_t)na * sizeof *ia) == 0 &&
                             memcmp(la, lb, sizeof la) == 0,
                         "the GGUF's in-memory tokenizer encodes the prompts as the converted "
                         "tokenizer.json does (%lld / %lld tokens)", (long long)na,
                         (long long)nb);
    const char *ta = tok_chat_template(a), *tb = tok_chat_template(b);
    fails += check(ta != NULL && tb != NULL && strcmp(ta, tb) == 0,
                      "chat template from tokenizer.chat_template equals the converted one");
    free(ia);
    free(ib);
    tok_close(a);
    tok_close(b);
    return fails;
}

static float *logits_of(Model *m, const Lora *l, const int32_t *tok, const int32_t *lens,
                        int64_t n_tok) {
    float ce[N_TLM];
    Err err = {{0}};
    tu_check_rc(model_forward(m, l, tok, lens, N_TLM, 0, ce, &err), "forward", err.msg);
    const int64_t n = n_tok * model_config(m)->vocab_size;
    float *out = malloc((size_t)n * sizeof *out);
    model_ops(m)->download(out, model_logits(m, NULL), n);
    return out;
}

/* An adapter on m's backend: seed != 0 random A and B, 0 PEFT's init. */
static Lora random_lora(const Model *m, uint64_t seed) {
    Lora l = {0};
    const LoraConfig lc = {.rank = 8, .alpha = 16,
                           .targets = LORA_BIT(LORA_Q) | LORA_BIT(LORA_V)};
    Err err = {{0}};
    tu_check_rc(lora_alloc(&l, &lc, model_config(m), ops_cpu(), &err), "lora_alloc", err.msg);
    if (seed != 0)
        wt_lora_randomize(&l, seed, 0.02f); /* B != 0: the adapter changes the logits */
    else
        lora_init(&l, 42); /* PEFT's init (B = 0), where a TLM run starts */
    return l;
}

static double adapter_rel_err(const Lora *a, const Lora *b) {
    double worst = 0;
    for (int64_t layer = 0; layer < a->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(a, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            const int64_t na = a->cfg.rank * v->n_in, nb = v->n_out * a->cfg.rank;
            float *aa = malloc((size_t)na * 4), *ab = malloc((size_t)nb * 4);
            float *ba = malloc((size_t)na * 4), *bb = malloc((size_t)nb * 4);
            lora_download(a, layer, (LoraTarget)t, 0, aa, ab);
            lora_download(b, layer, (LoraTarget)t, 0, ba, bb);
            const double ra = tu_rel_norm_err(aa, ba, na), rb = tu_rel_norm_err(ab, bb, nb);
            worst = fmax(worst, fmax(ra, rb));
            free(aa), free(ab), free(ba), free(bb);
        }
    return worst;
}

/* What an online TLM run on two models in lockstep gave: the selections ('x' selected,
 * '.' not), the worst per-step ce difference (relative) and the final adapters'. */
typedef struct Lockstep {
    char sel_q[N_TLM + 1], sel_f[N_TLM + 1];
    int n_sel;
    double worst_ce, adapter;
} Lockstep;

/* The online TLM loop on both models in lockstep (batch 1, constant lr). */
static Lockstep tlm_lockstep(Model *q, Model *f, const int32_t *tok, const int32_t *lens,
                             double thr) {
    const double lamb = 0.1, lr = 1e-3;
    Lora lq = random_lora(q, 0), lf = random_lora(f, 0);
    Optim oq, of;
    optim_init(&oq, NULL);
    optim_init(&of, NULL);
    Err err = {{0}};
    Lockstep r = {.n_sel = 0};
    int64_t off = 0;
    for (int i = 0; i < N_TLM; i++) {
        float cq, cf;
        tu_check_rc(model_forward(q, &lq, tok + off, &lens[i], 1, 1, &cq, &err), "fwd q",
                    err.msg);
        tu_check_rc(model_forward(f, &lf, tok + off, &lens[i], 1, 1, &cf, &err), "fwd f",
                    err.msg);
        off += lens[i];
        const int sq = cq > thr, sf = cf > thr;
        r.sel_q[i] = sq ? 'x' : '.';
        r.sel_f[i] = sf ? 'x' : '.';
        r.n_sel += sf;
        r.worst_ce = fmax(r.worst_ce, fabs((double)cq - cf) / fabs((double)cf));
        const float dq = sq ? (float)(lamb * exp((double)cq - thr)) : 0.0f;
        const float df = sf ? (float)(lamb * exp((double)cf - thr)) : 0.0f;
        lora_zero_grads(&lq);
        lora_zero_grads(&lf);
        tu_check_rc(model_backward(q, &lq, &dq, &err), "backward q", err.msg);
        tu_check_rc(model_backward(f, &lf, &df, &err), "backward f", err.msg);
        optim_step(&oq, &lq, lr);
        optim_step(&of, &lf, lr);
    }
    r.adapter = adapter_rel_err(&lq, &lf);
    lora_free(&lq);
    lora_free(&lf);
    return r;
}

static int check_tlm(Model *q, Model *f, const int32_t *tok, const int32_t *lens) {
    const double thr = 3.0;
    const Lockstep r = tlm_lockstep(q, f, tok, lens, thr);
    int fails = check(strcmp(r.sel_q, r.sel_f) == 0 && r.n_sel > 0 && r.n_sel < N_TLM,
                      "TLM selected set from the GGUF in place %s == from its F32 conversion "
                      "%s (threshold %.1f; a mixed set)", r.sel_q, r.sel_f, thr);
    fails += check(r.worst_ce <= 1e-4, "TLM per-step ce rel err %.2e <= 1e-4", r.worst_ce);
    fails += check(r.adapter <= 1e-3, "final adapter after %d steps rel err %.2e <= 1e-3",
                   N_TLM, r.adapter);
    return fails;
}

/* Per-prompt ce of the base model (PEFT init: B = 0) into ce (N_TLM). */
static void base_ce(Model *m, const int32_t *tok, const int32_t *lens, float *ce) {
    Lora l = random_lora(m, 0);
    Err err = {{0}};
    tu_check_rc(model_forward(m, &l, tok, lens, N_TLM, 0, ce, &err), "forward", err.msg);
    lora_free(&l);
}

/* NF4 (QLoRA's NormalFloat-4, quantized at load from the F32 conversion) against the
 * unquantized model: the per-sample ce difference, measured and bounded (the paper runs
 * TLM on an NF4 base, so 4 bits must leave each prompt's ce close), and the TLM loop on
 * NF4 against bf16 selecting the same prompts at this threshold. */
static int check_nf4(const char *dir, Model *f, const int32_t *tok, const int32_t *lens) {
    Err err = {{0}};
    Model *n4 = open_model(dir, WEIGHT_NF4, 0, &err);
    tu_check_rc(n4 == NULL, "model_open (F32 conversion, model.weights nf4)", err.msg);
    Model *bf = open_model(dir, WEIGHT_BF16, 0, &err);
    tu_check_rc(bf == NULL, "model_open (F32 conversion, model.weights bf16)", err.msg);
    float c32[N_TLM], c4[N_TLM], c16[N_TLM];
    base_ce(f, tok, lens, c32);
    base_ce(n4, tok, lens, c4);
    base_ce(bf, tok, lens, c16);
    double worst4 = 0, worst16 = 0, mean4 = 0;
    for (int i = 0; i < N_TLM; i++) {
        const double d4 = fabs((double)c4[i] - c32[i]), d16 = fabs((double)c16[i] - c32[i]);
        tu_note("prompt %d: ce f32 %.4f, nf4 %.4f (%+.4f), bf16 %.4f (%+.4f)", i, c32[i],
                c4[i], c4[i] - c32[i], c16[i], c16[i] - c32[i]);
        worst4 = fmax(worst4, d4 / c32[i]);
        worst16 = fmax(worst16, d16 / c32[i]);
        mean4 += d4 / N_TLM;
    }
    int fails = check(worst4 <= NF4_CE_TOL && worst4 > worst16,
                      "NF4 per-sample ce vs unquantized: worst rel %.3f <= %.2f (mean abs "
                      "%.4f nats), above bf16's %.4f (so the weights were quantized)",
                      worst4, NF4_CE_TOL, mean4, worst16);
    const double thr = 3.0;
    const Lockstep r = tlm_lockstep(n4, bf, tok, lens, thr);
    fails += check(strcmp(r.sel_q, r.sel_f) == 0 && r.n_sel > 0 && r.n_sel < N_TLM,
                   "TLM selected set on NF4 %s == on bf16 %s (threshold %.1f; a mixed set); "
                   "per-step ce rel %.3f, final adapter rel %.3f", r.sel_q, r.sel_f, thr,
                   r.worst_ce, r.adapter);
    model_close(n4);
    model_close(bf);
    return fails;
}

/* The pre-load memory check's weights (model_file_weights): each tensor sized by its own
 * type, so on an fp32 backend (this file's norms are F32) they are the file's tensor bytes
 * exactly, and on a bf16 one the file's less the widened norms' file bytes plus their
 * bf16 bytes; the formula of the file's main type alone is printed beside them. */
static int check_file_weights(const char *gguf, const ModelConfig *cfg) {
    const ModelOptions mo = {.max_tokens = MAX_TOK, .weight_format = WEIGHT_Q4_1,
                             .weight_file_types = 1};
    const double mib = 1024.0 * 1024.0;
    int fails = 0;
    for (size_t e = 4; e >= 2; e -= 2) {
        ModelFileWeights fw;
        Err err = {{0}};
        tu_check_rc(model_file_weights(gguf, cfg, &mo, 1, e, &fw, &err), "model_file_weights",
                    err.msg);
        const ModelMemory formula = model_memory_estimate(cfg, &mo, 1, e);
        const size_t want = fw.file_bytes - fw.widened_file_bytes + fw.widened_bytes;
        fails += check(fw.weights_bytes == want && fw.weights_bytes ==
                                                       fw.matrix_bytes + fw.dense_bytes &&
                           (e == 4 ? fw.n_widened == 0 && want == fw.file_bytes
                                   : fw.n_widened == 2 * cfg->n_layers + 1),
                       "memory check (elem %zu bytes): weights %zu B (%.2f MiB) == the file's "
                       "tensors %zu B less %d widened (%zu B in the file -> %zu B: %s); the "
                       "main type's formula says %.2f MiB", e, fw.weights_bytes,
                       (double)fw.weights_bytes / mib, fw.file_bytes, fw.n_widened,
                       fw.widened_file_bytes, fw.widened_bytes, fw.widened,
                       (double)formula.weights_bytes / mib);
    }
    return fails;
}

static int check_refusal(const char *gguf) {
    Err err = {{0}};
    Model *m = open_model(gguf, WEIGHT_Q8_0, 0, &err);
    const int ok = m == NULL && strstr(err.msg, "is Q4_1 in the file: model.weights q8_0") &&
                   strstr(err.msg, "choose auto");
    model_close(m);
    return check(ok, "model.weights q8_0 from a Q4_1 GGUF refused (got \"%s\")", err.msg);
}

int main(void) {
    char gguf[4096];
    wt_smollm2_gguf(gguf, sizeof gguf);
    const char *dir = tu_path(tu_tmp_dir(), "gguf_smollm2_f32");
    Err err = {{0}};
    tu_check_rc(gguf_convert(gguf, dir, DTYPE_F32, NULL, NULL, &err), "gguf_convert", err.msg);
    int fails = check_tokenizers(gguf, dir);

    Model *q = open_model(gguf, WEIGHT_Q4_1, 1, &err);
    tu_check_rc(q == NULL, "model_open (gguf in place)", err.msg);
    Model *f = open_model(dir, WEIGHT_ELEM, 0, &err);
    tu_check_rc(f == NULL, "model_open (F32 conversion)", err.msg);
    const ModelConfig *cq = model_config(q), *cf = model_config(f);
    fails += check(cq->dim == cf->dim && cq->n_layers == cf->n_layers &&
                          cq->vocab_size == cf->vocab_size && cq->rope_theta == cf->rope_theta &&
                          cq->rms_eps == cf->rms_eps && cq->tie_embeddings == cf->tie_embeddings
                          && cq->bos_id == cf->bos_id && cq->n_eos == cf->n_eos &&
                          cq->eos_ids[0] == cf->eos_ids[0],
                      "config from the GGUF metadata equals the converted config.json");

    Tokenizer *tok = model_src_tokenizer(gguf, &err);
    tu_check_rc(tok == NULL, "tokenizer", err.msg);
    int32_t lens[N_TLM];
    int64_t n_tok;
    int32_t *ids = encode_all(tok, lens, &n_tok);
    tok_close(tok);

    Lora lq = random_lora(q, 11), lf = random_lora(f, 11);
    float *a = logits_of(q, &lq, ids, lens, n_tok), *b = logits_of(f, &lf, ids, lens, n_tok);
    const int64_t n = n_tok * cf->vocab_size;
    const double rel = tu_rel_norm_err(a, b, n);
    fails += check(rel <= 1e-4, "logits, Q4_1/Q8_0 blocks kept vs F32 conversion: "
                      "norm-wise rel err %.2e <= 1e-4 (%lld tokens)", rel, (long long)n_tok);
    free(a);
    lora_free(&lq);

    Model *d = open_model(gguf, WEIGHT_ELEM, 0, &err);
    tu_check_rc(d == NULL, "model_open (gguf, model.weights f32)", err.msg);
    Lora ld = random_lora(d, 11);
    float *c = logits_of(d, &ld, ids, lens, n_tok);
    const double rel_d = tu_rel_norm_err(c, b, n);
    fails += check(rel_d <= 1e-5, "logits, GGUF dequantized at load (model.weights f32) "
                      "vs F32 conversion: rel err %.2e <= 1e-5", rel_d);
    free(c);
    free(b);
    lora_free(&ld);
    lora_free(&lf);
    model_close(d);

    fails += check_tlm(q, f, ids, lens);
    fails += check_nf4(dir, f, ids, lens);
    fails += check_refusal(gguf);
    fails += check_file_weights(gguf, cq);
    free(ids);
    model_close(q);
    model_close(f);
    return tu_report(fails);
}
