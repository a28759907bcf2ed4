/* worker/adapter/lora.h -- LoRA adapters on the projections of every layer, and their state.
 * One fp32 backend block holds params | grads | adam_m | adam_v (each n_params long,
 * contiguous, so one collective covers every gradient); per-(layer, target) views give
 * A (R, in) and B (out, R) as PEFT's lora_A / lora_B store them. lora_init reproduces
 * PEFT's initialization (A kaiming-uniform(a=sqrt(5)), B = 0) from our own documented
 * RNG; load/save read and write PEFT-named safetensors. No math here beyond init: the
 * forward/backward are in worker/model/forward.c and worker/model/backward.c, the update in
 * worker/optim.c. Not thread-safe; one Lora belongs to one worker thread.
 *
 * Tensor parallelism (DESIGN §3, Megatron-LM): with a tp group (lora_alloc_tp) each rank
 * holds a slice. On the column-parallel q/k/v/gate/up, A is replicated and B holds this
 * rank's output rows; on the row-parallel o/down, A holds this rank's input columns and
 * B is replicated. The block is ordered by how each part behaves under tp, so every
 * collective covers one contiguous range (see the region fields of Lora). The full
 * adapter (what tp = 1 holds, PEFT order) moves in and out through lora_gather /
 * lora_scatter; init, load and save go through it, so they do not depend on tp. */
#ifndef TLM_WORKER_LORA_H
#define TLM_WORKER_LORA_H

#include <stdint.h>

#include "comm/comm.h"
#include "io/base/err.h"
#include "io/model/model_config.h"
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
 * block. in/out are this rank's: under tp, out = out_full / tp on q/k/v/gate/up and
 * in = in_full / tp on o/down; the other dimension is whole. */
typedef struct LoraView {
    float *a, *b;   /* (R, in), (out, R) */
    float *da, *db; /* their gradients, same shapes */
    int64_t n_in, n_out;
    int64_t n_in_full, n_out_full; /* the projection's (tp = 1) dims */
    int64_t in0, out0;  /* first input column / output row of this slice in the full one */
    int64_t full_off;   /* where full A (R, in_full) starts in the full layout; full B
                         * (out_full, R) follows it */
} LoraView;

/* The four equally laid-out parts of the block. */
typedef enum LoraPart { LORA_PARAMS = 0, LORA_GRADS, LORA_ADAM_M, LORA_ADAM_V } LoraPart;

typedef struct Lora {
    LoraConfig cfg;
    float scale;        /* alpha / rank */
    int64_t n_layers;   /* L */
    /* Adapters stacked in each view, as kernels/ops_list.h lora_rows_* take them: A
     * (n_stack, R, in), B (n_stack, out, R), each view's adapter i at a + i * R * in and
     * b + i * out * R (grads alike). 1 for a plain adapter. A stack (lora_alloc_stack)
     * holds params and grads only (adam_m/adam_v NULL, no full-layout staging): its
     * adapters' own state lives in worker/adapter/lora_stack.h. */
    int32_t n_stack;
    const Ops *ops;     /* borrowed */
    int64_t n_params;   /* floats in each of params, grads, adam_m, adam_v */
    float *block;       /* backend (4, n_params), owned */
    float *params, *grads, *adam_m, *adam_v; /* backend views into block, (n_params) */
    LoraView *views;    /* host (L, LORA_N_TARGETS), owned; a == NULL when not targeted */
    float *host;        /* host staging (n_params), owned */

    /* Tensor parallelism. Every part of the block is ordered in four regions:
     * [0, n_reduce)            A of column-parallel targets: replicated; a backward leaves
     *                          partial dA on each rank, summed over tp (worker/model/backward.c)
     * [n_reduce, n_replicated) B of row-parallel targets: replicated, dB identical
     * [n_replicated, n_params) B of column-parallel and A of row-parallel: sharded.
     * Within a region: layer-major, targets in LoraTarget order. */
    Comm *comm;         /* borrowed tp group; NULL when not sharded */
    int tp, tp_rank;    /* 1, 0 without a tp group */
    int64_t n_reduce, n_replicated;
    int64_t n_full;     /* floats of the whole adapter: n_params of the tp = 1 adapter */
    float *full;        /* host (n_full), owned: the full layout, PEFT order (per layer,
                         * per target: A (R, in_full) then B (out_full, R)) */
    float *gather_dev;  /* backend (tp, n_params), owned; NULL when tp == 1 */
    float *gather_host; /* host (tp, n_params), owned; NULL when tp == 1 */
    double *sumsq_dev;  /* backend (1), owned: the tp sum of the sharded squared norm */
} Lora;

