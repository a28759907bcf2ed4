/* worker/model_load.c -- the frozen weights: which tensors a model has, their shapes,
 * one backend allocation for all of them, and the upload from the mapped safetensors.
 * layer_specs() is the one place that names and sizes a layer's weights: tensor
 * parallelism (DESIGN §3) changes only it (a row range for column-parallel q/k/v/gate/up,
 * a column range for row-parallel o/down, a vocabulary range for embed/lm_head). */
#include "worker/model_impl.h"

#include <stdio.h>
#include <stdlib.h>

#include "io/safetensors.h"

/* One weight to load: its Hugging Face name, where its backend pointer goes, and its
 * shape (rows, cols); cols == 0 means a vector of rows elements. */
typedef struct WeightSpec {
    char name[160];
    void **slot;
    int64_t rows, cols;
} WeightSpec;

typedef struct SpecList {
    WeightSpec *v;
    int n, cap;
} SpecList;

static int spec_add(SpecList *s, void **slot, int64_t rows, int64_t cols, const char *fmt,
                    int64_t layer) {
    if (s->n == s->cap)
        return -1;
    WeightSpec *w = &s->v[s->n++];
    snprintf(w->name, sizeof w->name, fmt, (long long)layer);
    w->slot = slot;
    w->rows = rows;
    w->cols = cols;
    return 0;
}

#define SPECS_PER_LAYER 12
#define SPECS_GLOBAL 3

/* Layer l's weights as modeling_llama.py's LlamaDecoderLayer / modeling_qwen2.py's
 * Qwen2DecoderLayer name them. */
static void layer_specs(SpecList *s, const Model *m, int64_t l) {
    LayerWeights *w = &m->layers[l];
    const int64_t D = m->D, QD = m->H * m->HD, KD = m->KVH * m->HD, F = m->F;
    spec_add(s, &w->attn_norm, D, 0, "model.layers.%lld.input_layernorm.weight", l);
    spec_add(s, &w->wq, QD, D, "model.layers.%lld.self_attn.q_proj.weight", l);
    spec_add(s, &w->wk, KD, D, "model.layers.%lld.self_attn.k_proj.weight", l);
    spec_add(s, &w->wv, KD, D, "model.layers.%lld.self_attn.v_proj.weight", l);
    if (m->cfg.qkv_bias) {
        spec_add(s, &w->bq, QD, 0, "model.layers.%lld.self_attn.q_proj.bias", l);
        spec_add(s, &w->bk, KD, 0, "model.layers.%lld.self_attn.k_proj.bias", l);
        spec_add(s, &w->bv, KD, 0, "model.layers.%lld.self_attn.v_proj.bias", l);
    }
    spec_add(s, &w->wo, D, QD, "model.layers.%lld.self_attn.o_proj.weight", l);
    spec_add(s, &w->ffn_norm, D, 0, "model.layers.%lld.post_attention_layernorm.weight", l);
    spec_add(s, &w->w_gate, F, D, "model.layers.%lld.mlp.gate_proj.weight", l);
    spec_add(s, &w->w_up, F, D, "model.layers.%lld.mlp.up_proj.weight", l);
    spec_add(s, &w->w_down, D, F, "model.layers.%lld.mlp.down_proj.weight", l);
}

static void model_specs(SpecList *s, Model *m) {
    spec_add(s, &m->embed, m->V, m->D, "model.embed_tokens.weight", 0);
    spec_add(s, &m->final_norm, m->D, 0, "model.norm.weight", 0);
    if (!m->cfg.tie_embeddings)
        spec_add(s, &m->lm_head, m->V, m->D, "lm_head.weight", 0);
    for (int64_t l = 0; l < m->L; l++)
        layer_specs(s, m, l);
}

/* Looks one weight up (shape checked), refuses dtypes the backend cannot widen, and
 * uploads it. Errors name the tensor; st_dir_get's also name the file. */
static int load_one(const Model *m, const StDir *dir, const WeightSpec *w, Err *err) {
    const int64_t shape[2] = {w->rows, w->cols};
    const int ndim = w->cols > 0 ? 2 : 1;
    StTensor t;
    if (st_dir_get(dir, w->name, ndim, shape, &t, err) != 0)
        return -1;
    if (t.dtype != DTYPE_F32 && t.dtype != DTYPE_F16 && t.dtype != DTYPE_BF16)
        return err_set(err, "tensor \"%s\": dtype %s, expected F32, F16 or BF16", w->name,
                       dtype_name(t.dtype));
    m->ops->upload(*w->slot, t.data, t.dtype, ndim == 2 ? w->rows * w->cols : w->rows);
    return 0;
}

int model_load_weights(Model *m, const char *dir, Err *err) {
    SpecList specs = {0};
    specs.cap = SPECS_GLOBAL + SPECS_PER_LAYER * (int)m->L;
    specs.v = calloc((size_t)specs.cap, sizeof *specs.v);
    if (specs.v == NULL)
        return err_set(err, "out of host memory for the weight table");
    model_specs(&specs, m);

    StDir *st = st_dir_open(dir, err);
    if (st == NULL) {
        free(specs.v);
        return -1;
    }
    if (m->cfg.tie_embeddings == 0 && !st_dir_has(st, "lm_head.weight")) {
        err_set(err, "%s: config says tie_word_embeddings false but there is no "
                     "lm_head.weight", dir);
        goto fail;
    }
    BlockPlan plan = {0};
    for (int i = 0; i < specs.n; i++) {
        const WeightSpec *w = &specs.v[i];
        int64_t n = w->cols > 0 ? w->rows * w->cols : w->rows;
        block_add(&plan, w->slot, (size_t)n * m->ops->elem_bytes);
    }
    m->w_block = block_alloc(&plan, m->ops, "frozen weights", err);
    if (m->w_block == NULL)
        goto fail;
    for (int i = 0; i < specs.n; i++)
        if (load_one(m, st, &specs.v[i], err) != 0)
            goto fail;
    if (m->cfg.tie_embeddings)
        m->lm_head = m->embed; /* modeling_llama.py: tie_weights() shares the tensor */
    m->ops->sync(); /* uploads may read the mapping asynchronously: finish before unmap */
    st_dir_close(st);
    free(specs.v);
    return 0;
fail:
    st_dir_close(st);
    free(specs.v);
    return -1;
}
