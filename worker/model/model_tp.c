/* worker/model/model_tp.c -- what one tp rank holds and computes beyond its slice of the layers
 * (DESIGN §3). The vocabulary-parallel head (Megatron-LM's vocab_parallel_cross_entropy):
 * each tp rank holds logits for its vocabulary slice only, (T, V/tp); cross-entropy and
 * greedy argmax are formed from per-row statistics of every slice (2 floats per row and
 * rank, one all-gather), never from gathered logits, combined on the host in double, in
 * rank order, so every tp rank computes the same bits. And the per-rank memory estimate
 * logged at model_open (model_memory_estimate; its formula is spelled out in
 * worker/model/model.h so a document can quote it), mirroring the size tables of
 * model_load.c, lora.c, generate.c and model.c; tests/tp compares it with what they
 * allocate. */
#include "worker/model/model_impl.h"

#include <math.h>
#include <string.h>

/* tok_part (2, n) of every tp rank into h_gath (host, (tp, 2, n)). */
static int gather_stats(Model *m, int64_t n, const char *what, Err *err) {
    if (comm_all_gather(m->comm, COMM_TP, m->tok_part, m->tok_gath, 2 * n, COMM_F32, err))
        return err_prefix(err, "gathering %s statistics over tp: ", what);
    m->ops->download_raw(m->h_gath, m->tok_gath, (size_t)m->tp * 2 * (size_t)n * 4);
    return 0;
}

int model_xent_tp(Model *m, Err *err) {
    const int64_t T = m->pass.n_tok;
    /* (lse_r, target logit_r) of this slice per row */
    m->ops->xent_slice_fwd(m->tok_part, m->tok_part + T, m->logits, m->pass.targets, T, m->V,
                           m->v0);
    if (gather_stats(m, T, "cross-entropy", err) != 0)
        return -1;
    /* lse = log sum_r exp(lse_r), with the largest lse_r factored out; the target logit
     * lives on exactly one rank (0 elsewhere), so summing picks it. The host copy of the
     * pass's targets says which rows have one. */
    const int32_t *tgt = m->pass.host + 2 * T;
    for (int64_t t = 0; t < T; t++) {
        double mx = -INFINITY, z = 0.0;
        for (int r = 0; r < m->tp; r++) {
            const float *p = m->h_gath + (size_t)r * 2 * T;
            mx = p[t] > mx ? p[t] : mx;
            z += p[T + t];
        }
        double s = 0.0;
        for (int r = 0; r < m->tp && mx != -INFINITY; r++)
            s += exp((double)m->h_gath[(size_t)r * 2 * T + t] - mx);
        const double lse = mx == -INFINITY ? mx : mx + log(s);
        /* row t of rank 0's lse was read above and later rows are still intact: its
         * place takes the whole vocabulary's lse, uploaded below for the backward */
        m->h_gath[t] = (float)lse;
        m->h_loss[t] = tgt[t] >= 0 ? (float)(lse - z) : 0.0f;
    }
    m->ops->upload_raw(m->tok_lse, m->h_gath, (size_t)T * sizeof(float));
    return 0;
}

int model_argmax_tp(Model *m, int64_t n, int32_t *ids, Err *err) {
    float *val = m->tok_part;
    int32_t *gid = (int32_t *)(m->tok_part + n);
    m->ops->argmax_slice(val, gid, m->logits, n, m->V, m->v0);
    if (gather_stats(m, n, "argmax", err) != 0)
        return -1;
    /* Slices are in rank order, so the first rank holding the maximum has the lowest
     * global id among equal values: strict > keeps it (torch.argmax's tie rule). */
    for (int64_t t = 0; t < n; t++) {
        float best = m->h_gath[t];
        int32_t id;
        memcpy(&id, &m->h_gath[n + t], sizeof id);
        for (int r = 1; r < m->tp; r++) {
            const float *p = m->h_gath + (size_t)r * 2 * n;
            if (p[t] > best) {
                best = p[t];
                memcpy(&id, &p[n + t], sizeof id);
            }
        }
        ids[t] = id;
    }
    return 0;
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

    m.weights_bytes = e * (V * D * (cfg->tie_embeddings ? 1 : 2) + D +
                           L * (2 * D + (QD + 2 * KD) * D + D * QD + 3 * F * D +
                                (cfg->qkv_bias ? QD + 2 * KD : 0)));

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

    const size_t slots = (size_t)(r.est_kv_slots > 0 ? r.est_kv_slots : r.max_seqs);
    const size_t ctx = (size_t)(r.est_kv_ctx > 0 ? r.est_kv_ctx : r.max_pos);
    m.kv_bytes = 2 * L * slots * ctx * KD * e;

    const size_t Ti = (size_t)r.max_tokens, Tt = (size_t)r.max_train_tokens;
    const size_t Ta = Ti > Tt ? Ti : Tt, B = (size_t)r.max_seqs;
    const size_t tp_stats = tp > 1 ? 2 + 2 * (size_t)tp : 0;
    m.act_bytes = Ti * (e * (2 * D + 2 * QD + 2 * KD + 3 * F) + f * (2 + 7 * R)) +
                  L * Tt * (e * (4 * D + 2 * QD + 2 * KD + 3 * F) + f * (2 + H + 7 * R)) +
                  Tt * (e * (2 * D + 2 * QD + 2 * KD + 3 * F) + f * (R + 1)) +
                  Ta * (e * (2 * D + V) + f * (3 + tp_stats)) + 4 * (4 * Ta + 5 * B) +
                  2 * f * (size_t)r.max_pos * (HD / 2);
    m.total_bytes = m.weights_bytes + m.lora_bytes + m.kv_bytes + m.act_bytes;
    return m;
}