/* "q_proj" .. "down_proj" -> target, or -1. */
int lora_target_parse(const char *name);
const char *lora_target_name(LoraTarget t); /* "q_proj" .. "down_proj" */
/* (in, out) of target t's projection in cfg's model (tp = 1), as modeling_llama.py
 * builds it. */
void lora_target_dims(const ModelConfig *cfg, LoraTarget t, int64_t *n_in, int64_t *n_out);

/* Bytes of a PEFT key buffer: the longest key,
 * "base_model.model.model.layers.<L>.self_attn.q_proj.lora_A.weight", is 64 characters
 * at L < 1000 layers; 96 leaves a third to spare. */
#define LORA_KEY_BYTES 96

/* The PEFT key of one tensor, e.g. "base_model.model.model.layers.3.mlp.up_proj.lora_B.
 * weight" (is_b selects lora_B), written into buf (host, n_bytes). */
void lora_key(char *buf, size_t n_bytes, int64_t layer, LoraTarget t, int is_b);

/* Allocates an adapter for cfg's layers and dims on ops' backend, all zero. Errors:
 * rank < 1, no targets, allocation failure. Returns 0/-1; *out owned (lora_free). */
int lora_alloc(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
               Err *err);
void lora_free(Lora *l); /* accepts a zeroed struct; safe twice */

/* lora_alloc for this rank's slice in comm's tp group (borrowed, must outlive the
 * adapter; NULL or a tp group of one = lora_alloc). The model must be opened with the same
 * comm. Errors: as lora_alloc, and heads, kv heads or ffn size not divisible by tp. */
int lora_alloc_tp(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
                  Comm *comm, Err *err);

/* lora_alloc_tp for n_stack adapters stacked per view (see Lora.n_stack): params and
 * grads only, all zero. Not for init, load, save, gather or scatter (those take one
 * adapter); worker/adapter/lora_stack.h fills it from n plain adapters. Errors: as
 * lora_alloc_tp, n_stack < 1. */
int lora_alloc_stack(Lora *out, const LoraConfig *lc, const ModelConfig *cfg, const Ops *ops,
                     Comm *comm, int32_t n_stack, Err *err);

/* 1 for o_proj and down_proj (row-parallel under tp), 0 for the column-parallel ones. */
int lora_target_row_parallel(LoraTarget t);

/* The whole adapter's `part` in the full layout (host full, n_full floats, written), as a
 * tp = 1 adapter holds it: the sharded parts gathered from every tp rank, the replicated
 * ones from tp rank 0. Collective over tp: every tp rank must call. Synchronizes. */
int lora_gather(Lora *l, LoraPart part, float *full, Err *err);

/* Sets this rank's slice of `part` from the full layout (host full, n_full floats,
 * borrowed). Local: no communication; every tp rank passes the same full values. */
void lora_scatter(Lora *l, LoraPart part, const float *full);

const LoraView *lora_view(const Lora *l, int64_t layer, LoraTarget t); /* NULL if off */

/* PEFT's init: every A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5)),
 * B = 0, drawn from splitmix64 seeded per (seed, layer, target) so a view's values do
 * not depend on which other targets exist. Under tp every rank draws the full A and
 * keeps its slice, so the adapter is the tp = 1 one. Grads and moments are zeroed. */
void lora_init(Lora *l, uint64_t seed);

/* Reads every targeted A and B from the safetensors file path, under the PEFT keys with
 * key_prefix (borrowed; "" for an adapter file, e.g. "lora.init." for a golden file)
 * prepended. Shapes are checked (the full ones: every tp rank reads the whole tensors and
 * keeps its slice); F32/F16/BF16 accepted. Errors name file and key. */
int lora_load(Lora *l, const char *path, const char *key_prefix, Err *err);
/* Writes params as PEFT's adapter_model.safetensors (F32) to path, atomically: the full
 * adapter (lora_gather), so the file does not depend on tp. Collective over tp: every tp
 * rank must call; tp rank 0 writes, the others only take part in the gather. */
int lora_save(Lora *l, const char *path, Err *err);

/* Copies params (or grads when grads != 0) of one view to host a (R*in) and b (out*R):
 * this rank's slice (the full tensors: lora_gather). */
void lora_download(const Lora *l, int64_t layer, LoraTarget t, int grads, float *a, float *b);

void lora_zero_grads(Lora *l);
void lora_reset_moments(Lora *l);

#endif
