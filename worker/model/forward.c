/* worker/model/forward.c -- the forward pass over a packed batch: index tables, the decoder
 * layers (modeling_llama.py LlamaModel.forward / LlamaDecoderLayer.forward, with PEFT's
 * LoRA Linear.forward on the wrapped projections), the final norm, logits and the
 * per-sample causal-LM loss (LlamaForCausalLM.forward's shifted cross-entropy, one
 * sample at a time). Under tp (DESIGN §3) the same pass on this rank's heads, ffn
 * columns and vocabulary slice, with the all-reduces Megatron-LM places: after the
 * embedding and each row-parallel projection; the loss is vocabulary-parallel
 * (model_tp.c). */
#include "worker/model/model_impl.h"

#include <string.h>

int model_pass_set(Model *m, const int32_t *tokens, const int32_t *len, const int32_t *pos0,
                   const int32_t *kv_base, int32_t n_seqs, Err *err) {
    if (n_seqs < 1 || n_seqs > m->opt.max_seqs)
        return err_set(err, "%d sequences in a pass; the model was opened for 1..%d", n_seqs,
                       m->opt.max_seqs);
    int64_t T = 0;
    for (int32_t s = 0; s < n_seqs; s++) {
        if (len[s] < 1)
            return err_set(err, "sequence %d has length %d", s, len[s]);
        const int64_t p0 = pos0 != NULL ? pos0[s] : 0;
        if (p0 + len[s] > m->opt.max_pos)
            return err_set(err, "sequence %d reaches position %lld; the model was opened "
                                "for max_pos %lld", s, (long long)(p0 + len[s] - 1),
                           (long long)m->opt.max_pos);
        T += len[s];
    }
    if (T > m->T_any)
        return err_set(err, "%lld tokens in a pass; the model was opened for %lld",
                       (long long)T, (long long)m->T_any);
    PassTables *p = &m->pass;
    if (p->in_flight) /* the last pass's upload may still read the host tables */
        m->ops->sync();
    m->last_train = 0; /* the tables a train forward left for its backward are replaced */
    m->last_ce_valid = 0;
    int32_t *h_tok = p->host, *h_pos = h_tok + T, *h_tgt = h_pos + T, *h_kv = h_tgt + T;
    SeqSpan *h_span = (SeqSpan *)(h_kv + T);
    int32_t *h_last = h_kv + T + 4 * n_seqs;
    int64_t t = 0;
    for (int32_t s = 0; s < n_seqs; s++) {
        const int32_t p0 = pos0 != NULL ? pos0[s] : 0;
        h_span[s] = (SeqSpan){.q_start = (int32_t)t, .q_len = len[s], .pos0 = p0,
                              .kv_start = kv_base != NULL ? kv_base[s] : (int32_t)t};
        for (int32_t i = 0; i < len[s]; i++, t++) {
            if (tokens[t] < 0 || tokens[t] >= m->cfg.vocab_size)
                return err_set(err, "token %lld (sequence %d) is %d, outside the vocabulary "
                                    "0..%lld", (long long)t, s, tokens[t],
                               (long long)m->cfg.vocab_size - 1);
            h_tok[t] = tokens[t];
            h_pos[t] = p0 + i;
            h_tgt[t] = (kv_base == NULL && i + 1 < len[s]) ? tokens[t + 1] : -1;
            h_kv[t] = kv_base != NULL ? kv_base[s] + p0 + i : (int32_t)t;
        }
        h_last[s] = (int32_t)t - 1;
    }
    const size_t n_ints = (size_t)(4 * T + 5 * (int64_t)n_seqs);
    m->ops->upload_async(p->dev, p->host, n_ints * sizeof(int32_t));
    p->in_flight = 1;
    p->n_tok = T;
    p->n_seqs = n_seqs;
    p->tokens = p->dev;
    p->pos = p->dev + T;
    p->targets = p->dev + 2 * T;
    p->kv_idx = p->dev + 3 * T;
    p->spans = (const SeqSpan *)(p->dev + 4 * T);
    p->last = p->dev + 4 * T + 4 * n_seqs;
    p->adapter = NULL; /* model_forward_rows sets it after this */
    return 0;
}

/* y (T, N) (+)= x (T, K) @ W^T + bias, plus scale * (x @ A^T) @ B^T when the adapter
 * wraps this projection (PEFT lora.Linear.forward: base result + lora_B(lora_A(x)) *
 * scaling; dropout 0). h (T, R) keeps x @ A^T for the backward. */
