/* worker/model/model.c -- Model lifecycle: open (config, limits, this rank's tp slice,
 * weights, the activation / backward workspaces in one allocation, rope tables), close,
 * accessors, the adapter check. Weights: model_load.c; sizes and the allocator:
 * model_memory.c; the tp slice, sums and vocabulary-parallel head: model_tp.c (none of
 * the three calls back into this file); passes: forward.c, backward.c. */
#include "worker/model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/log.h"
#include "io/convert/gguf_source.h"
#include "worker/model/model_impl.h"

/* One layer's activation views of `rows` tokens but its input x (the caller's: a train
 * layer's own, x_final for the inference set). Inference sets share the residual stream
 * (x2 -> x_final, filled by the caller) and keep no attention lse. */
static void plan_layer_acts(BlockPlan *p, const Model *m, LayerActs *a, int64_t rows,
                            int train) {
    const size_t e = m->ops->elem_bytes, f = sizeof(float);
    const size_t t = (size_t)rows;
    if (train) {
        block_add(p, &a->x2, t * m->D * e);
        block_add(p, &a->lse, t * m->H * f);
    }
    block_add(p, &a->xn1, t * m->D * e);
    block_add(p, &a->rstd1, t * f);
    block_add(p, &a->q, t * m->H * m->HD * e);
    block_add(p, &a->k, t * m->KVH * m->HD * e);
    block_add(p, &a->v, t * m->KVH * m->HD * e);
    block_add(p, &a->att, t * m->H * m->HD * e);
    block_add(p, &a->xn2, t * m->D * e);
    block_add(p, &a->rstd2, t * f);
    block_add(p, &a->gu, t * 2 * m->F * e);
    block_add(p, &a->act, t * m->F * e);
    for (int i = 0; i < LORA_N_TARGETS; i++)
        block_add(p, &a->h[i], t * (size_t)m->opt.max_lora_rank * f);
}

static void plan_back_work(BlockPlan *p, const Model *m, BackWork *w, int64_t rows) {
    const size_t e = m->ops->elem_bytes, f = sizeof(float), t = (size_t)rows;
    block_add(p, &w->dres32, t * m->D * f);
    if (e != f)
        block_add(p, &w->dres, t * m->D * e); /* else dres = dres32, set after the alloc */
    block_add(p, &w->dxn, t * m->D * e);
    block_add(p, &w->datt, t * m->H * m->HD * e);
    block_add(p, &w->dq, t * m->H * m->HD * e);
    block_add(p, &w->dk, t * m->KVH * m->HD * e);
    block_add(p, &w->dv, t * m->KVH * m->HD * e);
    block_add(p, &w->dact, t * m->F * e);
    block_add(p, &w->dgu, t * 2 * m->F * e);
    block_add(p, &w->dh, t * (size_t)m->opt.max_lora_rank * f);
    block_add(p, &w->dloss, t * f);
}

/* The training activations: each layer's input x and its own set, or, with
 * gradient_checkpointing, each layer's x, one set into *shared (the caller copies its
 * views into every train[l] once allocated) and the recompute's discarded outputs. */
static void plan_train_acts(BlockPlan *p, Model *m, LayerActs *shared, int64_t rows) {
    const size_t row = (size_t)m->D * m->ops->elem_bytes, t = (size_t)rows;
    const int ckpt = m->opt.gradient_checkpointing;
    for (int64_t l = 0; l < m->L; l++) {
        block_add(p, &m->train[l].x, t * row);
        if (!ckpt)
            plan_layer_acts(p, m, &m->train[l], rows, 1);
    }
    if (!ckpt)
        return;
    plan_layer_acts(p, m, shared, rows, 1);
    block_add(p, &m->ck_out, t * row);
    block_add(p, &m->ck_norm, t * row);
    block_add(p, &m->ck_rstd, t * sizeof(float));
}

/* Activations, pass tables, rope tables and the backward workspace: one allocation
 * for the whole run (reused by every pass; nothing is allocated per step). */
