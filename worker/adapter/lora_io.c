/* worker/adapter/lora_io.c -- the adapter in and out of safetensors files under PEFT's key
 * names (peft.utils.save_and_load: "base_model.model.<module path>.lora_A.weight", the
 * adapter name stripped), so adapter_model.safetensors files move between tlm, PEFT and
 * vLLM. Files hold the full adapter (lora_gather / lora_scatter in lora.c), so they do not
 * depend on the tp layout that wrote them (DESIGN §3, §5). */
#include "worker/adapter/lora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model/safetensors.h"

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
    char key[LORA_KEY_BYTES];
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
    char *names = calloc(2 * (size_t)n_views, LORA_KEY_BYTES);
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
                char *name = names + (size_t)i * LORA_KEY_BYTES;
                lora_key(name, LORA_KEY_BYTES, layer, (LoraTarget)t, is_b);
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