static void proj_fwd(const Model *m, const Lora *lora, int64_t l, LoraTarget tg, float *h,
                     void *y, const void *x, Weight w, const void *bias, int64_t N,
                     int64_t K, int accumulate) {
    const int64_t T = m->pass.n_tok;
    m->ops->wmatmul_fwd(y, x, w, bias, T, N, K, accumulate);
    const LoraView *v = lora != NULL ? lora_view(lora, l, tg) : NULL;
    if (v != NULL && m->pass.adapter != NULL) /* a stack: each row its own adapter */
        m->ops->lora_rows_fwd(y, h, x, v->a, v->b, m->pass.adapter, lora->n_stack,
                              lora->scale, T, N, K, lora->cfg.rank);
    else if (v != NULL)
        m->ops->lora_fwd(y, h, x, v->a, v->b, lora->scale, T, N, K, lora->cfg.rank);
}

/* A row-parallel projection's output (Megatron-LM RowParallelLinear, DESIGN §3): y
 * (T, D) = sum over tp of x_r (T, in/tp) @ W_r^T (+ its LoRA term), one all-reduce over
 * tp; the residual is added after the sum, by the fused add + norm that follows
 * (add_rmsnorm_fwd), so it enters once. The LoRA term scale * (x_r A_r^T) B^T is linear
 * in the partial h_r = x_r A_r^T, so each rank adds its own into its partial sum and the
 * all-reduce completes it, added once in all (not tp times). A training pass also
 * all-reduces h (T, R): dB needs the whole x A^T. */
static int row_parallel_fwd(Model *m, const Lora *lora, int64_t l, LoraTarget tg, float *h,
                            void *y, const void *x, Weight w, int64_t K, int train,
                            Err *err) {
    const int64_t T = m->pass.n_tok;
    proj_fwd(m, lora, l, tg, h, y, x, w, NULL, m->D, K, 0);
    const LoraView *v = lora != NULL ? lora_view(lora, l, tg) : NULL;
    if (train && v != NULL &&
        model_tp_sum(m, h, T * lora->cfg.rank, COMM_F32, "a LoRA intermediate", err) != 0)
        return -1;
    return model_tp_sum(m, y, T * m->D, model_elem_comm(m), lora_target_name(tg), err);
}

/* a->act = silu(gate(xn2)) * up(xn2). Without an adapter on gate_proj / up_proj one
 * matmul against the stacked [gate | up] rows writes gu (T, 2F) and swiglu_gu_fwd reads
 * its halves; with one, each projection (and its LoRA term) writes its own contiguous
 * (T, F) half of gu, then swiglu_fwd (model_ffn_split). */
static void mlp_gate_up_fwd(const Model *m, const Lora *lora, int64_t l, LayerActs *a) {
    const Ops *o = m->ops;
    const LayerWeights *w = &m->layers[l];
    const int64_t T = m->pass.n_tok, F = m->F;
    if (!model_ffn_split(lora, l)) {
        o->wmatmul_fwd(a->gu, a->xn2, w->w_gu, NULL, T, 2 * F, m->D, 0);
        o->swiglu_gu_fwd(a->act, a->gu, T, F);
        return;
    }
    void *gate = a->gu, *up = (char *)a->gu + (size_t)(T * F) * o->elem_bytes;
    proj_fwd(m, lora, l, LORA_GATE, a->h[LORA_GATE], gate, a->xn2, w->w_gate, NULL, F, m->D,
             0);
    proj_fwd(m, lora, l, LORA_UP, a->h[LORA_UP], up, a->xn2, w->w_up, NULL, F, m->D, 0);
    o->swiglu_fwd(a->act, gate, up, T * F);
}

/* What reads a layer's output: the next layer's input_layernorm or, after the last
 * layer, model.norm. The layer's last residual add runs fused with it. */
typedef struct NextNorm {
    const void *w; /* (D) the norm's weight */
    void *out;     /* (T, D) the normed rows (the next layer's xn1, or xnf) */
    float *rstd;   /* (T) */
} NextNorm;

/* LlamaDecoderLayer.forward: x_out = x2 + mlp(norm2(x2)), x2 = x + attn(norm1(x)), with
 * norm1(x) already in a->xn1 and next's norm of x_out written here: each residual add
 * is fused with the RMSNorm that reads its result (add_rmsnorm_fwd), the projection
 * that feeds it writing into the norm's output buffer first. x_out may equal a->x2 and
 * a->x (inference: the residual stream updated in place). Under tp: this rank's H/tp
 * heads, KVH/tp kv heads and F/tp ffn columns; the residual stream (T, D) is whole and
 * identical on every tp rank. */
