/* worker/model/model_load.c -- the frozen weights' upload from the mapped safetensors (a
 * .gguf file: model_load_gguf.c; the weight table both fill: model_specs.c; the one
 * backend allocation both use: model_load_alloc.c). No rank uploads more than its
 * slice. */
#include "worker/model/model_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/gguf_source.h"
#include "io/model/safetensors.h"

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
    SpecList specs;
    if (model_weight_specs(m, &specs, err) != 0)
        return -1;
    m->w_from_gguf = model_src_is_gguf(path);
    const int rc = m->w_from_gguf ? model_load_gguf(m, path, &specs, err)
                                  : load_safetensors(m, path, &specs, err);
    free(specs.v);
    if (rc == 0 && m->cfg.tie_embeddings && m->lm_head.data == NULL)
        m->lm_head = m->embed; /* modeling_llama.py: tie_weights() */
    return rc;
}
