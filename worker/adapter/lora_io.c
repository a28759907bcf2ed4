/* worker/adapter/lora_io.c -- the full adapter in and out of a (possibly tp-sharded) Lora: gather
 * and scatter between this rank's slice and the full layout, and safetensors files under
 * PEFT's key names (peft.utils.save_and_load: "base_model.model.<module path>.lora_A.
 * weight", the adapter name stripped), so adapter_model.safetensors files move between
 * tlm, PEFT and vLLM and do not depend on the tp layout that wrote them (DESIGN §3, §5). */
#include "worker/adapter/lora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model/safetensors.h"

/* The first input column / output row of rank r's slice of view v. */
static int64_t in0_of(const LoraView *v, int r) { return v->n_in == v->n_in_full ? 0 : r * v->n_in; }
static int64_t out0_of(const LoraView *v, int r) {
    return v->n_out == v->n_out_full ? 0 : r * v->n_out;
}

/* Copies rank r's slice of view v between a part laid out as the block (host, n_params)
 * and the full layout: to_full != 0 writes full, else writes part. only_sliced skips the
 * tensor that is whole on every rank (rank 0 provides it). */
static void move_view(const Lora *l, const LoraView *v, float *part, float *full, int r,
                      int to_full, int only_sliced) {
    const int64_t R = l->cfg.rank, in0 = in0_of(v, r), out0 = out0_of(v, r);
    float *a = part + (v->a - l->params), *b = part + (v->b - l->params);
    float *fa = full + v->full_off, *fb = fa + R * v->n_in_full;
    for (int64_t i = 0; i < R && !(only_sliced && v->n_in == v->n_in_full); i++) {
        /* A (R, in): row i's columns [in0, in0 + in) */
        float *f = fa + i * v->n_in_full + in0, *p = a + i * v->n_in;
        memcpy(to_full ? f : p, to_full ? p : f, (size_t)v->n_in * sizeof(float));
    }
    if (only_sliced && v->n_out == v->n_out_full)
        return;
    /* B (out, R): rows [out0, out0 + out), contiguous */
    float *f = fb + out0 * R;
    memcpy(to_full ? f : b, to_full ? b : f, (size_t)(v->n_out * R) * sizeof(float));
}

static float *part_ptr(const Lora *l, LoraPart part) {
    return l->block + (int64_t)part * l->n_params;
}

void lora_scatter(Lora *l, LoraPart part, const float *full) {
    for (int64_t i = 0; i < l->n_layers * LORA_N_TARGETS; i++)
        if (l->views[i].a != NULL)
            move_view(l, &l->views[i], l->host, (float *)full, l->tp_rank, 0, 0);
    l->ops->upload_raw(part_ptr(l, part), l->host, (size_t)l->n_params * sizeof(float));
    l->ops->sync();
}

int lora_gather(Lora *l, LoraPart part, float *full, Err *err) {
    const int64_t n = l->n_params, n_views = l->n_layers * LORA_N_TARGETS;
    if (l->tp == 1) {
        l->ops->download_raw(l->host, part_ptr(l, part), (size_t)n * sizeof(float));
        for (int64_t i = 0; i < n_views; i++)
            if (l->views[i].a != NULL)
                move_view(l, &l->views[i], l->host, full, 0, 1, 0);
        return 0;
    }
    /* Every rank's block has the same layout and sizes, so one all-gather brings them
     * all; rank r's slice then lands at its offsets (replicated parts: rank 0's). */
    if (comm_all_gather(l->comm, COMM_TP, part_ptr(l, part), l->gather_dev, n, COMM_F32,
                        err) != 0)
        return err_prefix(err, "gathering the LoRA adapter over tp: ");
    l->ops->download_raw(l->gather_host, l->gather_dev, (size_t)l->tp * (size_t)n * 4);
    for (int r = 0; r < l->tp; r++)
        for (int64_t i = 0; i < n_views; i++) {
            const LoraView *v = &l->views[i];
            if (v->a != NULL)
                move_view(l, v, l->gather_host + (int64_t)r * n, full, r, 1, r > 0);
        }
    return 0;
}

/* Reads one tensor of shape (rows, cols) under prefix + key into dst (host fp32). */
static int read_tensor(const SafeTensors *st, const char *path, const char *prefix,
                       const char *key, int64_t rows, int64_t cols, float *dst, Err *err) {
    char name[320];
    snprintf(name, sizeof name, "%s%s", prefix, key);
    const int64_t shape[2] = {rows, cols};
    StTensor t;
    if (st_get(st, name, 2, shape, &t, err) != 0)
        return -1;
    if (t.dtype != DTYPE_F32 && t.dtype != DTYPE_F16 && t.dtype != DTYPE_BF16)
        return err_set(err, "%s: tensor \"%s\": dtype %s, expected F32, F16 or BF16", path,
                       name, dtype_name(t.dtype));
    dtype_to_f32(dst, t.data, t.dtype, rows * cols);
    return 0;
}

int lora_load(Lora *l, const char *path, const char *key_prefix, Err *err) {
    SafeTensors *st = st_open(path, err);
    if (st == NULL)
        return err_prefix(err, "loading LoRA adapter: ");
    const int64_t R = l->cfg.rank;
    char key[256];
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            float *a = l->full + v->full_off, *b = a + R * v->n_in_full;
            lora_key(key, sizeof key, layer, (LoraTarget)t, 0);
            if (read_tensor(st, path, key_prefix, key, R, v->n_in_full, a, err) != 0)
                goto fail;
            lora_key(key, sizeof key, layer, (LoraTarget)t, 1);
            if (read_tensor(st, path, key_prefix, key, v->n_out_full, R, b, err) != 0)
                goto fail;
        }
    st_close(st);
    lora_scatter(l, LORA_PARAMS, l->full);
    return 0;
fail:
    st_close(st);
    return err_prefix(err, "loading LoRA adapter: ");
}

int lora_save(Lora *l, const char *path, Err *err) {
    const int64_t R = l->cfg.rank;
    if (lora_gather(l, LORA_PARAMS, l->full, err) != 0)
        return err_prefix(err, "saving LoRA adapter %s: ", path);
    if (l->tp_rank != 0)
        return 0; /* the gather was this rank's part; tp rank 0 writes */
    int n_views = 0;
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++)
            n_views += lora_view(l, layer, (LoraTarget)t) != NULL;
    StOut *outs = calloc(2 * (size_t)n_views, sizeof *outs);
    char *names = calloc(2 * (size_t)n_views, 256);
    if (outs == NULL || names == NULL) {
        free(outs);
        free(names);
        return err_set(err, "%s: out of host memory for %d tensors", path, 2 * n_views);
    }
    int i = 0;
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            for (int is_b = 0; is_b < 2; is_b++, i++) {
                char *name = names + (size_t)i * 256;
                lora_key(name, 256, layer, (LoraTarget)t, is_b);
                outs[i] = (StOut){.name = name, .dtype = DTYPE_F32, .ndim = 2,
                                  .shape = {is_b ? v->n_out_full : R, is_b ? R : v->n_in_full},
                                  .data = l->full + v->full_off +
                                          (is_b ? R * v->n_in_full : 0)};
            }
        }
    static const char *const meta[2] = {"format", "pt"}; /* what PEFT writes */
    int rc = st_write(path, outs, 2 * n_views, meta, 1, err);
    free(outs);
    free(names);
    if (rc != 0)
        return err_prefix(err, "saving LoRA adapter: ");
    return 0;
}
