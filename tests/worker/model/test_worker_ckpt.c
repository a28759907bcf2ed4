/* tests/worker/model/test_worker_ckpt.c -- activation recomputation
 * (ModelOptions.gradient_checkpointing: a train forward keeps each layer's input only, the
 * backward reruns each layer's forward from it) against the model that keeps every
 * layer's activations, on the same batch and adapter: the recompute runs the same kernels
 * on the same inputs, so everything must be bit-equal (memcmp), not close. Checked: the
 * per-sample ce of inference, train and masked train passes and the LoRA gradients of
 * their backwards (dce with a zero), with LoRA on q_proj, v_proj (the stacked gate/up
 * path, layer 0's early stop) and on every projection (the split gate/up path); a
 * chunked lm_head head (several chunks: the unit-gradient path) and the one-chunk head;
 * a model with whole logits through model_backward_logits; a stack of adapters through
 * model_forward_rows; and the TLM loop itself (ttl_core_epoch: selection, weights,
 * clipping, AdamW) over several update steps, scores, final adapter and moments
 * bit-equal. Also the memory estimate against what model_open allocates, with and
 * without recomputation. No argument: tiny random Llama (3 layers, GQA, tied) and Qwen2
 * (q/k/v bias, untied) models (label cpu). "smollm2": SmolLM2-135M's Q4_1 GGUF read in
 * place from ../shared (30 layers; label shared, skipped without it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "tests/testutil.h"
#include "tests/worker/wtest.h"
#include "worker/loop/ttl_core.h"
#include "worker/model/model.h"

#define MAX_SEQS 4

typedef struct Case {
    const char *name, *path;
    ModelOptions mo;     /* both models' options, but gradient_checkpointing */
    const int32_t *lens; /* MAX_SEQS */
    int32_t *tok;
    uint8_t *mask;       /* a loss mask over the batch */
    int64_t T;
} Case;

/* The pair under test: the same options, recomputation off [0] and on [1]. */
static void open_pair(const Case *c, const ModelOptions *mo, Model *m[2]) {
    Err err = {{0}};
    for (int k = 0; k < 2; k++) {
        ModelOptions o = *mo;
        o.gradient_checkpointing = k;
        m[k] = model_open(c->path, ops_cpu(), &o, &err);
        tu_check_rc(m[k] == NULL, k ? "model_open (recompute)" : "model_open", err.msg);
    }
}

static float *download(const float *dev, int64_t n) {
    float *x = malloc((size_t)n * sizeof *x);
    ops_cpu()->download_raw(x, dev, (size_t)n * sizeof *x);
    return x;
}

/* memcmp of n floats; on a difference the first index and both values. */
static int bit_equal(const char *label, const float *got, const float *want, int64_t n) {
    if (memcmp(got, want, (size_t)n * sizeof *got) == 0)
        return 0;
    int64_t i = 0;
    while (got[i] == want[i])
        i++;
    const double e = tu_rel_norm_err(got, want, n);
    return tu_fail("%s: recompute differs from the kept activations: [%lld] %.9g vs %.9g "
                   "(norm-wise rel %.3g over %lld)", label, (long long)i, (double)got[i],
                   (double)want[i], e, (long long)n);
}

/* Inference, masked train and train passes' ce (3 * MAX_SEQS) and the gradients of both
 * backwards, added (host, l->n_params; owned-after-return). */
