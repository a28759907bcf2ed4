/* worker/adapter/lora.c -- the adapter's block, its views (this rank's slice under tp, DESIGN §3),
 * the moves between this rank's slice and the full layout (gather, scatter), PEFT's
 * initialization and the resets. Safetensors load/save under PEFT's key names is
 * worker/adapter/lora_io.c, on top of these. */
#include "worker/adapter/lora.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
void lora_target_dims(const ModelConfig *c, LoraTarget t, int64_t *n_in, int64_t *n_out) {
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

int lora_target_row_parallel(LoraTarget t) { return t == LORA_O || t == LORA_DOWN; }

/* The region (0..3, see Lora) of A (is_b 0) or B of target t. */
static int region_of(LoraTarget t, int is_b) {
    const int row = lora_target_row_parallel(t);
    if (!is_b)
        return row ? 3 : 0;
    return row ? 1 : 2;
}

/* Sets every targeted view's dims (this rank's slice) and full-layout offset; returns the
 * full layout's size. Under tp the sharded dimension must divide (DESIGN §3). */
static int64_t plan_views(Lora *out, const LoraConfig *lc, const ModelConfig *cfg) {
    int64_t full = 0;
    for (int64_t l = 0; l < cfg->n_layers; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            if (!(lc->targets & LORA_BIT(t)))
                continue;
            LoraView *v = &out->views[l * LORA_N_TARGETS + t];
            lora_target_dims(cfg, (LoraTarget)t, &v->n_in_full, &v->n_out_full);
            v->n_in = v->n_in_full;
            v->n_out = v->n_out_full;
            if (lora_target_row_parallel((LoraTarget)t)) /* A by input columns */
                v->n_in = v->n_in_full / out->tp;
            else /* B by output rows */
                v->n_out = v->n_out_full / out->tp;
            v->in0 = v->n_in == v->n_in_full ? 0 : out->tp_rank * v->n_in;
            v->out0 = v->n_out == v->n_out_full ? 0 : out->tp_rank * v->n_out;
            v->full_off = full;
            full += lc->rank * (v->n_in_full + v->n_out_full);
        }
    return full;
}

/* Carves the block: each region in turn, layer-major, targets in order (see Lora). */
static void carve_views(Lora *out, int64_t n_layers) {
    const int64_t R = out->cfg.rank, n = out->n_params;
    int64_t off = 0;
    for (int region = 0; region < 4; region++) {
        if (region == 1)
            out->n_reduce = off;
        if (region == 2)
            out->n_replicated = off;
        for (int64_t l = 0; l < n_layers; l++)
            for (int t = 0; t < LORA_N_TARGETS; t++) {
                LoraView *v = &out->views[l * LORA_N_TARGETS + t];
                if (!(out->cfg.targets & LORA_BIT(t)))
                    continue;
                if (region_of((LoraTarget)t, 0) == region) {
                    v->a = out->params + off;
                    v->da = out->params + n + off;
                    off += out->n_stack * R * v->n_in;
                }
                if (region_of((LoraTarget)t, 1) == region) {
                    v->b = out->params + off;
                    v->db = out->params + n + off;
                    off += out->n_stack * v->n_out * R;
                }
            }
    }
}

/* tp must divide every dimension the adapter shards (the model checks the same). */
static int check_tp(const ModelConfig *c, int tp, Err *err) {
    if (c->n_heads % tp == 0 && c->n_kv_heads % tp == 0 && c->ffn_dim % tp == 0)
        return 0;
    return err_set(err, "LoRA under tp = %d: num_attention_heads %lld, num_key_value_heads "
                        "%lld and intermediate_size %lld must all be divisible by tp", tp,
                   (long long)c->n_heads, (long long)c->n_kv_heads, (long long)c->ffn_dim);
}

int lora_alloc_stack(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
                     Comm *comm, int32_t n_stack, Err *err) {
    *out = (Lora){0};
    if (n_stack < 1)
        return err_set(err, "a stack of %d LoRA adapters: need at least 1", n_stack);
    if (lc->rank < 1 || (lc->targets & LORA_ALL_TARGETS) == 0 ||
        (lc->targets & ~LORA_ALL_TARGETS) != 0)
        return err_set(err, "LoRA rank %d, targets 0x%x: need rank >= 1 and at least one "
                            "of q,k,v,o,gate,up,down", lc->rank, lc->targets);
    const int tp = comm != NULL ? comm_size(comm, COMM_TP) : 1;
    if (check_tp(cfg, tp, err) != 0)
        return -1;
    out->cfg = *lc;
    out->scale = lc->alpha / (float)lc->rank;
    out->n_layers = cfg->n_layers;
    out->n_stack = n_stack;
    const int stacked = n_stack > 1, n_parts = stacked ? 2 : 4; /* a stack: params, grads */
    out->ops = ops;
    out->comm = tp > 1 ? comm : NULL;
    out->tp = tp;
    out->tp_rank = tp > 1 ? comm_rank(comm, COMM_TP) : 0;
    out->views = calloc((size_t)cfg->n_layers * LORA_N_TARGETS, sizeof *out->views);
    if (out->views == NULL)
        return err_set(err, "out of host memory for %lld LoRA views", (long long)cfg->n_layers);
    out->n_full = plan_views(out, lc, cfg);
    int64_t n = 0;
    for (int64_t i = 0; i < cfg->n_layers * LORA_N_TARGETS; i++)
        n += n_stack * lc->rank * (out->views[i].n_in + out->views[i].n_out);
    out->n_params = n;
    out->block = ops->alloc((size_t)n_parts * (size_t)n * sizeof(float), err);
    if (out->block == NULL) {
        err_prefix(err, "LoRA block (%d x %lld floats): ", n_parts, (long long)n);
        lora_free(out);
        return -1;
    }
    out->params = out->block;
    out->grads = out->block + n;
    out->adam_m = stacked ? NULL : out->block + 2 * n;
    out->adam_v = stacked ? NULL : out->block + 3 * n;
    carve_views(out, cfg->n_layers);
    if (stacked) /* the stack's adapters are initialised, saved and stepped one by one */
        return 0;
    out->sumsq_dev = ops->alloc(sizeof(double), err);
    if (out->sumsq_dev == NULL || (tp > 1 && (out->gather_dev = ops->alloc(
                                       (size_t)tp * (size_t)n * sizeof(float), err)) == NULL)) {
        err_prefix(err, "LoRA tp workspace (%d x %lld floats): ", tp, (long long)n);
        lora_free(out);
        return -1;
    }
    out->host = malloc((size_t)n * sizeof(float));
    out->full = malloc((size_t)out->n_full * sizeof(float));
    if (tp > 1)
        out->gather_host = malloc((size_t)tp * (size_t)n * sizeof(float));
    if (out->host == NULL || out->full == NULL || (tp > 1 && out->gather_host == NULL)) {
        err_set(err, "out of host memory for LoRA staging (%lld floats)", (long long)n);
        lora_free(out);
        return -1;
    }
    return 0;
}

int lora_alloc_tp(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
                  Comm *comm, Err *err) {
    return lora_alloc_stack(out, lc, cfg, ops, comm, 1, err);
}

int lora_alloc(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
               Err *err) {
    return lora_alloc_tp(out, lc, cfg, ops, NULL, err);
}

void lora_free(Lora *l) {
    if (l == NULL)
        return;
    if (l->ops != NULL) {
        l->ops->release(l->gather_dev);
        l->ops->release(l->sumsq_dev);
        l->ops->release(l->block);
    }
    free(l->views);
    free(l->host);
    free(l->full);
    free(l->gather_host);
    *l = (Lora){0};
}

const LoraView *lora_view(const Lora *l, int64_t layer, LoraTarget t) {
    const LoraView *v = &l->views[layer * LORA_N_TARGETS + t];
    return v->a != NULL ? v : NULL;
}

/* The first input column / output row of rank r's slice of view v. */
static int64_t in0_of(const LoraView *v, int r) {
    return v->n_in == v->n_in_full ? 0 : r * v->n_in;
}
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
    assert(l->n_stack == 1 && "a stack's adapters are scattered one by one");
    for (int64_t i = 0; i < l->n_layers * LORA_N_TARGETS; i++)
        if (l->views[i].a != NULL)
            move_view(l, &l->views[i], l->host, (float *)full, l->tp_rank, 0, 0);
    l->ops->upload_raw(part_ptr(l, part), l->host, (size_t)l->n_params * sizeof(float));
    l->ops->sync();
}

