/* worker/lora.c -- the adapter's block, its views, PEFT's initialization, resets, and
 * the adapter from and to safetensors under PEFT's key names (peft.utils.save_and_load:
 * "base_model.model.<module path>.lora_A.weight", the adapter name stripped), so
 * adapter_model.safetensors files move between tlm, PEFT and vLLM. */
#include "worker/lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

static const char *const TARGET_NAMES[LORA_N_TARGETS] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

int lora_target_parse(const char *name) {
    for (int t = 0; t < LORA_N_TARGETS; t++)
        if (strcmp(name, TARGET_NAMES[t]) == 0)
            return t;
    return -1;
}

const char *lora_target_name(LoraTarget t) {
    return (t >= 0 && t < LORA_N_TARGETS) ? TARGET_NAMES[t] : "?";
}

void lora_key(char *buf, size_t n_bytes, int64_t layer, LoraTarget t, int is_b) {
    const char *block = t <= LORA_O ? "self_attn" : "mlp";
    snprintf(buf, n_bytes, "base_model.model.model.layers.%lld.%s.%s.lora_%c.weight",
             (long long)layer, block, lora_target_name(t), is_b ? 'B' : 'A');
}

/* (in, out) of a target's projection, modeling_llama.py's LlamaAttention / LlamaMLP. */
static void target_dims(const ModelConfig *c, LoraTarget t, int64_t *n_in, int64_t *n_out) {
    const int64_t D = c->dim, QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    switch (t) {
    case LORA_Q: *n_in = D; *n_out = QD; break;
    case LORA_K:
    case LORA_V: *n_in = D; *n_out = KD; break;
    case LORA_O: *n_in = QD; *n_out = D; break;
    case LORA_GATE:
    case LORA_UP: *n_in = D; *n_out = c->ffn_dim; break;
    default: *n_in = c->ffn_dim; *n_out = D; break;
    }
}

int lora_alloc(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
               Err *err) {
    *out = (Lora){0};
    if (lc->rank < 1 || (lc->targets & LORA_ALL_TARGETS) == 0 ||
        (lc->targets & ~LORA_ALL_TARGETS) != 0)
        return err_set(err, "LoRA rank %d, targets 0x%x: need rank >= 1 and at least one "
                            "of q,k,v,o,gate,up,down", lc->rank, lc->targets);
    out->cfg = *lc;
    out->scale = lc->alpha / (float)lc->rank;
    out->n_layers = cfg->n_layers;
    out->ops = ops;
    out->views = calloc((size_t)cfg->n_layers * LORA_N_TARGETS, sizeof *out->views);
    if (out->views == NULL)
        return err_set(err, "out of host memory for %lld LoRA views", (long long)cfg->n_layers);
    /* size table: per layer, per target, A (R, in) then B (out, R) */
    int64_t n = 0;
    for (int64_t l = 0; l < cfg->n_layers; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            if (!(lc->targets & LORA_BIT(t)))
                continue;
            LoraView *v = &out->views[l * LORA_N_TARGETS + t];
            target_dims(cfg, (LoraTarget)t, &v->n_in, &v->n_out);
            n += lc->rank * (v->n_in + v->n_out);
        }
    out->n_params = n;
    out->block = ops->alloc(4 * (size_t)n * sizeof(float), err);
    out->host = malloc((size_t)n * sizeof(float));
    if (out->block == NULL || out->host == NULL) {
        if (out->block != NULL)
            err_set(err, "out of host memory for LoRA staging (%lld floats)", (long long)n);
        else
            err_prefix(err, "LoRA block (4 x %lld floats): ", (long long)n);
        lora_free(out);
        return -1;
    }
    out->params = out->block;
    out->grads = out->block + n;
    out->adam_m = out->block + 2 * n;
    out->adam_v = out->block + 3 * n;
    int64_t off = 0;
    for (int64_t l = 0; l < cfg->n_layers; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            LoraView *v = &out->views[l * LORA_N_TARGETS + t];
            if (!(lc->targets & LORA_BIT(t)))
                continue;
            const int64_t na = lc->rank * v->n_in, nb = v->n_out * lc->rank;
            v->a = out->params + off;
            v->b = out->params + off + na;
            v->da = out->grads + off;
            v->db = out->grads + off + na;
            off += na + nb;
        }
    return 0;
}