static int alloc_workspaces(Model *m, Err *err) {
    const size_t e = m->ops->elem_bytes, f = sizeof(float);
    const int64_t Tt = m->opt.max_train_tokens, B = m->opt.max_seqs;
    const size_t t = (size_t)m->T_any;
    const size_t table_ints = (size_t)(4 * m->T_any + 5 * B);
    BlockPlan p = {0};
    LayerActs shared = {0}; /* gradient_checkpointing's one train set */
    plan_layer_acts(&p, m, &m->infer, m->opt.max_tokens, 0);
    if (Tt > 0)
        plan_train_acts(&p, m, &shared, Tt);
    if (Tt > 0)
        plan_back_work(&p, m, &m->bw, Tt);
    block_add(&p, &m->x_final, t * m->D * e);
    block_add(&p, &m->xnf, t * m->D * e);
    block_add(&p, &m->rstdf, t * f);
    block_add(&p, &m->logits, (size_t)m->C * m->V * e);
    block_add(&p, &m->tok_lse, t * f);
    /* the vocabulary-parallel head's per-row statistics (model_tp.c) */
    block_add(&p, &m->tok_part, 2 * t * f);
    block_add(&p, &m->tok_gath, (size_t)m->tp * 2 * t * f);
    block_add(&p, &m->pass.dev, table_ints * sizeof(int32_t));
    block_add(&p, &m->pass.adapter_dev, t * sizeof(int32_t));
    block_add(&p, &m->rope_cos, (size_t)m->opt.max_pos * (m->HD / 2) * f);
    block_add(&p, &m->rope_sin, (size_t)m->opt.max_pos * (m->HD / 2) * f);
    m->a_block = block_alloc(&p, m->ops, "activation workspace", err);
    if (m->a_block == NULL)
        return -1;
    /* inference: the residual stream is updated in place in x_final */
    m->infer.x = m->x_final;
    m->infer.x2 = m->x_final;
    for (int64_t l = 0; Tt > 0 && m->opt.gradient_checkpointing && l < m->L; l++) {
        void *x = m->train[l].x;
        m->train[l] = shared;
        m->train[l].x = x;
    }
    if (Tt > 0 && e == f)
        m->bw.dres = m->bw.dres32;

    /* the two host buffers of every pass's copies: pinned on CUDA (upload_async,
     * download_async) */
    m->pass.host = m->ops->host_alloc(table_ints * sizeof(int32_t), err);
    if (m->pass.host == NULL)
        return -1;
    if ((m->h_gath = m->ops->host_alloc((size_t)m->tp * 2 * t * f, err)) == NULL)
        return -1;
    m->h_loss = calloc(t, f);
    m->h_dloss = calloc(t, f);
    m->h_seq_lens = calloc((size_t)B, sizeof(int32_t));
    m->h_n_pred = calloc((size_t)B, sizeof(int32_t));
    m->h_pred = calloc(t, 1);
    if (m->h_loss == NULL || m->h_dloss == NULL ||
        m->h_seq_lens == NULL || m->h_n_pred == NULL || m->h_pred == NULL)
        return err_set(err, "out of host memory for the pass tables (%zu ints)", table_ints);
    return 0;
}

/* cos/sin (max_pos, HD/2), computed on the host as transformers does (llama3 scaling
 * included, io/model/model_config.c) and uploaded once. */
static int upload_rope(Model *m, Err *err) {
    const size_t n = (size_t)m->opt.max_pos * (size_t)(m->HD / 2);
    float *c = malloc(n * sizeof(float)), *s = malloc(n * sizeof(float));
    if (c == NULL || s == NULL) {
        free(c);
        free(s);
        return err_set(err, "out of host memory for rope tables (%zu floats)", 2 * n);
    }
    cfg_rope_tables(&m->cfg, m->opt.max_pos, c, s);
    m->ops->upload_raw(m->rope_cos, c, n * sizeof(float));
    m->ops->upload_raw(m->rope_sin, s, n * sizeof(float));
    m->ops->sync();
    free(c);
    free(s);
    return 0;
}