static int layer_fwd(Model *m, const Lora *lora, int64_t l, LayerActs *a, void *x_out,
                     const NextNorm *next, int train, void *k_cache, void *v_cache,
                     Err *err) {
    const Ops *o = m->ops;
    const LayerWeights *w = &m->layers[l];
    const PassTables *p = &m->pass;
    const int64_t T = p->n_tok, D = m->D, QD = m->H * m->HD, KD = m->KVH * m->HD;
    const float eps = m->cfg.rms_eps;

    /* column-parallel q/k/v: this rank's heads, no communication */
    proj_fwd(m, lora, l, LORA_Q, a->h[LORA_Q], a->q, a->xn1, w->wq, w->bq, QD, D, 0);
    proj_fwd(m, lora, l, LORA_K, a->h[LORA_K], a->k, a->xn1, w->wk, w->bk, KD, D, 0);
    proj_fwd(m, lora, l, LORA_V, a->h[LORA_V], a->v, a->xn1, w->wv, w->bv, KD, D, 0);
    /* apply_rotary_pos_emb on q and k (rotate_half layout), one pass for both */
    o->rope_qk_fwd(a->q, a->k, p->pos, m->rope_cos, m->rope_sin, T, m->H, m->KVH, m->HD);
    if (k_cache != NULL) {
        /* cached pass: write this pass's k/v at their slot rows, attend over the slot */
        o->rows_scatter(k_cache, p->kv_idx, a->k, T, KD);
        o->rows_scatter(v_cache, p->kv_idx, a->v, T, KD);
        o->attn_fwd(a->att, NULL, a->q, k_cache, v_cache, p->spans, p->n_seqs, T, m->H,
                    m->KVH, m->HD);
    } else {
        o->attn_fwd(a->att, train ? a->lse : NULL, a->q, a->k, a->v, p->spans, p->n_seqs, T,
                    m->H, m->KVH, m->HD);
    }
    /* o_proj's output lands in xn2, which the fused add + norm then overwrites */
    if (row_parallel_fwd(m, lora, l, LORA_O, a->h[LORA_O], a->xn2, a->att, w->wo, QD, train,
                         err) != 0)
        return -1;
    o->add_rmsnorm_fwd(a->x2, a->xn2, a->rstd2, a->x, a->xn2, w->ffn_norm, T, D, eps);

    /* LlamaMLP.forward: down(silu(gate(x)) * up(x)); gate/up column-parallel */
    mlp_gate_up_fwd(m, lora, l, a);
    if (row_parallel_fwd(m, lora, l, LORA_DOWN, a->h[LORA_DOWN], next->out, a->act,
                         w->w_down, m->F, train, err) != 0)
        return -1;
    o->add_rmsnorm_fwd(x_out, next->out, next->rstd, a->x2, next->out, next->w, T, D, eps);
    return 0;
}

int model_layers_fwd(Model *m, const Lora *lora, int train, void *const *k_cache,
                     void *const *v_cache, Err *err) {
    const int64_t T = m->pass.n_tok;
    void *x0 = train ? m->train[0].x : m->x_final;
    /* VocabParallelEmbedding: rows of other ranks' ranges are 0 here; the sum completes it */
    m->ops->embed_fwd(x0, m->pass.tokens, m->embed, T, m->D, m->v0, m->V);
    if (model_tp_sum(m, x0, T * m->D, model_elem_comm(m), "the embedding", err) != 0)
        return -1;
    LayerActs *a0 = train ? &m->train[0] : &m->infer;
    m->ops->rmsnorm_fwd(a0->xn1, a0->rstd1, x0, m->layers[0].attn_norm, T, m->D,
                        m->cfg.rms_eps);
    for (int64_t l = 0; l < m->L; l++) {
        LayerActs *a = train ? &m->train[l] : &m->infer;
        const int last = l + 1 == m->L;
        LayerActs *an = last ? NULL : train ? &m->train[l + 1] : &m->infer;
        void *x_out = (train && !last) ? an->x : m->x_final;
        const NextNorm next = last ? (NextNorm){m->final_norm, m->xnf, m->rstdf}
                                   : (NextNorm){m->layers[l + 1].attn_norm, an->xn1,
                                                an->rstd1};
        if (layer_fwd(m, lora, l, a, x_out, &next, train, k_cache != NULL ? k_cache[l] : NULL,
                      v_cache != NULL ? v_cache[l] : NULL, err) != 0)
            return err_prefix(err, "layer %lld: ", (long long)l);
    }
    return 0;
}