static float *run(const Case *c, Model *m, Lora *l, float *ce) {
    Err err = {{0}};
    const float dce_mask[MAX_SEQS] = {1.0f, 0.3f, 0.0f, 2.7f};
    const float dce[MAX_SEQS] = {0.5f, 0.0f, 1.7f, 0.2f};
    tu_check_rc(model_forward(m, l, c->tok, c->lens, MAX_SEQS, 0, ce, &err), "fwd", err.msg);
    tu_check_rc(model_forward_masked(m, l, c->tok, c->lens, MAX_SEQS, c->mask, 1,
                                     ce + MAX_SEQS, &err), "masked train fwd", err.msg);
    lora_zero_grads(l);
    tu_check_rc(model_backward(m, l, dce_mask, &err), "masked backward", err.msg);
    tu_check_rc(model_forward(m, l, c->tok, c->lens, MAX_SEQS, 1, ce + 2 * MAX_SEQS, &err),
                "train fwd", err.msg);
    tu_check_rc(model_backward(m, l, dce, &err), "backward", err.msg); /* adds */
    return download(l->grads, l->n_params);
}

/* One adapter (targets) through both models' passes. */
static int check_passes(const Case *c, const ModelOptions *mo, uint32_t targets,
                        const char *what) {
    Err err = {{0}};
    Model *m[2];
    open_pair(c, mo, m);
    const LoraConfig lc = {.rank = 4, .alpha = 8.0f, .targets = targets};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m[0]), ops_cpu(), &err), "lora", err.msg);
    wt_lora_randomize(&l, 77, 0.3f);
    float ce[2][3 * MAX_SEQS];
    float *g[2] = {run(c, m[0], &l, ce[0]), run(c, m[1], &l, ce[1])};
    char label[200];
    snprintf(label, sizeof label, "%s, %s: ce", c->name, what);
    int fails = bit_equal(label, ce[1], ce[0], 3 * MAX_SEQS);
    snprintf(label, sizeof label, "%s, %s: LoRA gradients", c->name, what);
    fails += bit_equal(label, g[1], g[0], l.n_params);
    if (fails == 0)
        tu_note("%s, %s: ce of 3 passes x %d samples and %lld LoRA gradients bit-equal",
                c->name, what, MAX_SEQS, (long long)l.n_params);
    free(g[0]), free(g[1]);
    lora_free(&l);
    model_close(m[0]), model_close(m[1]);
    return fails;
}

/* Whole logits: a loss the caller defines on them (here d loss / d logits = logits / 64,
 * any function of them does) through model_backward_logits. */
static int check_backward_logits(const Case *c) {
    Err err = {{0}};
    ModelOptions mo = c->mo;
    mo.full_logits = 1;
    Model *m[2];
    open_pair(c, &mo, m);
    const LoraConfig lc = {.rank = 4, .alpha = 8.0f, .targets = LORA_ALL_TARGETS};
    Lora l;
    tu_check_rc(lora_alloc(&l, &lc, model_config(m[0]), ops_cpu(), &err), "lora", err.msg);
    wt_lora_randomize(&l, 78, 0.3f);
    const int64_t n_logits = c->T * model_config(m[0])->vocab_size;
    float *g[2];
    for (int k = 0; k < 2; k++) {
        float ce[MAX_SEQS];
        tu_check_rc(model_forward(m[k], &l, c->tok, c->lens, MAX_SEQS, 1, ce, &err),
                    "train fwd", err.msg);
        float *d = download(model_logits(m[k], NULL), n_logits);
        for (int64_t i = 0; i < n_logits; i++)
            d[i] /= 64.0f;
        ops_cpu()->upload_raw(model_dlogits(m[k]), d, (size_t)n_logits * sizeof *d);
        free(d);
        lora_zero_grads(&l);
        tu_check_rc(model_backward_logits(m[k], &l, &err), "backward_logits", err.msg);
        g[k] = download(l.grads, l.n_params);
    }
    char label[160];
    snprintf(label, sizeof label, "%s, whole logits, model_backward_logits: LoRA gradients",
             c->name);
    const int fails = bit_equal(label, g[1], g[0], l.n_params);
    if (fails == 0)
        tu_note("%s: bit-equal", label);
    free(g[0]), free(g[1]);
    lora_free(&l);
    model_close(m[0]), model_close(m[1]);
    return fails;
}