static void log_memory(const Model *m, const char *dir) {
    ModelMemory e = model_memory_estimate(&m->cfg, &m->opt, m->tp, m->ops->elem_bytes);
    const double mib = 1024.0 * 1024.0;
    char parts[320]; /* what the weights are made of */
    const WeightFormat wf = m->opt.weight_format;
    snprintf(parts, sizeof parts, "matrices %s %.1f, embedding+norms %s %.1f%s",
             wf == WEIGHT_ELEM ? dtype_name(m->ops->elem) : weight_format_name(wf),
             (double)e.matrix_bytes / mib, dtype_name(m->ops->elem),
             (double)e.dense_bytes / mib,
             weight_is_blocked(wf) ? "; the embedding is not quantized (only the matrices "
                                     "are, as QLoRA)" : "");
    if (m->w_from_gguf) { /* what was allocated, each matrix in its format */
        const int kept = m->embed.format != WEIGHT_ELEM;
        const size_t matrices = m->w_matrix_bytes - (kept ? m->w_embed_bytes : 0);
        const size_t norms = m->w_dense_bytes - (kept ? 0 : m->w_embed_bytes);
        const char *tied = m->cfg.tie_embeddings && m->lm_head.data == m->embed.data
                               ? ", also the tied lm_head" : "";
        e.total_bytes += m->w_matrix_bytes + m->w_dense_bytes - e.weights_bytes;
        e.weights_bytes = m->w_matrix_bytes + m->w_dense_bytes;
        snprintf(parts, sizeof parts, "matrices %.1f: %s; embedding %s %.1f (%s the file's "
                 "%s%s); norms %s %.1f", (double)matrices / mib, m->w_formats,
                 kept ? weight_format_name(m->embed.format) : dtype_name(m->ops->elem),
                 (double)m->w_embed_bytes / mib, kept ? "kept in" : "widened from",
                 m->w_embed_type, tied, dtype_name(m->ops->elem), (double)norms / mib);
    }
    log_info("model %s on %s, tp rank %d/%d (H %lld, KVH %lld, F %lld, vocab [%lld, %lld)): "
             "memory estimate %.1f MiB = weights %.1f (%s) + LoRA+AdamW %.1f + KV cache %.1f "
             "+ activations %.1f (%s; the logits %s %lld rows)", dir, m->ops->name,
             m->tp_rank, m->tp, (long long)m->H, (long long)m->KVH, (long long)m->F, (long long)m->v0,
             (long long)(m->v0 + m->V), (double)e.total_bytes / mib,
             (double)e.weights_bytes / mib, parts, (double)e.lora_bytes / mib,
             (double)e.kv_bytes / mib, (double)e.act_bytes / mib,
             m->opt.max_train_tokens <= 0    ? "no training pass"
             : m->opt.gradient_checkpointing ? "activations recomputed in the backward: "
                                               "each layer keeps only its input"
                                             : "every layer's kept for the backward",
             m->opt.full_logits ? "whole:" : "in chunks of", (long long)m->C);
    if (m->w_from_gguf)
        log_info("model %s read in place: the file's tensors %.1f MiB, this rank's weights "
                 "%.1f MiB", dir, (double)m->w_file_bytes / mib,
                 (double)e.weights_bytes / mib);
    char line[384]; /* what every number of this run depends on */
    m->ops->describe(line, sizeof line);
    log_info("%s backend: %s", m->ops->name, line);
}