int model_layer_refwd(Model *m, const Lora *lora, int64_t l, Err *err) {
    LayerActs *a = &m->train[l];
    const int last = l + 1 == m->L;
    /* the forward wrote xn1 with the previous layer's fused add + norm: the same
     * arithmetic as rmsnorm_fwd on its result (kernels/ops_list.h add_rmsnorm_fwd) */
    m->ops->rmsnorm_fwd(a->xn1, a->rstd1, a->x, m->layers[l].attn_norm, m->pass.n_tok,
                        m->D, m->cfg.rms_eps);
    const NextNorm next = {last ? m->final_norm : m->layers[l + 1].attn_norm, m->ck_norm,
                           m->ck_rstd};
    return layer_fwd(m, lora, l, a, m->ck_out, &next, 1, NULL, NULL, err);
}

/* Which positions' predictions sample s's ce averages: every one but the last (HF's
 * shifted labels), or, with loss_mask, those whose target token is marked. */
static void mark_predictions(Model *m, const int32_t *seq_lens, int32_t n_seqs,
                             const uint8_t *loss_mask) {
    int64_t t = 0;
    for (int32_t s = 0; s < n_seqs; s++) {
        int32_t n = 0;
        for (int32_t i = 0; i < seq_lens[s]; i++) {
            const int counts = i + 1 < seq_lens[s] && (loss_mask == NULL || loss_mask[t + i + 1]);
            m->h_pred[t + i] = (uint8_t)counts;
            n += counts;
        }
        m->h_n_pred[s] = n;
        t += seq_lens[s];
    }
}

int model_last_ce(const Model *m, const uint8_t *loss_mask, float *ce, Err *err) {
    if (!m->last_ce_valid)
        return err_set(err, "model_last_ce needs a model_forward just before it");
    int64_t t = 0;
    for (int32_t s = 0; s < m->pass.n_seqs; s++) {
        const int32_t len = m->h_seq_lens[s];
        double sum = 0;
        int32_t n = 0;
        for (int32_t i = 0; i + 1 < len; i++)
            if (loss_mask == NULL || loss_mask[t + i + 1]) {
                sum += m->h_loss[t + i];
                n++;
            }
        ce[s] = n > 0 ? (float)(sum / n) : -1.0f;
        t += len;
    }
    return 0;
}

int model_forward(Model *m, const Lora *lora, const int32_t *tokens, const int32_t *seq_lens,
                  int32_t n_seqs, int train, float *ce, Err *err) {
    return model_forward_masked(m, lora, tokens, seq_lens, n_seqs, NULL, train, ce, err);
}

int model_forward_masked(Model *m, const Lora *lora, const int32_t *tokens,
                         const int32_t *seq_lens, int32_t n_seqs, const uint8_t *loss_mask,
                         int train, float *ce, Err *err) {
    return model_forward_rows(m, lora, NULL, tokens, seq_lens, n_seqs, loss_mask, train, ce,
                              err);
}

/* The per-row adapter index of a stacked pass, checked and uploaded (after
 * model_pass_set, which clears it). */
static int set_rows(Model *m, const Lora *lora, const int32_t *row_adapter, int64_t T,
                    Err *err) {
    if (row_adapter == NULL) {
        if (lora != NULL && lora->n_stack > 1)
            return err_set(err, "a stack of %d adapters needs a per-row adapter index "
                           "(model_forward_rows)", lora->n_stack);
        return 0;
    }
    if (lora == NULL)
        return err_set(err, "a per-row adapter index without an adapter");
    for (int64_t t = 0; t < T; t++)
        if (row_adapter[t] < 0 || row_adapter[t] >= lora->n_stack)
            return err_set(err, "token %lld of the pass: adapter index %d, the stack holds "
                           "0..%d", (long long)t, row_adapter[t], lora->n_stack - 1);
    m->ops->upload_raw(m->pass.adapter_dev, row_adapter, (size_t)T * sizeof(int32_t));
    m->pass.adapter = m->pass.adapter_dev;
    return 0;
}

