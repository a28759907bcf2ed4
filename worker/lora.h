/* worker/lora.h -- LoRA adapters on the projections of every layer, and their state.
 * One fp32 backend block holds params | grads | adam_m | adam_v (each n_params long,
 * contiguous, so one collective covers every gradient); per-(layer, target) views give
 * A (R, in) and B (out, R) as PEFT's lora_A / lora_B store them. lora_init reproduces
 * PEFT's initialization (A kaiming-uniform(a=sqrt(5)), B = 0) from our own documented
 * RNG; load/save read and write PEFT-named safetensors. No math here beyond init: the
 * forward/backward are in worker/forward.c and worker/backward.c, the update in
 * worker/optim.c. Not thread-safe; one Lora belongs to one worker thread. */
#ifndef TLM_WORKER_LORA_H
#define TLM_WORKER_LORA_H

#include <stdint.h>

#include "io/err.h"
#include "io/model_config.h"
#include "kernels/ops.h"

/* The projections LoRA can wrap, in the order of one layer's views in the block. */
typedef enum LoraTarget {
    LORA_Q = 0, /* self_attn.q_proj: in D, out H*HD */
    LORA_K,     /* self_attn.k_proj: in D, out KVH*HD */
    LORA_V,     /* self_attn.v_proj: in D, out KVH*HD */
    LORA_O,     /* self_attn.o_proj: in H*HD, out D */
    LORA_GATE,  /* mlp.gate_proj: in D, out F */
    LORA_UP,    /* mlp.up_proj: in D, out F */
    LORA_DOWN,  /* mlp.down_proj: in F, out D */
    LORA_N_TARGETS
} LoraTarget;

#define LORA_BIT(t) (1u << (t))
#define LORA_ALL_TARGETS ((1u << LORA_N_TARGETS) - 1u)

/* Plain data: the adapter's shape. scale = alpha / rank (PEFT, use_rslora off). */
typedef struct LoraConfig {
    int32_t rank;      /* R */
    float alpha;
    uint32_t targets;  /* LORA_BIT(LORA_Q) | ... */
} LoraConfig;

/* One wrapped projection of one layer; pointers are backend fp32, borrowed from the
 * block. */
typedef struct LoraView {
    float *a, *b;   /* (R, in), (out, R) */
    float *da, *db; /* their gradients, same shapes */
    int64_t n_in, n_out;
} LoraView;

typedef struct Lora {
    LoraConfig cfg;
    float scale;        /* alpha / rank */
    int64_t n_layers;   /* L */
    const Ops *ops;     /* borrowed */
    int64_t n_params;   /* floats in each of params, grads, adam_m, adam_v */
    float *block;       /* backend (4, n_params), owned */
    float *params, *grads, *adam_m, *adam_v; /* backend views into block, (n_params) */
    LoraView *views;    /* host (L, LORA_N_TARGETS), owned; a == NULL when not targeted */
    float *host;        /* host staging (n_params), owned: init, load, save */
} Lora;

/* "q_proj" .. "down_proj" -> target, or -1. */
int lora_target_parse(const char *name);
const char *lora_target_name(LoraTarget t); /* "q_proj" .. "down_proj" */

/* The PEFT key of one tensor, e.g. "base_model.model.model.layers.3.mlp.up_proj.lora_B.
 * weight" (is_b selects lora_B), written into buf (host, n_bytes). */
void lora_key(char *buf, size_t n_bytes, int64_t layer, LoraTarget t, int is_b);

/* Allocates an adapter for cfg's layers and dims on ops' backend, all zero. Errors:
 * rank < 1, no targets, allocation failure. Returns 0/-1; *out owned (lora_free). */
int lora_alloc(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
               Err *err);
void lora_free(Lora *l); /* accepts a zeroed struct; safe twice */

const LoraView *lora_view(const Lora *l, int64_t layer, LoraTarget t); /* NULL if off */

/* PEFT's init: every A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5)),
 * B = 0, drawn from splitmix64 seeded per (seed, layer, target) so a view's values do
 * not depend on which other targets exist. Grads and moments are zeroed. */
void lora_init(Lora *l, uint64_t seed);

/* Reads every targeted A and B from the safetensors file path, under the PEFT keys with
 * key_prefix (borrowed; "" for an adapter file, e.g. "lora.init." for a golden file)
 * prepended. Shapes are checked; F32/F16/BF16 accepted. Errors name file and key. */
int lora_load(Lora *l, const char *path, const char *key_prefix, Err *err);
/* Writes params as PEFT's adapter_model.safetensors (F32) to path, atomically. */
int lora_save(Lora *l, const char *path, Err *err);

/* Copies params (or grads when grads != 0) of one view to host a (R*in) and b (out*R). */
void lora_download(const Lora *l, int64_t layer, LoraTarget t, int grads, float *a, float *b);

void lora_zero_grads(Lora *l);
void lora_reset_moments(Lora *l);

#endif
