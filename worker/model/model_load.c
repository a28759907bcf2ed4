/* worker/model/model_load.c -- the frozen weights: which tensors a model has, their shapes,
 * and the upload from the mapped safetensors (a .gguf file: model_load_gguf.c; the one
 * backend allocation both use: model_load_alloc.c).
 * layer_specs() is the one place that names and sizes a layer's weights and says how
 * tensor parallelism (DESIGN §3) splits each: a row range for column-parallel
 * q/k/v/gate/up (and the Qwen2 biases), a column range for row-parallel o/down, a
 * vocabulary range for embed/lm_head, norms whole. No rank uploads more than its slice. */
#include "worker/model/model_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/gguf_source.h"
#include "io/model/safetensors.h"

/* How a weight is split over the tp group (DESIGN §3): whole (norms), by rows (the
 * column-parallel q/k/v/gate/up and their biases, the vocabulary-parallel embed_tokens and
 * lm_head) or by columns (the row-parallel o/down: their input dimension). */
typedef enum Split { SPLIT_NONE = 0, SPLIT_ROWS, SPLIT_COLS } Split;

static int spec_add(SpecList *s, void **slot, int64_t rows, int64_t cols, Split split,
                    const char *fmt, int64_t layer) {
    if (s->n == s->cap)
        return -1;
    WeightSpec *w = &s->v[s->n++];
    snprintf(w->name, sizeof w->name, fmt, (long long)layer);
    w->slot = slot;
    w->matrix = NULL;
    w->skip = 0;
    w->full_rows = rows;
    w->full_cols = cols;
    w->row0 = 0;
    w->rows = rows;
    w->col0 = 0;
    w->cols = cols;
    w->below_rows = 0;
    w->above = -1;
    if (split == SPLIT_ROWS) {
        w->row0 = model_split_begin(rows, s->tp, s->tp_rank);
        w->rows = model_split_begin(rows, s->tp, s->tp_rank + 1) - w->row0;
    } else if (split == SPLIT_COLS) {
        w->col0 = model_split_begin(cols, s->tp, s->tp_rank);
        w->cols = model_split_begin(cols, s->tp, s->tp_rank + 1) - w->col0;
    }
    return 0;
}

/* A frozen matrix: spec_add into its data pointer, stored in the model's weight format. */
static void matrix_add(SpecList *s, Weight *wt, WeightFormat f, int64_t rows, int64_t cols,
                       Split split, const char *fmt, int64_t layer) {
    wt->format = f;
    if (spec_add(s, &wt->data, rows, cols, split, fmt, layer) == 0)
        s->v[s->n - 1].matrix = wt;
}

/* The last matrix added is stored stacked below the one before it (same format and
 * columns): one view holds both, this rank's rows of each, so one matmul reads them. */
static void stack_below_previous(SpecList *s) {
    if (s->n < 2)
        return;
    WeightSpec *w = &s->v[s->n - 1], *above = &s->v[s->n - 2];
    above->below_rows += w->rows;
    w->above = s->n - 2;
}

#define SPECS_PER_LAYER 12
#define SPECS_GLOBAL 4

/* Layer l's weights as modeling_llama.py's LlamaDecoderLayer / modeling_qwen2.py's
 * Qwen2DecoderLayer name them, with their full (config) shapes and their tp split
 * (Megatron-LM: q/k/v, gate/up ColumnParallelLinear; o, down RowParallelLinear). */
