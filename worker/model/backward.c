/* worker/model/backward.c -- backpropagation of the per-sample losses into the LoRA gradients.
 * The reverse of forward.c, layer by layer: activation gradients flow through the frozen
 * weights (wmatmul_bwd, no weight gradients are ever formed) and each wrapped projection
 * adds its dA, dB (lora_bwd). Below the lowest point any LoRA gradient depends on,
 * nothing is computed: the embedding gets no gradient and layer 0 stops at its q/k/v.
 * Under tp (DESIGN §3) the Megatron-LM backward: the input gradients of column-parallel
 * projections and of the lm_head are summed over tp, and so is the dA of the replicated
 * A of column-parallel LoRA targets; everything else is local to this rank's slice.
 * The residual stream's gradient is summed in fp32 on every backend (bw.dres32), each
 * layer's matmuls reading its elem copy (bw.dres; the same buffer on CPU). */
#include "worker/model/model_impl.h"

#include "io/base/log.h"

/* A wrapped projection y = x W^T + scale (x A^T) B^T: adds dA, dB from dy, and, when dx is
 * not NULL, scale (dy B) A into dx (the frozen part of dx is the caller's wmatmul_bwd). */
static void lora_grad(const Model *m, Lora *lora, int64_t l, LoraTarget tg, void *dx,
                      const void *dy, const void *x, const float *h) {
    const LoraView *v = lora_view(lora, l, tg);
    if (v == NULL)
        return;
    if (m->pass.adapter != NULL) /* a stack: each row's gradient into its own adapter */
        m->ops->lora_rows_bwd(v->da, v->db, dx, m->bw.dh, dy, x, h, v->a, v->b,
                              m->pass.adapter, lora->n_stack, lora->scale, m->pass.n_tok,
                              v->n_out, v->n_in, lora->cfg.rank);
    else
        m->ops->lora_bwd(v->da, v->db, dx, m->bw.dh, dy, x, h, v->a, v->b, lora->scale,
                         m->pass.n_tok, v->n_out, v->n_in, lora->cfg.rank);
}

/* dxn (T, D): the input gradient of column-parallel projections is a partial sum over
 * the tp ranks' output columns (Megatron-LM's ColumnParallelLinear backward all-reduce);
 * summed before it enters the replicated norm and residual. */
static int sum_dxn(Model *m, const char *what, Err *err) {
    return model_tp_sum(m, m->bw.dxn, m->pass.n_tok * m->D, model_elem_comm(m), what, err);
}

/* dxn (T, D) = the gradient of xn2 through gate_proj and up_proj from bw.dact, laid
 * out as the forward's gu (model_ffn_split): stacked, swiglu_gu_bwd writes dgu (T, 2F)
 * and one matmul against [gate | up] reads it; split, dgate and dup are dgu's two
 * contiguous (T, F) halves, each projection its own matmul and LoRA gradient. */
static void mlp_gate_up_bwd(const Model *m, Lora *lora, int64_t l) {
    const Ops *o = m->ops;
    const LayerWeights *w = &m->layers[l];
    const LayerActs *a = &m->train[l];
    const BackWork *g = &m->bw;
    const int64_t T = m->pass.n_tok, F = m->F, D = m->D;
    if (!model_ffn_split(lora, l)) {
        o->swiglu_gu_bwd(g->dgu, g->dact, a->gu, T, F);
        o->wmatmul_bwd(g->dxn, g->dgu, w->w_gu, T, 2 * F, D, 0);
        return;
    }
    const size_t half = (size_t)(T * F) * o->elem_bytes;
    const void *gate = a->gu, *up = (const char *)a->gu + half;
    void *dgate = g->dgu, *dup = (char *)g->dgu + half;
    o->swiglu_bwd(dgate, dup, g->dact, gate, up, T * F);
    o->wmatmul_bwd(g->dxn, dgate, w->w_gate, T, F, D, 0);
    o->wmatmul_bwd(g->dxn, dup, w->w_up, T, F, D, 1);
    lora_grad(m, lora, l, LORA_GATE, g->dxn, dgate, a->xn2, a->h[LORA_GATE]);
    lora_grad(m, lora, l, LORA_UP, g->dxn, dup, a->xn2, a->h[LORA_UP]);
}

/* On entry bw.dres32 (and its elem copy bw.dres) = d loss / d x_out of layer l; on exit
 * (l > 0) d loss / d x. Under tp the gradients of the row-parallel inputs (act, att) are
 * local to this rank's columns: the backward of RowParallelLinear needs no
 * communication. */
