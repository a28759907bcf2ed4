/* worker/model/model_load_gguf.c -- the frozen weights read in place from a llama.cpp
 * .gguf file (issue 18): the file is mapped (io/convert/gguf.h), each WeightSpec of
 * model_load.c's table is found under its Hugging Face name (gguf_hf_tensors, the
 * converter's own mapping and shape checks) and uploaded from the mapping. A matrix kept
 * in its block type goes to the backend as the file's blocks (weight_upload_blocks): no
 * rounding anywhere, so the logits equal those of the F32 conversion up to summation
 * order. llama's q/k rows, stored in RoPE's interleaved order, are put back in Hugging
 * Face's order by moving whole rows of blocks (exact). Everything else is dequantized
 * (io/base/quant.h, the converter's arithmetic) a few rows at a time through a small
 * stage, so host memory never holds a whole widened tensor beside the mapping. */
#include "worker/model/model_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/log.h"
#include "io/base/quant.h"
#include "io/convert/gguf_convert.h"
#include "io/convert/gguf_source.h"

#define STAGE_MIN_BYTES ((size_t)4 << 20)

/* The block format that holds ggml type `type` as it is, or -1. */
static int own_format(uint32_t type) {
    for (int f = 0; f < WEIGHT_N_FORMATS; f++)
        if (weight_ggml_type((WeightFormat)f) == (int)type)
            return f;
    return -1;
}

static const char *type_name(uint32_t type) {
    const char *s = quant_type_name(type);
    return s != NULL ? s : "?";
}

/* The storage of matrix spec w from its file tensor t: model.weights auto keeps each
 * tensor's own block type (a float tensor or a block type no kernel reads widens to the
 * elem type, BF16 stays BF16); an explicit f32/bf16 dequantizes; an explicit block format
 * is taken from a tensor of that type as it is or quantized at load from a float one,
 * and refused otherwise (requantizing would round twice and still be called exact). */
static int resolve_format(Model *m, WeightSpec *w, const GgufTensor *t, const char *path,
                          Err *err) {
    const int own = own_format(t->type);
    const int is_float = t->type == QUANT_F32 || t->type == QUANT_F16 || t->type == QUANT_BF16;
    WeightFormat f = m->opt.weight_format;
    if (m->opt.weight_file_types)
        f = own >= 0 ? (WeightFormat)own : t->type == QUANT_BF16 ? WEIGHT_BF16 : WEIGHT_ELEM;
    else if (weight_is_blocked(f) && own != (int)f &&
             (!is_float || f == WEIGHT_Q4_K || f == WEIGHT_Q6_K))
        return err_set(err, "%s: tensor \"%s\" (%s) is %s in the file: model.weights %s "
                       "cannot be had from it without requantizing; choose auto (each "
                       "tensor's own type), f32 or bf16", path, t->name, w->name,
                       type_name(t->type), weight_format_name(f));
    w->matrix->format = f;
    return 0;
}

/* The file row behind HF row r of h (llama's q/k rows un-permuted). */
static int64_t src_row(const GgufHfTensor *h, int64_t r) {
    return h->rope_heads > 0 ? gguf_rope_src_row(r, h->shape[0] / h->rope_heads) : r;
}

/* A matrix kept in the file's blocks: straight from the mapping when this rank's part is
 * contiguous in the file, else gathered a chunk of rows at a time (un-permuted rows, a
 * tp column slice of whole blocks). */
static int upload_blocks(Model *m, const WeightSpec *w, const GgufHfTensor *h,
                         uint8_t *stage, size_t stage_bytes, Err *err) {
    if (model_check_block_cols(m, w, err) != 0)
        return -1;
    const GgufTensor *t = h->src;
    const WeightFormat f = w->matrix->format;
    const size_t rb = t->n_bytes / (size_t)w->full_rows; /* one file row */
    const size_t off = (size_t)(w->col0 / weight_block_elems(f)) * weight_block_bytes(f);
    const size_t seg = weight_row_bytes(f, w->cols);
    if (h->rope_heads == 0 && w->cols == w->full_cols) {
        m->ops->weight_upload_blocks(*w->matrix, t->data + (size_t)w->row0 * rb, w->rows,
                                     w->cols);
        return 0;
    }
    const int64_t per = (int64_t)(stage_bytes / seg);
    for (int64_t r0 = 0; r0 < w->rows; r0 += per) {
        const int64_t n = w->rows - r0 < per ? w->rows - r0 : per;
        for (int64_t r = 0; r < n; r++)
            memcpy(stage + (size_t)r * seg,
                   t->data + (size_t)src_row(h, w->row0 + r0 + r) * rb + off, seg);
        const Weight part = {(uint8_t *)w->matrix->data +
                                 m->ops->weight_bytes(f, r0, w->cols), f};
        m->ops->weight_upload_blocks(part, stage, n, w->cols);
    }
    return 0;
}