static void layer_specs(SpecList *s, const Model *m, int64_t l) {
    LayerWeights *w = &m->layers[l];
    const ModelConfig *c = &m->cfg;
    const int64_t D = c->dim, QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    const int64_t F = c->ffn_dim;
    const WeightFormat f = m->opt.weight_format;
    spec_add(s, &w->attn_norm, D, 0, SPLIT_NONE, "model.layers.%lld.input_layernorm.weight", l);
    matrix_add(s, &w->wq, f, QD, D, SPLIT_ROWS, "model.layers.%lld.self_attn.q_proj.weight", l);
    matrix_add(s, &w->wk, f, KD, D, SPLIT_ROWS, "model.layers.%lld.self_attn.k_proj.weight", l);
    matrix_add(s, &w->wv, f, KD, D, SPLIT_ROWS, "model.layers.%lld.self_attn.v_proj.weight", l);
    if (c->qkv_bias) {
        spec_add(s, &w->bq, QD, 0, SPLIT_ROWS, "model.layers.%lld.self_attn.q_proj.bias", l);
        spec_add(s, &w->bk, KD, 0, SPLIT_ROWS, "model.layers.%lld.self_attn.k_proj.bias", l);
        spec_add(s, &w->bv, KD, 0, SPLIT_ROWS, "model.layers.%lld.self_attn.v_proj.bias", l);
    }
    matrix_add(s, &w->wo, f, D, QD, SPLIT_COLS, "model.layers.%lld.self_attn.o_proj.weight", l);
    spec_add(s, &w->ffn_norm, D, 0, SPLIT_NONE,
             "model.layers.%lld.post_attention_layernorm.weight", l);
    matrix_add(s, &w->w_gate, f, F, D, SPLIT_ROWS, "model.layers.%lld.mlp.gate_proj.weight", l);
    matrix_add(s, &w->w_up, f, F, D, SPLIT_ROWS, "model.layers.%lld.mlp.up_proj.weight", l);
    stack_below_previous(s); /* w_gu = [gate | up] (each rank its own rows of both) */
    matrix_add(s, &w->w_down, f, D, F, SPLIT_COLS, "model.layers.%lld.mlp.down_proj.weight", l);
}

static void model_specs(SpecList *s, Model *m) {
    const int64_t V = m->cfg.vocab_size, D = m->cfg.dim;
    spec_add(s, &m->embed, V, D, SPLIT_ROWS, "model.embed_tokens.weight", 0);
    spec_add(s, &m->final_norm, D, 0, SPLIT_NONE, "model.norm.weight", 0);
    const WeightFormat f = m->opt.weight_format;
    /* tied: lm_head shares embed_tokens' vocabulary slice, or, in another format than
     * the embedding's elem type, is its own copy of it in that format */
    if (!m->cfg.tie_embeddings)
        matrix_add(s, &m->lm_head, f, V, D, SPLIT_ROWS, "lm_head.weight", 0);
    else if (f != WEIGHT_ELEM || m->opt.weight_file_types)
        matrix_add(s, &m->lm_head, f, V, D, SPLIT_ROWS, "model.embed_tokens.weight", 0);
    for (int64_t l = 0; l < m->L; l++)
        layer_specs(s, m, l);
}

/* Looks one weight up (full shape checked), refuses dtypes the backend cannot widen, and
 * uploads this rank's part: a row range straight from the mapping, a column range (rows
 * strided in the file) through the host buffer stage (at least rows x cols x 4 bytes).
 * Errors name the tensor; st_dir_get's also name the file. */