static int layer_bwd(Model *m, Lora *lora, int64_t l, Err *err) {
    const Ops *o = m->ops;
    const LayerWeights *w = &m->layers[l];
    const LayerActs *a = &m->train[l];
    const BackWork *g = &m->bw;
    const PassTables *p = &m->pass;
    const int64_t T = p->n_tok, D = m->D, F = m->F, QD = m->H * m->HD, KD = m->KVH * m->HD;
    const int bottom = l == 0;
    const uint32_t tg = lora->cfg.targets;

    /* x_out = x2 + down(silu(gate(xn2)) * up(xn2)), xn2 = norm2(x2) */
    if (bottom && (tg & ~LORA_BIT(LORA_DOWN)) == 0) {
        lora_grad(m, lora, l, LORA_DOWN, NULL, g->dres, a->act, a->h[LORA_DOWN]);
        return 0;
    }
    o->wmatmul_bwd(g->dact, g->dres, w->w_down, T, D, F, 0);
    lora_grad(m, lora, l, LORA_DOWN, g->dact, g->dres, a->act, a->h[LORA_DOWN]);
    mlp_gate_up_bwd(m, lora, l);
    if (sum_dxn(m, "the mlp input gradient", err) != 0)
        return -1;
    /* += : the residual, summed in fp32 (dres32), dres its elem copy */
    o->rmsnorm_bwd_res(g->dres32, g->dres, g->dxn, a->x2, w->ffn_norm, a->rstd2, T, D);

    /* x2 = x + o_proj(attention(rope(q), rope(k), v)), q/k/v = proj(norm1(x)) */
    const uint32_t qkv = LORA_BIT(LORA_Q) | LORA_BIT(LORA_K) | LORA_BIT(LORA_V);
    if (bottom && (tg & (qkv | LORA_BIT(LORA_O))) == 0)
        return 0;
    if (bottom && (tg & qkv) == 0) { /* nothing below o_proj's adapter needs d att */
        lora_grad(m, lora, l, LORA_O, NULL, g->dres, a->att, a->h[LORA_O]);
        return 0;
    }
    o->wmatmul_bwd(g->datt, g->dres, w->wo, T, D, QD, 0);
    lora_grad(m, lora, l, LORA_O, g->datt, g->dres, a->att, a->h[LORA_O]);
    o->zero(g->dk, (size_t)(T * KD) * o->elem_bytes);
    o->zero(g->dv, (size_t)(T * KD) * o->elem_bytes);
    o->attn_bwd(g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v, a->att, a->lse, p->spans,
                p->n_seqs, T, m->H, m->KVH, m->HD);
    o->rope_qk_bwd(g->dq, g->dk, p->pos, m->rope_cos, m->rope_sin, T, m->H, m->KVH, m->HD);
    void *dxn = bottom ? NULL : g->dxn;
    if (!bottom) {
        o->wmatmul_bwd(g->dxn, g->dq, w->wq, T, QD, D, 0);
        o->wmatmul_bwd(g->dxn, g->dk, w->wk, T, KD, D, 1);
        o->wmatmul_bwd(g->dxn, g->dv, w->wv, T, KD, D, 1);
    }
    lora_grad(m, lora, l, LORA_Q, dxn, g->dq, a->xn1, a->h[LORA_Q]);
    lora_grad(m, lora, l, LORA_K, dxn, g->dk, a->xn1, a->h[LORA_K]);
    lora_grad(m, lora, l, LORA_V, dxn, g->dv, a->xn1, a->h[LORA_V]);
    if (bottom)
        return 0;
    if (sum_dxn(m, "the attention input gradient", err) != 0)
        return -1;
    o->rmsnorm_bwd_res(g->dres32, g->dres, g->dxn, a->x, w->attn_norm, a->rstd1, T, D);
    return 0;
}

/* From the lm_head's input gradient in bw.dxn (T, D; under tp this rank's partial sum)
 * to the LoRA gradients: the final norm, then every layer top-down (with
 * gradient_checkpointing each layer's forward rerun first from its saved input, as HF's
 * gradient checkpointing reruns each decoder layer: torch.utils.checkpoint). */
static int head_input_bwd(Model *m, Lora *lora, Err *err) {
    const Ops *o = m->ops;
    const int64_t T = m->pass.n_tok;
    if (sum_dxn(m, "the lm_head input gradient", err) != 0)
        return -1;
    o->zero(m->bw.dres32, (size_t)(T * m->D) * sizeof(float));
    o->rmsnorm_bwd_res(m->bw.dres32, m->bw.dres, m->bw.dxn, m->x_final, m->final_norm,
                       m->rstdf, T, m->D);
    /* dA of column-parallel targets (lora block [0, n_reduce)): each rank's backward adds
     * its output columns' share, summed over tp below (the weight gradient of a
     * replicated input-side matrix, DESIGN §3). What the region already holds (earlier
     * backwards of this step) is the same on every rank, so only rank 0 keeps it: the
     * sum then adds it once, plus this backward's shares from every rank. */
    if (m->tp_rank != 0)
        o->zero(lora->grads, (size_t)lora->n_reduce * sizeof(float));
    for (int64_t l = m->L - 1; l >= 0; l--) {
        /* checkpointed: the shared set holds the last layer's activations (the forward
         * ran it last); every other layer's are recomputed from its saved input */
        if (m->opt.gradient_checkpointing && l + 1 < m->L &&
            model_layer_refwd(m, lora, l, err) != 0)
            return err_prefix(err, "recomputing layer %lld for the backward: ", (long long)l);
        if (layer_bwd(m, lora, l, err) != 0)
            return err_prefix(err, "backward of layer %lld: ", (long long)l);
    }
    return model_tp_sum(m, lora->grads, lora->n_reduce, COMM_F32, "LoRA dA", err);
}