/* Rows of this rank's part dequantized to fp32 (row: one whole file row of scratch),
 * a chunk at a time, then uploaded: a matrix in its format (widened, or quantized at
 * load), the embedding and norms in the elem type. A NaN or infinite weight is refused. */
static int upload_floats(Model *m, const WeightSpec *w, const GgufHfTensor *h, float *stage,
                         size_t stage_bytes, float *row, const char *path, Err *err) {
    const GgufTensor *t = h->src;
    const int vec = w->full_cols == 0;
    const int64_t fc = vec ? w->full_rows : w->full_cols, cols = vec ? w->rows : w->cols;
    const int64_t rows = vec ? 1 : w->rows, row0 = vec ? 0 : w->row0;
    const int64_t c0 = vec ? w->row0 : w->col0;
    const size_t rb = t->n_bytes / (size_t)(vec ? 1 : w->full_rows);
    const int64_t per = (int64_t)(stage_bytes / ((size_t)cols * sizeof(float)));
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        const int64_t n = rows - r0 < per ? rows - r0 : per;
        for (int64_t r = 0; r < n; r++) {
            quant_dequantize(t->type, t->data + (size_t)src_row(h, row0 + r0 + r) * rb, row, fc);
            memcpy(stage + r * cols, row + c0, (size_t)cols * sizeof(float));
        }
        int is_nan = 0;
        const int64_t bad = dtype_first_nonfinite(stage, DTYPE_F32, n * cols, &is_nan);
        if (bad >= 0)
            return err_set(err, "%s: tensor \"%s\" (%s): element [%lld, %lld] is %s: the "
                           "weights are corrupt", path, t->name, w->name,
                           (long long)(row0 + r0 + bad / cols), (long long)(c0 + bad % cols),
                           is_nan ? "NaN" : "infinite");
        if (w->matrix != NULL) {
            const WeightFormat f = w->matrix->format;
            const Weight part = {(uint8_t *)w->matrix->data +
                                     m->ops->weight_bytes(f, r0, cols), f};
            m->ops->weight_upload(part, stage, DTYPE_F32, n, cols);
        } else {
            m->ops->upload((uint8_t *)*w->slot + (size_t)(r0 * cols) * m->ops->elem_bytes,
                           stage, DTYPE_F32, n * cols);
        }
    }
    return 0;
}

/* "q4_1 x210, q8_0 x1": the matrices' formats and counts (the embedding apart), for the
 * memory log line. */
static void describe_formats(Model *m, const SpecList *specs) {
    int count[WEIGHT_N_FORMATS] = {0};
    for (int i = 0; i < specs->n; i++)
        if (specs->v[i].matrix != NULL && specs->v[i].matrix != &m->embed)
            count[specs->v[i].matrix->format]++;
    size_t at = 0;
    m->w_formats[0] = '\0';
    for (int f = 0; f < WEIGHT_N_FORMATS; f++)
        if (count[f] > 0 && at < sizeof m->w_formats)
            at += (size_t)snprintf(m->w_formats + at, sizeof m->w_formats - at, "%s%s x%d",
                                   at > 0 ? ", " : "",
                                   f == WEIGHT_ELEM ? dtype_name(m->ops->elem)
                                                    : weight_format_name((WeightFormat)f),
                                   count[f]);
}

/* Each spec's file tensor (by HF name) and, for a matrix, its storage; says (loud != 0)
 * when gate and up differ in type. */
static int match_specs(Model *m, const char *path, SpecList *specs, const GgufHfTensor *list,
                       int n_list, const GgufHfTensor **src, int loud, Err *err) {
    for (int i = 0; i < specs->n; i++) {
        WeightSpec *w = &specs->v[i];
        src[i] = NULL;
        for (int k = 0; k < n_list && src[i] == NULL; k++)
            if (strcmp(list[k].name, w->name) == 0)
                src[i] = &list[k];
        if (src[i] == NULL)
            return err_set(err, "%s: no tensor for \"%s\" (the config says the model has it)",
                           path, w->name);
        if (src[i]->shape[0] != w->full_rows || src[i]->shape[1] != w->full_cols)
            return err_set(err, "%s: tensor \"%s\" (%s): shape [%lld, %lld], expected "
                           "[%lld, %lld]", path, src[i]->src->name, w->name,
                           (long long)src[i]->shape[0], (long long)src[i]->shape[1],
                           (long long)w->full_rows, (long long)w->full_cols);
        if (w->matrix != NULL && resolve_format(m, w, src[i]->src, path, err) != 0)
            return -1;
    }
    /* gate_proj and up_proj share one view (w_gu): a file holding them in two types has
     * both dequantized to the elem type rather than either one rounded again */
    for (int i = 0; i < specs->n; i++) {
        WeightSpec *w = &specs->v[i], *a = w->above >= 0 ? &specs->v[w->above] : NULL;
        if (a == NULL || a->matrix->format == w->matrix->format)
            continue;
        if (loud)
            log_info("%s: \"%s\" is %s and \"%s\" %s in the file: both are kept as %s "
                     "(one stacked matrix)", path, src[w->above]->src->name,
                     type_name(src[w->above]->src->type), src[i]->src->name,
                     type_name(src[i]->src->type), dtype_name(m->ops->elem));
        a->matrix->format = w->matrix->format = WEIGHT_ELEM;
    }
    return 0;
}