static int load_one(const Model *m, const StDir *dir, const WeightSpec *w, uint8_t *stage,
                    Err *err) {
    const int64_t shape[2] = {w->full_rows, w->full_cols};
    const int ndim = w->full_cols > 0 ? 2 : 1;
    StTensor t;
    if (st_dir_get(dir, w->name, ndim, shape, &t, err) != 0)
        return -1;
    if (t.dtype != DTYPE_F32 && t.dtype != DTYPE_F16 && t.dtype != DTYPE_BF16)
        return err_set(err, "tensor \"%s\": dtype %s, expected F32, F16 or BF16", w->name,
                       dtype_name(t.dtype));
    const size_t eb = dtype_bytes(t.dtype);
    const int64_t fc = ndim == 2 ? w->full_cols : 1, cols = ndim == 2 ? w->cols : 1;
    const uint8_t *src = (const uint8_t *)t.data + (size_t)(w->row0 * fc + w->col0) * eb;
    if (cols != fc) { /* a column slice: gather each row's segment once, at load */
        for (int64_t r = 0; r < w->rows; r++)
            memcpy(stage + (size_t)(r * cols) * eb, src + (size_t)(r * fc) * eb,
                   (size_t)cols * eb);
        src = stage;
    }
    if (model_check_block_cols(m, w, err) != 0)
        return -1;
    int is_nan = 0; /* a NaN weight would surface hours later as a NaN ce */
    const int64_t bad = dtype_first_nonfinite(src, t.dtype, w->rows * cols, &is_nan);
    if (bad >= 0)
        return err_set(err, "tensor \"%s\": element [%lld, %lld] is %s: the weights are "
                       "corrupt or were saved from a diverged model", w->name,
                       (long long)(w->row0 + bad / cols), (long long)(w->col0 + bad % cols),
                       is_nan ? "NaN" : "infinite");
    if (w->matrix != NULL)
        m->ops->weight_upload(*w->matrix, src, t.dtype, w->rows, cols);
    else
        m->ops->upload(*w->slot, src, t.dtype, w->rows * cols);
    return 0;
}

/* The safetensors directory dir: every spec uploaded from the mapped files. */
static int load_safetensors(Model *m, const char *dir, const SpecList *specs, Err *err) {
    const WeightFormat wf = m->opt.weight_format;
    if (wf == WEIGHT_Q4_K || wf == WEIGHT_Q6_K)
        return err_set(err, "%s: model.weights %s cannot be made from the floats of a "
                       "safetensors model (only a GGUF file carries it); choose f32, bf16, "
                       "q8_0, q4_0, q4_1 or nf4", dir, weight_format_name(wf));
    uint8_t *stage = NULL; /* host: column slices of row-parallel weights */
    StDir *st = st_dir_open(dir, err);
    if (st == NULL)
        return -1;
    size_t stage_bytes = 0;
    if (m->cfg.tie_embeddings == 0 && !st_dir_has(st, "lm_head.weight")) {
        err_set(err, "%s: config says tie_word_embeddings false but there is no "
                     "lm_head.weight", dir);
        goto fail;
    }
    if (model_specs_alloc(m, specs, &stage_bytes, err) != 0)
        goto fail;
    if (stage_bytes > 0 && (stage = malloc(stage_bytes)) == NULL) {
        err_set(err, "out of host memory staging column slices (%zu bytes)", stage_bytes);
        goto fail;
    }
    for (int i = 0; i < specs->n; i++)
        if (load_one(m, st, &specs->v[i], stage, err) != 0)
            goto fail;
    m->ops->sync(); /* uploads may read the mapping asynchronously: finish before unmap */
    st_dir_close(st);
    free(stage);
    return 0;
fail:
    st_dir_close(st);
    free(stage);
    return -1;
}

int model_load_weights(Model *m, const char *path, Err *err) {
    const WeightFormat wf = m->opt.weight_format;
    if (m->ops->weight_bytes(wf, 1, 1) == 0)
        return err_set(err, "weight format %s is not supported by the %s backend",
                       weight_format_name(wf), m->ops->name);
    SpecList specs = {.tp = m->tp, .tp_rank = m->tp_rank};
    specs.cap = SPECS_GLOBAL + SPECS_PER_LAYER * (int)m->L;
    specs.v = calloc((size_t)specs.cap, sizeof *specs.v);
    if (specs.v == NULL)
        return err_set(err, "out of host memory for the weight table");
    model_specs(&specs, m);
    m->w_from_gguf = model_src_is_gguf(path);
    const int rc = m->w_from_gguf ? model_load_gguf(m, path, &specs, err)
                                  : load_safetensors(m, path, &specs, err);
    free(specs.v);
    if (rc == 0 && m->cfg.tie_embeddings && m->lm_head.data == NULL)
        m->lm_head = (Weight){m->embed, WEIGHT_ELEM}; /* modeling_llama.py: tie_weights() */
    return rc;
}
