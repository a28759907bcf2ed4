/* worker/backward.c -- backpropagation of the per-sample losses into the LoRA gradients.
 * The reverse of forward.c, layer by layer: activation gradients flow through the frozen
 * weights (matmul_bwd, no weight gradients are ever formed) and each wrapped projection
 * adds its dA, dB (lora_bwd). Below the lowest point any LoRA gradient depends on,
 * nothing is computed: the embedding gets no gradient and layer 0 stops at its q/k/v. */
#include "worker/model_impl.h"

/* A wrapped projection y = x W^T + scale (x A^T) B^T: adds dA, dB from dy, and, when dx is
 * not NULL, scale (dy B) A into dx (the frozen part of dx is the caller's matmul_bwd). */
static void lora_grad(const Model *m, Lora *lora, int64_t l, LoraTarget tg, void *dx,
                      const void *dy, const void *x, const float *h) {
    const LoraView *v = lora_view(lora, l, tg);
    if (v == NULL)
        return;
    m->ops->lora_bwd(v->da, v->db, dx, m->bw.dh, dy, x, h, v->a, v->b, lora->scale,
                     m->pass.n_tok, v->n_out, v->n_in, lora->cfg.rank);
}

/* On entry bw.dres = d loss / d x_out of layer l; on exit (l > 0) d loss / d x. */
static void layer_bwd(Model *m, Lora *lora, int64_t l) {
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
        return;
    }
    o->matmul_bwd(g->dact, g->dres, w->w_down, T, D, F, 0);
    lora_grad(m, lora, l, LORA_DOWN, g->dact, g->dres, a->act, a->h[LORA_DOWN]);
    o->swiglu_bwd(g->dgate, g->dup, g->dact, a->gate, a->up, T * F);
    o->matmul_bwd(g->dxn, g->dgate, w->w_gate, T, F, D, 0);
    o->matmul_bwd(g->dxn, g->dup, w->w_up, T, F, D, 1);
    lora_grad(m, lora, l, LORA_GATE, g->dxn, g->dgate, a->xn2, a->h[LORA_GATE]);
    lora_grad(m, lora, l, LORA_UP, g->dxn, g->dup, a->xn2, a->h[LORA_UP]);
    o->rmsnorm_bwd(g->dres, g->dxn, a->x2, w->ffn_norm, a->rstd2, T, D); /* += : residual */

    /* x2 = x + o_proj(attention(rope(q), rope(k), v)), q/k/v = proj(norm1(x)) */
    const uint32_t qkv = LORA_BIT(LORA_Q) | LORA_BIT(LORA_K) | LORA_BIT(LORA_V);
    if (bottom && (tg & (qkv | LORA_BIT(LORA_O))) == 0)
        return;
    if (bottom && (tg & qkv) == 0) { /* nothing below o_proj's adapter needs d att */
        lora_grad(m, lora, l, LORA_O, NULL, g->dres, a->att, a->h[LORA_O]);
        return;
    }
    o->matmul_bwd(g->datt, g->dres, w->wo, T, D, QD, 0);
    lora_grad(m, lora, l, LORA_O, g->datt, g->dres, a->att, a->h[LORA_O]);
    o->zero(g->dk, (size_t)(T * KD) * o->elem_bytes);
    o->zero(g->dv, (size_t)(T * KD) * o->elem_bytes);
    o->attn_bwd(g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v, a->att, a->lse, p->spans,
                p->n_seqs, T, m->H, m->KVH, m->HD);
    o->rope_bwd(g->dq, p->pos, m->rope_cos, m->rope_sin, T, m->H, m->HD);
    o->rope_bwd(g->dk, p->pos, m->rope_cos, m->rope_sin, T, m->KVH, m->HD);
    void *dxn = bottom ? NULL : g->dxn;
    if (!bottom) {
        o->matmul_bwd(g->dxn, g->dq, w->wq, T, QD, D, 0);
        o->matmul_bwd(g->dxn, g->dk, w->wk, T, KD, D, 1);
        o->matmul_bwd(g->dxn, g->dv, w->wv, T, KD, D, 1);
    }
    lora_grad(m, lora, l, LORA_Q, dxn, g->dq, a->xn1, a->h[LORA_Q]);
    lora_grad(m, lora, l, LORA_K, dxn, g->dk, a->xn1, a->h[LORA_K]);
    lora_grad(m, lora, l, LORA_V, dxn, g->dv, a->xn1, a->h[LORA_V]);
    if (!bottom)
        o->rmsnorm_bwd(g->dres, g->dxn, a->x, w->attn_norm, a->rstd1, T, D);
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

    /* d ce_s / d loss_t = 1 / (len_s - 1) on s's predicted tokens (HF's mean). */
    int any = 0;
    int64_t t = 0;
    for (int32_t s = 0; s < p->n_seqs; s++) {
        const int32_t len = m->h_seq_lens[s];
        const float g = len > 1 ? dce[s] / (float)(len - 1) : 0.0f;
        any |= g != 0.0f;
        for (int32_t i = 0; i < len; i++)
            m->h_dloss[t + i] = i + 1 < len ? g : 0.0f;
        t += len;
    }
    m->last_train = 0; /* the logits are consumed below: one backward per forward */
    if (!any)
        return 0; /* every gradient contribution is zero: nothing to add */
    o->upload_raw(m->bw.dloss, m->h_dloss, (size_t)T * sizeof(float));

    /* LlamaForCausalLM: logits = lm_head(norm(x_final)); dlogits in place */
    o->xent_bwd(m->logits, m->logits, m->tok_lse, p->targets, m->bw.dloss, T, m->V);
    o->matmul_bwd(m->bw.dxn, m->logits, m->lm_head, T, m->V, m->D, 0);
    o->zero(m->bw.dres, (size_t)(T * m->D) * o->elem_bytes);
    o->rmsnorm_bwd(m->bw.dres, m->bw.dxn, m->x_final, m->final_norm, m->rstdf, T, m->D);
    for (int64_t l = m->L - 1; l >= 0; l--)
        layer_bwd(m, lora, l);
    return 0;
}
