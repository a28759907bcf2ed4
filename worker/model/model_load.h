/* worker/model/model_load.h -- the weight table shared by the two weight sources
 * (internal to worker/model): model_specs.c names and sizes every weight, model_load.c
 * reads a safetensors directory, model_load_gguf.c a .gguf file in place. Both fill the
 * same WeightSpec table, so a weight's name, shape and tp slice are stated once. */
#ifndef TLM_WORKER_MODEL_LOAD_H
#define TLM_WORKER_MODEL_LOAD_H

#include "worker/model/model_impl.h"

/* One weight to load: its Hugging Face name, where its backend pointer goes, its full
 * shape (rows, cols; cols == 0 means a vector of rows elements) and this rank's part
 * [row0, row0 + rows) x [col0, col0 + cols). */
typedef struct WeightSpec {
    char name[160];
    void **slot;
    Weight *matrix;           /* a frozen matrix (or a GGUF's embedding kept in its own
                               * type): slot is &matrix->data, stored in its format;
                               * NULL: a norm, bias or the embedding in the elem type */
    int64_t full_rows, full_cols;
    int64_t row0, rows, col0, cols;
    int64_t below_rows;       /* rows of the matrix stacked below this one in its view */
    int above;                /* index of the spec this matrix is stacked below (its rows
                               * follow that one's in the same view), or -1 */
} WeightSpec;

typedef struct SpecList {
    WeightSpec *v;
    int n, cap;
    int tp, tp_rank;
} SpecList;

/* The weight table of m (cfg, opt, L, tp, tp_rank and layers set): specs->v allocated
 * (the caller frees it), one spec per weight this rank loads. */
int model_weight_specs(Model *m, SpecList *specs, Err *err);

/* One backend allocation for every spec, in each matrix's format (a stacked
 * matrix inside the view of the one above it: the same format), and the largest
 * column-slice stage a safetensors load needs (F32 rows: *stage_bytes). */
int model_specs_alloc(Model *m, const SpecList *specs, size_t *stage_bytes, Err *err);

/* A tp column slice of a matrix in a block format must start and end on a block
 * boundary (its blocks are the whole matrix's): an error naming the tensor, the rank and
 * its columns otherwise. */
int model_check_block_cols(const Model *m, const WeightSpec *w, Err *err);

/* model_load_gguf.c: every spec of specs (formats resolved from m->opt and the file's
 * types first) read from the GGUF file path (borrowed) into one allocation. Errors name
 * the file and the tensor. */
int model_load_gguf(Model *m, const char *path, SpecList *specs, Err *err);

#endif