/* From dlogits (T, V) in m->logits (written over the logits; full_logits) to the LoRA
 * gradients: the lm_head, then head_input_bwd. Shared by model_backward (dlogits from
 * the cross-entropy) and model_backward_logits (a method's own loss on the logits, e.g.
 * the entropy objectives of worker/methods/method_tent.c). */
static int dlogits_bwd(Model *m, Lora *lora, Err *err) {
    /* under tp dlogits are this rank's vocabulary columns (T, V/tp): a partial dxn */
    m->ops->wmatmul_bwd(m->bw.dxn, m->logits, m->lm_head, m->pass.n_tok, m->V, m->D, 0);
    return head_input_bwd(m, lora, err);
}

int model_backward(Model *m, Lora *lora, const float *dce, Err *err) {
    if (!m->last_train)
        return err_set(err, "backward needs a forward with train != 0 just before it");
    if (lora == NULL || lora != m->last_lora)
        return err_set(err, "backward needs the adapter of the last forward (%s)",
                       lora == NULL ? "got none" : "got another one");
    const Ops *o = m->ops;
    const PassTables *p = &m->pass;
    const int64_t T = p->n_tok;

    /* d ce_s / d loss_t = 1 / n_pred_s on the predictions s's ce averages (HF's mean:
     * n_pred_s = len_s - 1 without a loss mask). */
    int any = 0;
    int64_t t = 0;
    for (int32_t s = 0; s < p->n_seqs; s++) {
        const int32_t len = m->h_seq_lens[s], n = m->h_n_pred[s];
        const float g = n > 0 ? dce[s] / (float)n : 0.0f;
        any |= g != 0.0f;
        for (int32_t i = 0; i < len; i++)
            m->h_dloss[t + i] = m->h_pred[t + i] ? g : 0.0f;
        t += len;
    }
    m->last_train = 0; /* the logits are consumed below: one backward per forward */
    if (!any)
        return 0; /* every gradient contribution is zero: nothing to add */
    o->upload_raw(m->bw.dloss, m->h_dloss, (size_t)T * sizeof(float));

    /* LlamaForCausalLM: logits = lm_head(norm(x_final)). Over several chunks (forward.c
     * head_xent): d loss / d xnf row t = dloss_t (softmax - onehot) W, whose unit-weight
     * part the forward left in dxn; scaled here, before the tp sum (linear, so once). */
    if (m->unit_grad) {
        o->scale_rows(m->bw.dxn, m->bw.dloss, T, m->D);
        return head_input_bwd(m, lora, err);
    }
    /* the pass's whole logits (one chunk, or full_logits): dlogits in place. Under tp this
     * rank's vocabulary columns against the whole vocabulary's lse (model_tp.c). */
    o->xent_bwd(m->logits, m->logits, m->tok_lse, p->targets, m->bw.dloss, T, m->V, m->v0);
    return dlogits_bwd(m, lora, err);
}

/* The train forward's checks shared by both backward entry points. */
static int check_last_train(const Model *m, const Lora *lora, Err *err) {
    if (!m->last_train)
        return err_set(err, "backward needs a forward with train != 0 just before it");
    if (lora == NULL || lora != m->last_lora)
        return err_set(err, "backward needs the adapter of the last forward (%s)",
                       lora == NULL ? "got none" : "got another one");
    return 0;
}

void *model_dlogits(Model *m) {
    if (!m->opt.full_logits) {
        log_error("model_dlogits: the model was opened without full_logits (its logits "
                  "buffer holds one chunk of %lld rows)", (long long)m->C);
        return NULL;
    }
    return m->logits;
}

int model_backward_logits(Model *m, Lora *lora, Err *err) {
    if (!m->opt.full_logits)
        return err_set(err, "model_backward_logits needs a model opened with full_logits "
                       "(a method whose loss reads the logits: Method.needs_logits)");
    if (check_last_train(m, lora, err) != 0)
        return -1;
    m->last_train = 0; /* the dlogits are consumed: one backward per forward */
    return dlogits_bwd(m, lora, err);
}
