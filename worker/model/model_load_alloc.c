/* worker/model/model_load_alloc.c -- what both weight sources (model_load.c's safetensors,
 * model_load_gguf.c's GGUF) share once the WeightSpec table is filled: the one backend
 * allocation (stacked matrices placed inside the view above them) and the block-boundary
 * check of a tp column slice. */
#include "worker/model/model_load.h"

#include <stdint.h>

int model_check_block_cols(const Model *m, const WeightSpec *w, Err *err) {
    const int64_t fc = w->full_cols, cols = w->cols;
    if (w->matrix == NULL || !weight_is_blocked(w->matrix->format) || cols == fc)
        return 0;
    /* a column slice (tp) stored alone must start and end on a block boundary, or its
     * blocks would differ from the whole matrix's */
    const int64_t be = weight_block_elems(w->matrix->format);
    if (w->col0 % be != 0 || (w->col0 + cols != fc && cols % be != 0))
        return err_set(err, "tensor \"%s\": tp rank %d's columns [%lld, %lld) split a "
                       "%lld-element %s block; choose a tp that divides %lld into "
                       "multiples of %lld, or model.weights f32/bf16", w->name,
                       m->tp_rank, (long long)w->col0, (long long)(w->col0 + cols),
                       (long long)be, weight_format_name(w->matrix->format),
                       (long long)fc, (long long)be);
    return 0;
}

/* After the allocation: a stacked matrix's rows start where those of the one above it
 * end (a block format's rows are whole blocks, so its bytes are linear in rows), and
 * each layer's w_gu is the view holding both. */
static void place_stacked(Model *m, const SpecList *specs) {
    for (int i = 0; i < specs->n; i++) {
        const WeightSpec *w = &specs->v[i];
        if (w->above < 0)
            continue;
        const WeightSpec *a = &specs->v[w->above];
        *w->slot = (uint8_t *)*a->slot + m->ops->weight_bytes(a->matrix->format, a->rows,
                                                              a->cols);
    }
    for (int64_t l = 0; l < m->L; l++)
        m->layers[l].w_gu = m->layers[l].w_gate;
}

int model_specs_alloc(Model *m, const SpecList *specs, size_t *stage_bytes, Err *err) {
    BlockPlan plan = {0};
    *stage_bytes = 0;
    m->w_matrix_bytes = m->w_dense_bytes = m->w_embed_bytes = 0;
    for (int i = 0; i < specs->n; i++) {
        const WeightSpec *w = &specs->v[i];
        int64_t n = w->cols > 0 ? w->rows * w->cols : w->rows;
        const size_t bytes = w->matrix != NULL
                                 ? m->ops->weight_bytes(w->matrix->format, w->rows, w->cols)
                                 : (size_t)n * m->ops->elem_bytes;
        if (w->matrix != NULL && bytes == 0)
            return err_set(err, "tensor \"%s\": weight format %s is not supported by the %s "
                           "backend", w->name, weight_format_name(w->matrix->format),
                           m->ops->name);
        if (w->above < 0) /* a stacked matrix lies in the view of the one above it */
            block_add(&plan, w->slot,
                      w->matrix != NULL ? m->ops->weight_bytes(w->matrix->format,
                                                               w->rows + w->below_rows, w->cols)
                                        : bytes);
        *(w->matrix != NULL ? &m->w_matrix_bytes : &m->w_dense_bytes) += bytes;
        if (w->slot == &m->embed.data)
            m->w_embed_bytes = bytes;
        if (w->cols != w->full_cols && (size_t)n * 4 > *stage_bytes)
            *stage_bytes = (size_t)n * 4; /* F32 is the widest stored dtype accepted */
    }
    m->w_block = block_alloc(&plan, m->ops, "frozen weights", err);
    if (m->w_block == NULL)
        return -1;
    place_stacked(m, specs);
    return 0;
}