/* The lm_head and the cross-entropy over chunks of m->C rows: logits (n, V) of rows
 * [r0, r0 + n) (under tp this rank's vocabulary columns), their per-row losses into
 * h_loss and tok_lse, and, in a train pass of a chunked model, at once the lm_head input
 * gradient of each row's loss with unit weight, (softmax - onehot) W, into bw.dxn's rows
 * (model_backward scales row t by its d loss: a per-row scalar known only then, since
 * TLM's sample weight depends on the sample's whole ce). Each chunk is consumed before
 * the next overwrites the buffer, so the whole (T, V) never exists and no lm_head pass
 * is recomputed. A train pass of one chunk (T <= C: TLM's batch of one sample) keeps its
 * logits for the backward instead, as with full_logits (model_backward's xent_bwd, then
 * the lm_head matmul): a sample that ends up unselected then never pays the lm_head
 * backward (measured on SmolLM2 at T 128: a train forward 0.25 s, 0.30 s with the unit
 * gradient). */
static int head_xent(Model *m, int train, Err *err) {
    const Ops *o = m->ops;
    const int64_t T = m->pass.n_tok, D = m->D, V = m->V;
    const size_t row = (size_t)D * o->elem_bytes;
    const int unit_grad = train && !m->opt.full_logits && T > m->C;
    m->unit_grad = unit_grad;
    if (unit_grad) { /* d loss_t / d loss_t = 1 on the rows the ce counts, 0 elsewhere */
        for (int64_t t = 0; t < T; t++)
            m->h_dloss[t] = m->h_pred[t] ? 1.0f : 0.0f;
        o->upload_raw(m->bw.dloss, m->h_dloss, (size_t)T * sizeof(float));
    }
    for (int64_t r0 = 0; r0 < T; r0 += m->C) {
        const int64_t n = T - r0 < m->C ? T - r0 : m->C;
        o->wmatmul_fwd(m->logits, (const char *)m->xnf + (size_t)r0 * row, m->lm_head, NULL,
                       n, V, D, 0);
        if (model_vocab_xent(m, r0, n, err) != 0)
            return -1;
        if (!unit_grad)
            continue;
        o->xent_bwd(m->logits, m->logits, m->tok_lse + r0, m->pass.targets + r0,
                    m->bw.dloss + r0, n, V, m->v0);
        o->wmatmul_bwd((char *)m->bw.dxn + (size_t)r0 * row, m->logits, m->lm_head, n, V, D,
                       0);
    }
    return 0;
}

int model_forward_rows(Model *m, const Lora *lora, const int32_t *row_adapter,
                       const int32_t *tokens, const int32_t *seq_lens, int32_t n_seqs,
                       const uint8_t *loss_mask, int train, float *ce, Err *err) {
    int64_t T = 0;
    for (int32_t s = 0; s < n_seqs; s++)
        T += seq_lens[s];
    const int64_t limit = train ? m->opt.max_train_tokens : m->opt.max_tokens;
    if (T > limit)
        return err_set(err, "%lld tokens in a %s pass; the model was opened for %lld",
                       (long long)T, train ? "training" : "inference", (long long)limit);
    if (model_check_lora(m, lora, err) != 0 ||
        model_pass_set(m, tokens, seq_lens, NULL, NULL, n_seqs, err) != 0 ||
        set_rows(m, lora, row_adapter, T, err) != 0)
        return -1;
    memcpy(m->h_seq_lens, seq_lens, (size_t)n_seqs * sizeof *seq_lens);
    m->last_train = train;
    m->last_lora = lora;

    if (model_layers_fwd(m, lora, train, NULL, NULL, err) != 0) /* xnf = norm(x_final) */
        return -1;
    mark_predictions(m, seq_lens, n_seqs, loss_mask);
    if (head_xent(m, train, err) != 0)
        return -1;

    /* HF's loss for one sample: mean over its shifted targets (len - 1 of them, or the
     * masked ones). Summed in double so the result does not depend on how the batch was
     * packed. */
    m->last_ce_valid = 1;
    int64_t t = 0;
    for (int32_t s = 0; s < n_seqs; s++) {
        double sum = 0;
        for (int32_t i = 0; i + 1 < seq_lens[s]; i++)
            if (m->h_pred[t + i])
                sum += m->h_loss[t + i];
        ce[s] = m->h_n_pred[s] > 0 ? (float)(sum / m->h_n_pred[s]) : 0.0f;
        t += seq_lens[s];
    }
    return 0;
}
