/* worker/model/model_memory.c -- how the model's memory is laid out and sized: the
 * size-table allocator every lifetime group uses (BlockPlan: frozen weights, workspaces,
 * the KV cache), the resolved workspace limits, the split of a dimension over tp, and
 * the per-rank estimate that mirrors the size tables of model_load.c, model.c,
 * generate.c and worker/adapter/lora.c (its formula is spelled out in
 * worker/model/model.h so a document can quote it; tests/worker/model/test_tp.c compares
 * it with what they allocate). Calls nothing else of worker/model. */
#include "worker/model/model_impl.h"

#include <stdlib.h>

/* Every view starts on a 256-byte boundary: enough for any element type, vector loads
 * and CUDA's coalescing; the waste is at most 255 bytes per view. */
#define BLOCK_ALIGN ((size_t)256)

static size_t round_up(size_t n) { return (n + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN; }

static void plan_free(BlockPlan *p) {
    free(p->slot);
    free(p->n_bytes);
    *p = (BlockPlan){0};
}

void block_add(BlockPlan *p, void *slot, size_t n_bytes) {
    if (p->oom)
        return;
    if (p->n == p->cap) {
        int cap = p->cap == 0 ? 64 : 2 * p->cap;
        void **s = realloc(p->slot, (size_t)cap * sizeof *s);
        if (s != NULL)
            p->slot = s;
        size_t *b = realloc(p->n_bytes, (size_t)cap * sizeof *b);
        if (b != NULL)
            p->n_bytes = b;
        if (s == NULL || b == NULL) {
            p->oom = 1;
            return;
        }
        p->cap = cap;
    }
    p->slot[p->n] = slot;
    p->n_bytes[p->n] = n_bytes;
    p->n++;
}

void *block_alloc(BlockPlan *p, const Ops *ops, const char *what, Err *err) {
    if (p->oom) {
        plan_free(p);
        err_set(err, "%s: out of host memory building the size table", what);
        return NULL;
    }
    size_t total = 0;
    for (int i = 0; i < p->n; i++)
        total += round_up(p->n_bytes[i]);
    uint8_t *base = NULL;
    if (total > 0) {
        base = ops->alloc(total, err);
        if (base == NULL) {
            err_prefix(err, "%s (%zu bytes in %d views): ", what, total, p->n);
            plan_free(p);
            return NULL;
        }
    }
    size_t off = 0;
    for (int i = 0; i < p->n; i++) {
        *(void **)p->slot[i] = p->n_bytes[i] > 0 ? base + off : NULL;
        off += round_up(p->n_bytes[i]);
    }
    plan_free(p);
    return base;
}

ModelOptions model_resolve_options(const ModelOptions *o, const ModelConfig *cfg) {
    ModelOptions r = o != NULL ? *o : (ModelOptions){0};
    if (r.max_tokens <= 0)
        r.max_tokens = 512;
    if (r.max_train_tokens == 0)
        r.max_train_tokens = r.max_tokens;
    if (r.max_train_tokens < 0)
        r.max_train_tokens = 0;
    if (r.max_seqs <= 0)
        r.max_seqs = 16;
    if (r.max_pos <= 0)
        r.max_pos = cfg->max_pos > 0 && cfg->max_pos < 8192 ? cfg->max_pos : 8192;
    if (r.max_lora_rank <= 0)
        r.max_lora_rank = 16;
    /* the logits chunk: one pass's rows at most, every head of a decode step or prefill
     * (one row a sequence) at least */
    const int64_t Ta = r.max_tokens > r.max_train_tokens ? r.max_tokens : r.max_train_tokens;
    if (r.logit_rows <= 0)
        r.logit_rows = 256;
    if (r.logit_rows < r.max_seqs)
        r.logit_rows = r.max_seqs;
    if (r.full_logits || r.logit_rows > Ta)
        r.logit_rows = Ta;
    return r;
}

/* Rank r of tp gets [r n / tp, (r + 1) n / tp): the even split when tp divides n (heads,
 * ffn), and slices differing by at most one row otherwise (the vocabulary). */
int64_t model_split_begin(int64_t n, int tp, int r) { return (int64_t)r * n / tp; }

size_t model_matrix_bytes(WeightFormat f, size_t rows, size_t cols, size_t e) {
    if (f == WEIGHT_ELEM)
        return e * rows * cols;
    if (f == WEIGHT_BF16)
        return 2 * rows * cols;
    return rows * weight_row_bytes(f, (int64_t)cols);
}

ModelMemory model_memory_estimate(const ModelConfig *cfg, const ModelOptions *o, int tp,
                                  size_t elem_bytes) {
    const ModelOptions r = model_resolve_options(o, cfg);
    const size_t e = elem_bytes, f = sizeof(float);
    tp = tp < 1 ? 1 : tp;
    /* this rank's dims (DESIGN §3); the vocabulary slice rounded up: the largest rank's */
    const size_t L = (size_t)cfg->n_layers, D = (size_t)cfg->dim, HD = (size_t)cfg->head_dim;
    const size_t H = (size_t)(cfg->n_heads / tp), KVH = (size_t)(cfg->n_kv_heads / tp);
    const size_t F = (size_t)(cfg->ffn_dim / tp);
    const size_t V = (size_t)((cfg->vocab_size + tp - 1) / tp);
    const size_t QD = H * HD, KD = KVH * HD, R = (size_t)r.max_lora_rank;
    ModelMemory m = {0};

    /* the frozen matrices in the weight format (a block format: rows of whole blocks),
     * norms and biases in the elem type, the embedding too unless a GGUF keeps it in its
     * type (weight_file_types: sized here by the main one); a tied lm_head is the
     * embedding itself when both are in one storage, else its own copy in the format
     * (model_load.c) */
    const WeightFormat wf = r.weight_format;
    const int kept = r.weight_file_types != 0;
    const int tied_shared = cfg->tie_embeddings && (wf == WEIGHT_ELEM || kept);
    m.dense_bytes = e * ((kept ? 0 : V * D) + D +
                         L * (2 * D + (cfg->qkv_bias ? QD + 2 * KD : 0)));
#define MB(rows, cols) model_matrix_bytes(wf, rows, cols, e)
    m.matrix_bytes = (kept ? MB(V, D) : 0) + (tied_shared ? 0 : MB(V, D)) +
                     L * (MB(QD, D) + 2 * MB(KD, D) + MB(D, QD) + 2 * MB(F, D) + MB(D, F));
#undef MB
    m.weights_bytes = m.dense_bytes + m.matrix_bytes;

    const uint32_t tg = r.est_lora_targets != 0 ? r.est_lora_targets
                                                : (LORA_BIT(LORA_Q) | LORA_BIT(LORA_V));
    const size_t in_out[LORA_N_TARGETS] = {D + QD, D + KD, D + KD, QD + D, D + F, D + F, F + D};
    size_t per_layer = 0;
    for (int t = 0; t < LORA_N_TARGETS; t++)
        if (tg & LORA_BIT(t))
            per_layer += in_out[t];
    /* params | grads | adam_m | adam_v, plus under tp the all-gather staging of one part
     * from every tp rank (lora_gather: checkpoints, saving) */
    m.lora_bytes = (4 + (tp > 1 ? (size_t)tp : 0)) * f * R * L * per_layer;
    /* a stack: n more adapters, each whole, and their stacked params | grads */
    const size_t n_stack = r.est_lora_stack > 0 ? (size_t)r.est_lora_stack : 0;
    m.lora_bytes += n_stack * (m.lora_bytes + 2 * f * R * L * per_layer);

    const size_t slots = (size_t)(r.est_kv_slots > 0 ? r.est_kv_slots : r.max_seqs);
    const size_t ctx = (size_t)(r.est_kv_ctx > 0 ? r.est_kv_ctx : r.max_pos);
    m.kv_bytes = 2 * L * slots * ctx * KD * e;

    const size_t Ti = (size_t)r.max_tokens, Tt = (size_t)r.max_train_tokens;
    const size_t Ta = Ti > Tt ? Ti : Tt, B = (size_t)r.max_seqs;
    /* the head: rstdf, tok_lse, tok_part (2) and tok_gath (2 tp) floats per row */
    const size_t head_stats = 4 + 2 * (size_t)tp;
    /* a layer's train set: x, x2, xn1, xn2 (D), q, att (QD), k, v (KD), gu (2F), act (F);
     * rstd1, rstd2, lse (H) and 7 LoRA h (R) in fp32 */
    const size_t train_set = e * (4 * D + 2 * QD + 2 * KD + 3 * F) + f * (2 + H + 7 * R);
    /* checkpointed: every layer's x, one set but its x, the recompute's two (D) outputs
     * and rstd */
    const size_t train_rows = r.gradient_checkpointing
                                  ? L * e * D + train_set - e * D + 2 * e * D + f
                                  : L * train_set;
    m.act_bytes = Ti * (e * (2 * D + 2 * QD + 2 * KD + 3 * F) + f * (2 + 7 * R)) +
                  Tt * train_rows +
                  Tt * (e * (D + 2 * QD + 2 * KD + 3 * F) + (e != f ? e * D : 0) +
                        f * (D + R + 1)) + /* bw: dres32 fp32, dres its elem copy */
                  Ta * (e * 2 * D + f * head_stats) + (size_t)r.logit_rows * e * V +
                  4 * (5 * Ta + 5 * B) +
                  2 * f * (size_t)r.max_pos * (HD / 2);
    m.total_bytes = m.weights_bytes + m.lora_bytes + m.kv_bytes + m.act_bytes;
    return m;
}