int lora_gather(Lora *l, LoraPart part, float *full, Err *err) {
    if (l->n_stack != 1)
        return err_set(err, "lora_gather: a stack of %d adapters (gather each one)", l->n_stack);
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
     * = 1 / sqrt(fan_in), fan_in = in. B = 0, so the adapter starts as the identity.
     * Drawn in the full layout and then sliced: the values do not depend on tp. */
    memset(l->full, 0, (size_t)l->n_full * sizeof(float));
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            uint64_t state = seed ^ (0xD1B54A32D192ED03ull *
                                     (uint64_t)(layer * LORA_N_TARGETS + t + 1));
            const double bound = 1.0 / sqrt((double)v->n_in_full);
            float *a = l->full + v->full_off;
            for (int64_t i = 0; i < l->cfg.rank * v->n_in_full; i++) {
                const double u = (double)(splitmix64(&state) >> 11) * 0x1.0p-53; /* [0,1) */
                a[i] = (float)((2.0 * u - 1.0) * bound);
            }
        }
    lora_scatter(l, LORA_PARAMS, l->full);
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
    if (l->adam_m == NULL) /* a stack has no moments */
        return;
    /* adam_m and adam_v are adjacent: one call clears both */
    l->ops->zero(l->adam_m, 2 * (size_t)l->n_params * sizeof(float));
}