static int load_all(Model *m, const char *path, SpecList *specs, const GgufHfTensor **src,
                    Err *err) {
    size_t stage_bytes = 0, row_floats = 0, unused;
    for (int i = 0; i < specs->n; i++) {
        const WeightSpec *w = &specs->v[i];
        const int64_t fc = w->full_cols > 0 ? w->full_cols : w->full_rows;
        if ((size_t)fc > row_floats)
            row_floats = (size_t)fc;
    }
    stage_bytes = row_floats * sizeof(float) > STAGE_MIN_BYTES ? row_floats * sizeof(float)
                                                               : STAGE_MIN_BYTES;
    if (model_specs_alloc(m, specs, &unused, err) != 0)
        return -1;
    float *stage = malloc(stage_bytes), *row = malloc(row_floats * sizeof(float));
    int rc = stage == NULL || row == NULL
                 ? err_set(err, "out of host memory staging weights (%zu bytes)", stage_bytes)
                 : 0;
    for (int i = 0; rc == 0 && i < specs->n; i++) {
        const WeightSpec *w = &specs->v[i];
        const int blocks = w->matrix != NULL && weight_is_blocked(w->matrix->format) &&
                           weight_ggml_type(w->matrix->format) == (int)src[i]->src->type;
        rc = blocks ? upload_blocks(m, w, src[i], (uint8_t *)stage, stage_bytes, err)
                    : upload_floats(m, w, src[i], stage, stage_bytes, row, path, err);
    }
    m->ops->sync(); /* uploads may read the mapping or the stage asynchronously */
    free(stage);
    free(row);
    return rc;
}

int model_load_gguf(Model *m, const char *path, SpecList *specs, Err *err) {
    Gguf *g = gguf_open(path, err);
    if (g == NULL)
        return -1;
    GgufModel gm;
    GgufHfTensor *list = NULL;
    int n_list = 0;
    const GgufHfTensor **src = calloc((size_t)specs->n, sizeof *src);
    int rc = src == NULL ? err_set(err, "out of host memory for the weight table") : 0;
    if (rc == 0)
        rc = gguf_model_read(g, &gm, err);
    if (rc == 0)
        rc = gguf_hf_tensors(g, &gm, &list, &n_list, err);
    if (rc == 0)
        rc = match_specs(m, path, specs, list, n_list, src, 1, err);
    if (rc == 0)
        rc = load_all(m, path, specs, src, err);
    if (rc == 0) {
        describe_formats(m, specs);
        m->w_file_bytes = 0;
        for (int64_t i = 0; i < gguf_n_tensors(g); i++)
            m->w_file_bytes += gguf_tensor(g, i)->n_bytes;
        const GgufTensor *e = gguf_find_tensor(g, "token_embd.weight");
        snprintf(m->w_embed_type, sizeof m->w_embed_type, "%s", type_name(e->type));
    }
    free(src);
    free(list);
    gguf_close(g);
    return rc;
}

WeightFormat model_file_weight_format(const char *path) {
    Err err = {{0}};
    Gguf *g = model_src_is_gguf(path) ? gguf_open(path, &err) : NULL;
    if (g == NULL)
        return WEIGHT_ELEM;
    int64_t elems[WEIGHT_N_FORMATS] = {0};
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const GgufTensor *t = gguf_tensor(g, i);
        const int own = own_format(t->type);
        if (t->n_dims == 2)
            elems[own >= 0 ? own : t->type == QUANT_BF16 ? WEIGHT_BF16 : WEIGHT_ELEM] +=
                t->n_elems;
    }
    gguf_close(g);
    int best = WEIGHT_ELEM;
    for (int f = 0; f < WEIGHT_N_FORMATS; f++)
        if (elems[f] > elems[best])
            best = f;
    return (WeightFormat)best;
}