Model *model_open(const char *dir, const Ops *ops, const ModelOptions *options, Err *err) {
    Model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        err_set(err, "%s: out of host memory", dir);
        return NULL;
    }
    m->ops = ops;
    if (model_src_config(dir, &m->cfg, err) != 0)
        goto fail;
    m->opt = model_resolve_options(options, &m->cfg);
    m->L = m->cfg.n_layers;
    m->D = m->cfg.dim;
    m->H = m->cfg.n_heads;
    m->KVH = m->cfg.n_kv_heads;
    m->HD = m->cfg.head_dim;
    m->F = m->cfg.ffn_dim;
    m->V = m->cfg.vocab_size;
    m->T_any = m->opt.max_tokens > m->opt.max_train_tokens ? m->opt.max_tokens
                                                           : m->opt.max_train_tokens;
    m->C = m->opt.logit_rows;
    if (m->H % m->KVH != 0 || m->HD % 2 != 0) {
        err_set(err, "%s/config.json: %lld heads not a multiple of %lld kv heads, or odd "
                     "head_dim %lld", dir, (long long)m->H, (long long)m->KVH, (long long)m->HD);
        goto fail;
    }
    if (model_tp_slice(m, dir, err) != 0)
        goto fail;
    if (m->opt.max_seqs > m->opt.max_tokens) {
        err_set(err, "max_seqs %d exceeds max_tokens %lld", m->opt.max_seqs,
                (long long)m->opt.max_tokens);
        goto fail;
    }
    m->layers = calloc((size_t)m->L, sizeof *m->layers);
    if (m->opt.max_train_tokens > 0)
        m->train = calloc((size_t)m->L, sizeof *m->train);
    if (m->layers == NULL || (m->opt.max_train_tokens > 0 && m->train == NULL)) {
        err_set(err, "%s: out of host memory for %lld layers", dir, (long long)m->L);
        goto fail;
    }
    if (model_load_weights(m, dir, err) != 0 || alloc_workspaces(m, err) != 0 ||
        upload_rope(m, err) != 0)
        goto fail;
    log_memory(m, dir);
    return m;
fail:
    err_prefix(err, "opening model %s: ", dir);
    model_close(m);
    return NULL;
}

void model_close(Model *m) {
    if (m == NULL)
        return;
    if (m->ops != NULL) {
        m->ops->release(m->a_block);
        m->ops->release(m->w_block);
        m->ops->host_release(m->pass.host);
        m->ops->host_release(m->h_gath);
    }
    free(m->h_loss);
    free(m->h_dloss);
    free(m->h_n_pred);
    free(m->h_pred);
    free(m->h_seq_lens);
    free(m->train);
    free(m->layers);
    free(m);
}

const ModelConfig *model_config(const Model *m) { return &m->cfg; }
const Ops *model_ops(const Model *m) { return m->ops; }
ModelOptions model_options(const Model *m) { return m->opt; }

const void *model_logits(const Model *m, int64_t *n_tok) {
    if (n_tok != NULL)
        *n_tok = m->pass.n_tok;
    if (!m->opt.full_logits) { /* not the last chunk: that would be some rows only */
        log_error("model_logits: the model was opened without full_logits (its logits "
                  "buffer holds one chunk of %lld rows)", (long long)m->C);
        return NULL;
    }
    return m->logits;
}

int model_ffn_split(const Lora *lora, int64_t l) {
    return lora != NULL &&
           (lora_view(lora, l, LORA_GATE) != NULL || lora_view(lora, l, LORA_UP) != NULL);
}

int model_check_lora(const Model *m, const Lora *lora, Err *err) {
    if (lora == NULL)
        return 0;
    if (lora->tp != m->tp || lora->tp_rank != m->tp_rank)
        return err_set(err, "adapter sharded for tp rank %d of %d, model for rank %d of %d: "
                            "allocate it with lora_alloc_tp and the model's comm",
                       lora->tp_rank, lora->tp, m->tp_rank, m->tp);
    if (lora->cfg.rank > m->opt.max_lora_rank)
        return err_set(err, "adapter rank %d exceeds the model's max_lora_rank %d",
                       lora->cfg.rank, m->opt.max_lora_rank);
    if (lora->n_stack < 1)
        return err_set(err, "adapter was not allocated (lora_alloc / lora_alloc_stack)");
    if (lora->n_layers != m->L)
        return err_set(err, "adapter has %lld layers, model %lld", (long long)lora->n_layers,
                       (long long)m->L);
    return 0;
}
