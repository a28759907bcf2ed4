/* worker/model/model_specs.c -- which tensors a model has, their shapes and storage, and
 * how tensor parallelism (DESIGN §3) splits each: the WeightSpec table both weight
 * sources (model_load.c, model_load_gguf.c) and the pre-load sizing of a GGUF
 * (model_file_weights) fill from. layer_specs() is the one place that names and sizes a
 * layer's weights: a row range for column-parallel q/k/v/gate/up (and the Qwen2
 * biases), a column range for row-parallel o/down, a vocabulary range for
 * embed/lm_head, norms whole. */
#include "worker/model/model_load.h"

#include <stdio.h>
#include <stdlib.h>

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
    const WeightFormat f = m->opt.weight_format;
    /* a GGUF read with its own types keeps the embedding in the file's type too
     * (llama.cpp keeps token_embd quantized; embed_fwd decodes the looked-up rows); a
     * float model quantized at load keeps it in the elem type (QLoRA's 16-bit
     * embeddings): only the matrices are quantized */
    const int keep = m->opt.weight_file_types != 0;
    m->embed.format = WEIGHT_ELEM;
    if (keep)
        matrix_add(s, &m->embed, WEIGHT_ELEM, V, D, SPLIT_ROWS, "model.embed_tokens.weight", 0);
    else
        spec_add(s, &m->embed.data, V, D, SPLIT_ROWS, "model.embed_tokens.weight", 0);
    spec_add(s, &m->final_norm, D, 0, SPLIT_NONE, "model.norm.weight", 0);
    /* tied: lm_head is embed_tokens' vocabulary slice itself when that is in the
     * matrices' storage (a kept GGUF embedding, or the elem type), else its own copy of
     * it in the weight format */
    if (!m->cfg.tie_embeddings)
        matrix_add(s, &m->lm_head, f, V, D, SPLIT_ROWS, "lm_head.weight", 0);
    else if (f != WEIGHT_ELEM && !keep)
        matrix_add(s, &m->lm_head, f, V, D, SPLIT_ROWS, "model.embed_tokens.weight", 0);
    for (int64_t l = 0; l < m->L; l++)
        layer_specs(s, m, l);
}

int model_weight_specs(Model *m, SpecList *specs, Err *err) {
    *specs = (SpecList){.tp = m->tp, .tp_rank = m->tp_rank};
    specs->cap = SPECS_GLOBAL + SPECS_PER_LAYER * (int)m->L;
    specs->v = calloc((size_t)specs->cap, sizeof *specs->v);
    if (specs->v == NULL)
        return err_set(err, "out of host memory for the weight table");
    model_specs(specs, m);
    return 0;
}