/* A stack of 2 adapters, sequence s on adapter s mod 2 (model_forward_rows). */
static int check_stack(const Case *c) {
    Err err = {{0}};
    Model *m[2];
    open_pair(c, &c->mo, m);
    const LoraConfig lc = {.rank = 4, .alpha = 8.0f, .targets = LORA_ALL_TARGETS};
    Lora s;
    tu_check_rc(lora_alloc_stack(&s, &lc, model_config(m[0]), ops_cpu(), NULL, 2, &err),
                "lora_alloc_stack", err.msg);
    float *p = malloc((size_t)s.n_params * sizeof *p);
    uint64_t seed = 79;
    wt_fill(p, s.n_params, &seed, -0.3, 0.3);
    ops_cpu()->upload_raw(s.params, p, (size_t)s.n_params * sizeof *p);
    free(p);
    int32_t *rows = malloc((size_t)c->T * sizeof *rows);
    for (int64_t t = 0, q = 0; q < MAX_SEQS; q++)
        for (int32_t i = 0; i < c->lens[q]; i++)
            rows[t++] = (int32_t)(q % 2);
    const float dce[MAX_SEQS] = {1.0f, 0.3f, 0.0f, 2.7f};
    float ce[2][MAX_SEQS], *g[2];
    for (int k = 0; k < 2; k++) {
        tu_check_rc(model_forward_rows(m[k], &s, rows, c->tok, c->lens, MAX_SEQS, c->mask, 1,
                                       ce[k], &err), "model_forward_rows", err.msg);
        lora_zero_grads(&s);
        tu_check_rc(model_backward(m[k], &s, dce, &err), "backward (stack)", err.msg);
        g[k] = download(s.grads, s.n_params);
    }
    char label[160];
    snprintf(label, sizeof label, "%s, a stack of 2 adapters (per-row pass): ce", c->name);
    int fails = bit_equal(label, ce[1], ce[0], MAX_SEQS);
    snprintf(label, sizeof label, "%s, a stack of 2 adapters (per-row pass): gradients",
             c->name);
    fails += bit_equal(label, g[1], g[0], s.n_params);
    if (fails == 0)
        tu_note("%s, a stack of 2 adapters (per-row pass): ce and gradients bit-equal",
                c->name);
    free(rows), free(g[0]), free(g[1]);
    lora_free(&s);
    model_close(m[0]), model_close(m[1]);
    return fails;
}

/* A threshold between the second and third of the batch's ce under l: some samples
 * selected, some not (the adapter moves little over the loop's steps). */
static double mid_threshold(const Case *c, Model *m, const Lora *l) {
    Err err = {{0}};
    float ce[MAX_SEQS];
    tu_check_rc(model_forward(m, l, c->tok, c->lens, MAX_SEQS, 0, ce, &err), "fwd", err.msg);
    for (int i = 1; i < MAX_SEQS; i++) /* insertion sort */
        for (int j = i; j > 0 && ce[j] < ce[j - 1]; j--) {
            const float t = ce[j];
            ce[j] = ce[j - 1], ce[j - 1] = t;
        }
    return 0.5 * ((double)ce[1] + ce[2]);
}

/* The TLM loop: the batch's samples one update step each (ttl_core_epoch: select on
 * ce > threshold, weight, backward, clip, AdamW), on both models from the same adapter;
 * every score and the final adapter and moments bit-equal. */