void lora_free(Lora *l) {
    if (l == NULL)
        return;
    if (l->ops != NULL)
        l->ops->release(l->block);
    free(l->views);
    free(l->host);
    *l = (Lora){0};
}

const LoraView *lora_view(const Lora *l, int64_t layer, LoraTarget t) {
    const LoraView *v = &l->views[layer * LORA_N_TARGETS + t];
    return v->a != NULL ? v : NULL;
}

/* splitmix64 (Steele, Lea, Flood 2014): our documented generator for LoRA init. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void lora_init(Lora *l, uint64_t seed) {
    /* torch.nn.init.kaiming_uniform_(A, a=sqrt(5)) as PEFT's reset_lora_parameters calls
     * it: gain = sqrt(2 / (1 + a^2)) = sqrt(1/3), bound = gain * sqrt(3 / fan_in)
     * = 1 / sqrt(fan_in), fan_in = in. B = 0, so the adapter starts as the identity. */
    memset(l->host, 0, (size_t)l->n_params * sizeof(float));
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            uint64_t state = seed ^ (0xD1B54A32D192ED03ull *
                                     (uint64_t)(layer * LORA_N_TARGETS + t + 1));
            const double bound = 1.0 / sqrt((double)v->n_in);
            float *a = l->host + (v->a - l->params);
            for (int64_t i = 0; i < l->cfg.rank * v->n_in; i++) {
                const double u = (double)(splitmix64(&state) >> 11) * 0x1.0p-53; /* [0,1) */
                a[i] = (float)((2.0 * u - 1.0) * bound);
            }
        }
    l->ops->upload_raw(l->params, l->host, (size_t)l->n_params * sizeof(float));
    lora_zero_grads(l);
    lora_reset_moments(l);
    l->ops->sync();
}

void lora_download(const Lora *l, int64_t layer, LoraTarget t, int grads, float *a, float *b) {
    const LoraView *v = lora_view(l, layer, t);
    if (v == NULL)
        return;
    l->ops->download_raw(a, grads ? v->da : v->a, (size_t)(l->cfg.rank * v->n_in) * 4);
    l->ops->download_raw(b, grads ? v->db : v->b, (size_t)(v->n_out * l->cfg.rank) * 4);
}

void lora_zero_grads(Lora *l) { l->ops->zero(l->grads, (size_t)l->n_params * sizeof(float)); }

void lora_reset_moments(Lora *l) {
    /* adam_m and adam_v are adjacent: one call clears both */
    l->ops->zero(l->adam_m, 2 * (size_t)l->n_params * sizeof(float));
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
            float *a = l->host + (v->a - l->params), *b = l->host + (v->b - l->params);
            lora_key(key, sizeof key, layer, (LoraTarget)t, 0);
            if (read_tensor(st, path, key_prefix, key, R, v->n_in, a, err) != 0)
                goto fail;
            lora_key(key, sizeof key, layer, (LoraTarget)t, 1);
            if (read_tensor(st, path, key_prefix, key, v->n_out, R, b, err) != 0)
                goto fail;
        }
    st_close(st);
    l->ops->upload_raw(l->params, l->host, (size_t)l->n_params * sizeof(float));
    l->ops->sync();
    return 0;
fail:
    st_close(st);
    return err_prefix(err, "loading LoRA adapter: ");
}

int lora_save(Lora *l, const char *path, Err *err) {
    const int64_t R = l->cfg.rank;
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
    l->ops->download_raw(l->host, l->params, (size_t)l->n_params * sizeof(float));
    int i = 0;
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            for (int is_b = 0; is_b < 2; is_b++, i++) {
                char *name = names + (size_t)i * 256;
                lora_key(name, 256, layer, (LoraTarget)t, is_b);
                const float *src = is_b ? v->b : v->a;
                outs[i] = (StOut){.name = name, .dtype = DTYPE_F32, .ndim = 2,
                                  .shape = {is_b ? v->n_out : R, is_b ? R : v->n_in},
                                  .data = l->host + (src - l->params)};
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