/* The bytes spec w takes stored (its format, or the elem type), and whether that is the
 * file tensor's own encoding (blocks kept, F32 in an fp32 elem, BF16 as bf16). */
static size_t stored_bytes(const WeightSpec *w, uint32_t file_type, size_t elem_bytes,
                           int *as_in_file) {
    const int64_t rows = w->full_cols > 0 ? w->rows : 1, cols = w->full_cols > 0 ? w->cols
                                                                                : w->rows;
    const WeightFormat f = w->matrix != NULL ? w->matrix->format : WEIGHT_ELEM;
    *as_in_file = (weight_is_blocked(f) && weight_ggml_type(f) == (int)file_type) ||
                  (f == WEIGHT_BF16 && file_type == QUANT_BF16) ||
                  (f == WEIGHT_ELEM && file_type == QUANT_F32 && elem_bytes == 4) ||
                  (f == WEIGHT_ELEM && file_type == QUANT_BF16 && elem_bytes == 2);
    return model_matrix_bytes(f, (size_t)rows, (size_t)cols, elem_bytes);
}

/* Rank r's weights of the file: its spec table resolved against the file's tensors as
 * model_load_gguf does, each spec sized by its own storage. */
static int rank_weights(const ModelConfig *cfg, const ModelOptions *o, int tp, int r,
                        size_t elem_bytes, const GgufHfTensor *list, int n_list,
                        const char *path, ModelFileWeights *out, Err *err) {
    Model m = {.cfg = *cfg, .L = cfg->n_layers, .tp = tp, .tp_rank = r};
    m.opt = model_resolve_options(o, cfg);
    m.layers = calloc((size_t)m.L, sizeof *m.layers);
    SpecList specs = {0};
    const GgufHfTensor **src = NULL;
    int rc = m.layers == NULL ? err_set(err, "out of host memory for the weight table") : 0;
    if (rc == 0)
        rc = model_weight_specs(&m, &specs, err);
    if (rc == 0 && (src = calloc((size_t)specs.n, sizeof *src)) == NULL)
        rc = err_set(err, "out of host memory for the weight table");
    if (rc == 0)
        rc = match_specs(&m, path, &specs, list, n_list, src, 0, err);
    for (int i = 0; rc == 0 && i < specs.n; i++) {
        const WeightSpec *w = &specs.v[i];
        int as_in_file = 0;
        const size_t bytes = stored_bytes(w, src[i]->src->type, elem_bytes, &as_in_file);
        out->weights_bytes += bytes;
        *(w->matrix != NULL ? &out->matrix_bytes : &out->dense_bytes) += bytes;
        if (as_in_file)
            continue;
        /* this rank's share of the file tensor: its rows (or vector elements) */
        const int64_t full = w->full_rows * (w->full_cols > 0 ? w->full_cols : 1);
        const int64_t part = w->rows * (w->full_cols > 0 ? w->cols : 1);
        out->widened_file_bytes += (size_t)((double)src[i]->src->n_bytes * part / full);
        out->widened_bytes += bytes;
        const size_t at = strlen(out->widened);
        if (out->n_widened++ < 3)
            snprintf(out->widened + at, sizeof out->widened - at, "%s%s %s",
                     at > 0 ? ", " : "", w->name, type_name(src[i]->src->type));
    }
    free(src);
    free(specs.v);
    free(m.layers);
    return rc;
}

int model_file_weights(const char *path, const ModelConfig *cfg, const ModelOptions *o, int tp,
                       size_t elem_bytes, ModelFileWeights *out, Err *err) {
    *out = (ModelFileWeights){0};
    Gguf *g = gguf_open(path, err);
    if (g == NULL)
        return -1;
    GgufModel gm;
    GgufHfTensor *list = NULL;
    int n_list = 0;
    int rc = gguf_model_read(g, &gm, err);
    if (rc == 0)
        rc = gguf_hf_tensors(g, &gm, &list, &n_list, err);
    tp = tp < 1 ? 1 : tp;
    for (int r = 0; rc == 0 && r < tp; r++) { /* the largest rank (vocabulary slices) */
        ModelFileWeights w = {0};
        rc = rank_weights(cfg, o, tp, r, elem_bytes, list, n_list, path, &w, err);
        if (rc == 0 && w.weights_bytes > out->weights_bytes)
            *out = w;
    }
    for (int64_t i = 0; rc == 0 && i < gguf_n_tensors(g); i++)
        out->file_bytes += gguf_tensor(g, i)->n_bytes;
    free(list);
    gguf_close(g);
    return rc;
}