static int check_loop(const Case *c, uint32_t targets) {
    Err err = {{0}};
    Model *m[2];
    open_pair(c, &c->mo, m);
    const LoraConfig lc = {.rank = 4, .alpha = 8.0f, .targets = targets};
    int64_t off[MAX_SEQS];
    int32_t max_len = 0;
    for (int64_t s = 0, o = 0; s < MAX_SEQS; o += c->lens[s++]) {
        off[s] = o;
        max_len = c->lens[s] > max_len ? c->lens[s] : max_len;
    }
    const TtlCoreConfig cc = {.batch_size = 1, .max_len = max_len, .lr = 1e-2,
                              .optim = optim_defaults()};
    const TtlSamples b = {.n = MAX_SEQS, .tokens = c->tok, .off = off, .lens = c->lens};
    TtlScore sc[2][MAX_SEQS];
    Lora l[2];
    float *state[2];
    int64_t n_sel = 0, steps = 0;
    MethodParams mp = {.lamb = 0.1};
    for (int k = 0; k < 2; k++) {
        tu_check_rc(lora_alloc(&l[k], &lc, model_config(m[k]), ops_cpu(), &err), "lora",
                    err.msg);
        wt_lora_randomize(&l[k], 80, 0.3f);
        if (k == 0)
            mp.threshold = mid_threshold(c, m[0], &l[0]);
        TtlCore core;
        tu_check_rc(ttl_core_init(&core, m[k], &l[k], method_find("tlm"), &mp, &cc, NULL,
                                  &err), "ttl_core_init", err.msg);
        ttl_core_begin(&core, MAX_SEQS, 1);
        memset(sc[k], 0, sizeof sc[k]);
        tu_check_rc(ttl_core_epoch(&core, &b, sc[k], &err), "ttl_core_epoch", err.msg);
        steps = core.step;
        ttl_core_free(&core);
        state[k] = download(l[k].params, 3 * l[k].n_params); /* params | grads | adam_m */
    }
    int fails = 0;
    for (int s = 0; s < MAX_SEQS; s++) {
        n_sel += sc[0][s].selected;
        if (sc[1][s].ce != sc[0][s].ce || sc[1][s].weight != sc[0][s].weight ||
            sc[1][s].selected != sc[0][s].selected)
            fails += tu_fail("%s, TLM loop: sample %d: ce %.9g weight %.9g selected %d, kept "
                             "activations %.9g %.9g %d", c->name, s, (double)sc[1][s].ce,
                             (double)sc[1][s].weight, sc[1][s].selected, (double)sc[0][s].ce,
                             (double)sc[0][s].weight, sc[0][s].selected);
    }
    char label[160];
    snprintf(label, sizeof label, "%s, TLM loop: params, last grads and AdamW m after %lld "
             "steps", c->name, (long long)steps);
    fails += bit_equal(label, state[1], state[0], 3 * l[0].n_params);
    if (n_sel == 0 || n_sel == MAX_SEQS)
        fails += tu_fail("%s, TLM loop: %lld of %d samples selected (threshold %.4f): the "
                         "loop would not compare a selected and an unselected step", c->name,
                         (long long)n_sel, MAX_SEQS, mp.threshold);
    if (steps < 2)
        fails += tu_fail("%s, TLM loop: %lld update steps, want %d", c->name, (long long)steps,
                         MAX_SEQS);
    if (fails == 0)
        tu_note("%s: bit-equal; scores bit-equal (%lld of %d selected, threshold %.4f)",
                label, (long long)n_sel, MAX_SEQS, mp.threshold);
    free(state[0]), free(state[1]);
    lora_free(&l[0]), lora_free(&l[1]);
    model_close(m[0]), model_close(m[1]);
    return fails;
}

/* The sizes of model_open's backend allocations (weights, then the workspace): an Ops
 * alloc has no context argument, hence this file-scope record. */
static struct {
    size_t bytes[4];
    int n;
} g_rec;

static void *rec_alloc(size_t n_bytes, Err *err) {
    if (g_rec.n < 4)
        g_rec.bytes[g_rec.n++] = n_bytes;
    return ops_cpu()->alloc(n_bytes, err);
}

/* model_memory_estimate's activations against the workspace model_open allocates (within
 * the 256-byte rounding of each view), with and without recomputation; and recomputation
 * must keep less. */
static int check_estimate(const Case *c) {
    Err err = {{0}};
    static Ops rec_ops; /* the CPU table with a recording alloc; outlives the models */
    rec_ops = *ops_cpu();
    rec_ops.alloc = rec_alloc;
    size_t est[2] = {0}, got[2] = {0};
    int fails = 0;
    for (int k = 0; k < 2; k++) {
        ModelOptions mo = c->mo;
        mo.gradient_checkpointing = k;
        g_rec.n = 0;
        Model *m = model_open(c->path, &rec_ops, &mo, &err);
        tu_check_rc(m == NULL || g_rec.n < 2, "model_open (recording)", err.msg);
        const ModelConfig *cfg = model_config(m);
        est[k] = model_memory_estimate(cfg, &mo, 1, 4).act_bytes;
        got[k] = g_rec.bytes[1];
        const size_t slack = 256 * (20 * (size_t)cfg->n_layers + 64);
        if ((got[k] > est[k] ? got[k] - est[k] : est[k] - got[k]) > slack)
            fails += tu_fail("%s, recompute %s: activations estimated %zu B, allocated %zu B",
                             c->name, k ? "on" : "off", est[k], got[k]);
        model_close(m);
    }
    if (!(got[1] < got[0]))
        fails += tu_fail("%s: recompute allocates %zu B of activations, no less than %zu B",
                         c->name, got[1], got[0]);
    if (fails == 0)
        tu_note("%s: activation workspace estimated / allocated %zu / %zu B, with "
                "recomputation %zu / %zu B", c->name, est[0], got[0], est[1], got[1]);
    return fails;
}

static void make_batch(Case *c, int64_t V) {
    c->T = wt_masked_batch(c->lens, MAX_SEQS, (int)V, &c->tok, &c->mask);
}

static int tiny_case(const char *name, const TinySpec *spec) {
    const char *dir = tu_path(tu_tmp_dir(), name);
    wt_make_tiny_model(dir, spec);
    static const int32_t lens[MAX_SEQS] = {5, 9, 3, 7}; /* T 24 */
    Case c = {.name = name, .path = dir, .lens = lens,
              .mo = {.max_tokens = 32, .max_seqs = MAX_SEQS, .max_lora_rank = 4}};
    make_batch(&c, spec->V);
    const uint32_t qv = LORA_BIT(LORA_Q) | LORA_BIT(LORA_V);
    ModelOptions chunked = c.mo;
    chunked.logit_rows = 8; /* 3 chunks of the 24 rows: the unit-gradient head */
    int fails = check_passes(&c, &c.mo, qv, "q_proj,v_proj, one head chunk");
    fails += check_passes(&c, &c.mo, LORA_ALL_TARGETS, "every projection, one head chunk");
    fails += check_passes(&c, &chunked, LORA_ALL_TARGETS, "every projection, 8-row chunks");
    fails += check_backward_logits(&c);
    fails += check_stack(&c);
    fails += check_loop(&c, LORA_ALL_TARGETS);
    fails += check_estimate(&c);
    free(c.tok), free(c.mask);
    return fails;
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
        const uint32_t qv = LORA_BIT(LORA_Q) | LORA_BIT(LORA_V);
        fails += check_passes(&c, &c.mo, qv, "q_proj,v_proj");
        fails += check_loop(&c, qv);
        free(c.tok), free(c.mask);
        return tu_report(fails);
    }
    const TinySpec llama = {.L = 3, .D = 16, .H = 4, .KVH = 2, .HD = 8, .F = 24, .V = 40,
                            .max_pos = 64, .qkv_bias = 0, .tie = 1, .seed = 11};
    const TinySpec qwen = {.L = 2, .D = 16, .H = 4, .KVH = 4, .HD = 4, .F = 20, .V = 48,
                           .max_pos = 64, .qkv_bias = 1, .tie = 0, .seed = 12};
    fails += tiny_case("ckpt_llama", &llama);
    fails += tiny_case("ckpt_qwen2", &qwen);
    return tu_report(fails);
}
