/* kernels/ops.h -- the one op API the worker computes through.
 * A backend is a table of function pointers (Ops); kernels/cpu (fp32, OpenBLAS + OpenMP,
 * the reference and what CI runs) and kernels/cuda (bf16 activations and weights, fp32
 * accumulation, cuBLAS) fill one each, with the same op names. Ops never allocate
 * persistent memory: callers pass outputs and workspaces.
 *
 * Element types. `void *` buffers hold the backend's element type (Ops.elem: fp32 on CPU,
 * bf16 on CUDA): frozen weights and activations. `float *` buffers are fp32 on every
 * backend: LoRA weights and gradients, AdamW moments, losses, softmax and norm statistics.
 * `int32_t *` are token ids, positions and index tables. Every pointer passed to an op is
 * a backend pointer (device memory on CUDA) unless the comment says host.
 *
 * Streams: CUDA ops enqueue on the backend's stream and do not synchronize; results read
 * on the host go through download(), which synchronizes. CPU ops complete on return.
 *
 * Shapes use the vocabulary of worker/model/model.h: T tokens (packed over all sequences of a
 * batch), D hidden, H heads, KVH kv heads, HD head dim, F ffn dim, V vocab, R LoRA rank.
 * Matrices are row-major; weights are stored as Hugging Face stores them, (out, in). */
#ifndef TLM_KERNELS_OPS_H
#define TLM_KERNELS_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/dtype.h"
#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One sequence of a packed batch, for attention. Query rows [q_start, q_start + q_len)
 * sit at positions pos0 .. pos0 + q_len - 1; their keys and values are rows
 * [kv_start, kv_start + pos0 + q_len) of the k/v buffers (row i of those = position i).
 * Training packs k/v like q (kv_start = q_start, pos0 = 0); decoding reads a KV cache
 * slot (kv_start = slot * max_T, pos0 = tokens already cached). Causal: the query at
 * position p sees keys 0..p. */
typedef struct SeqSpan {
    int32_t q_start, q_len, pos0, kv_start;
} SeqSpan;

typedef struct Ops {
    const char *name; /* "cpu" or "cuda" */
    DType elem;       /* element type of `void *` buffers */
    size_t elem_bytes;

    /* ---- memory (the only calls that allocate; used at init, never in the step loop) */
    /* Returns a zeroed buffer of n_bytes, or NULL with err filled. Owned by the caller. */
    void *(*alloc)(size_t n_bytes, Err *err);
    void (*release)(void *p); /* accepts NULL */
    /* Copies n host elements of type src_type (host, borrowed) into dst as elem. */
    void (*upload)(void *dst, const void *src, DType src_type, int64_t n);
    /* Copies n_bytes verbatim host -> backend (fp32/int32 buffers, index tables). */
    void (*upload_raw)(void *dst, const void *src, size_t n_bytes);
    /* Copies n elements of elem type out as host fp32 (dst host); synchronizes. */
    void (*download)(float *dst, const void *src, int64_t n);
    /* Copies n_bytes verbatim backend -> host; synchronizes. */
    void (*download_raw)(void *dst, const void *src, size_t n_bytes);
    void (*zero)(void *p, size_t n_bytes);
    void (*copy)(void *dst, const void *src, size_t n_bytes); /* backend -> backend */
    void (*sync)(void);

    /* ---- dense layers (frozen weights: no weight gradients exist anywhere) */
    /* out (M,N) = x (M,K) @ w (N,K)^T + bias (N, NULL for none); accumulate != 0 adds
     * into out instead of overwriting. */
    void (*matmul_fwd)(void *out, const void *x, const void *w, const void *bias, int64_t M,
                       int64_t N, int64_t K, int accumulate);
    /* dx (M,K) (+)= dy (M,N) @ w (N,K). */
    void (*matmul_bwd)(void *dx, const void *dy, const void *w, int64_t M, int64_t N,
                       int64_t K, int accumulate);

    /* ---- LoRA: y += scale * (x @ a^T) @ b^T, a (R,K) and b (N,R) fp32 (PEFT's lora_A,
     * lora_B). h (M,R) fp32 receives x @ a^T and is kept for the backward. */
    void (*lora_fwd)(void *y, float *h, const void *x, const float *a, const float *b,
                     float scale, int64_t M, int64_t N, int64_t K, int64_t R);
    /* From dy (M,N): da (R,K) += dh^T x, db (N,R) += scale dy^T h, and, when dx != NULL,
     * dx (M,K) += dh a, where dh (M,R) = scale dy b is workspace the caller provides. */
    void (*lora_bwd)(float *da, float *db, void *dx, float *dh, const void *dy, const void *x,
                     const float *h, const float *a, const float *b, float scale, int64_t M,
                     int64_t N, int64_t K, int64_t R);

    /* ---- elementwise and normalization */
    /* out = x * rsqrt(mean(x^2) + eps) * w over rows of D (HF LlamaRMSNorm); rstd (T)
     * receives the per-row rsqrt for the backward. */
    void (*rmsnorm_fwd)(void *out, float *rstd, const void *x, const void *w, int64_t T,
                        int64_t D, float eps);
    /* dx (T,D) += d(rmsnorm)/dx applied to dout. */
    void (*rmsnorm_bwd)(void *dx, const void *dout, const void *x, const void *w,
                        const float *rstd, int64_t T, int64_t D);
    /* Rotary embedding in place on x (T, n_heads, HD), HF rotate_half layout (pairs i and
     * i + HD/2). cos/sin (max_pos, HD/2) fp32 tables (llama3 scaling already applied);
     * pos (T) positions. rope_bwd applies the inverse rotation to a gradient. */
    void (*rope_fwd)(void *x, const int32_t *pos, const float *cos, const float *sin,
                     int64_t T, int64_t n_heads, int64_t HD);
    void (*rope_bwd)(void *dx, const int32_t *pos, const float *cos, const float *sin,
                     int64_t T, int64_t n_heads, int64_t HD);
    /* out (n) = silu(gate) * up. */
    void (*swiglu_fwd)(void *out, const void *gate, const void *up, int64_t n);
    /* dgate, dup (n) = gradients of swiglu given dout (overwritten, not accumulated). */
    void (*swiglu_bwd)(void *dgate, void *dup, const void *dout, const void *gate,
                       const void *up, int64_t n);
    /* y (n) += x (n). */
    void (*add)(void *y, const void *x, int64_t n);
    /* out (T,D) = table[ids[t]] for each t; table (V,D). */
    void (*embed_fwd)(void *out, const int32_t *ids, const void *table, int64_t T, int64_t D);
    /* dst[idx[i]] = src[i] for rows of row_elems elements (scatter into a KV cache). */
    void (*rows_scatter)(void *dst, const int32_t *idx, const void *src, int64_t n_rows,
                         int64_t row_elems);
    /* dst[i] = src[idx[i]] (gather the last token of each sequence). */
    void (*rows_gather)(void *dst, const void *src, const int32_t *idx, int64_t n_rows,
                        int64_t row_elems);

    /* ---- attention: causal, grouped-query, scale 1/sqrt(HD), over n_spans sequences
     * (spans is a backend copy of the table). q, out (Tq,H,HD); k, v (rows,KVH,HD).
     * lse (Tq,H) receives log-sum-exp of the scaled scores for the backward (NULL when no
     * backward will follow). */
    void (*attn_fwd)(void *out, float *lse, const void *q, const void *k, const void *v,
                     const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H,
                     int64_t KVH, int64_t HD);
    /* dq (Tq,H,HD) overwritten; dk, dv (rows,KVH,HD) accumulated (caller zeroes them). */
    void (*attn_bwd)(void *dq, void *dk, void *dv, const void *dout, const void *q,
                     const void *k, const void *v, const void *out, const float *lse,
                     const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H,
                     int64_t KVH, int64_t HD);

    /* ---- output layer */
    /* For each row t with targets[t] >= 0: loss[t] = lse(logits[t]) - logits[t][target];
     * rows with target < 0 get loss 0. lse (T) fp32 is kept for the backward. */
    void (*xent_fwd)(float *loss, float *lse, const void *logits, const int32_t *targets,
                     int64_t T, int64_t V);
    /* dlogits (T,V) = dloss[t] * (softmax(logits[t]) - onehot(target)); rows with target
     * < 0 or dloss 0 become 0. dlogits may alias logits (computed in place). */
    void (*xent_bwd)(void *dlogits, const void *logits, const float *lse,
                     const int32_t *targets, const float *dloss, int64_t T, int64_t V);
    /* ids (T) = argmax over each row of logits (T,V), lowest index on ties (torch.argmax). */
    void (*argmax)(int32_t *ids, const void *logits, int64_t T, int64_t V);

    /* ---- vocabulary-parallel variants (DESIGN §3, Megatron-LM's VocabParallelEmbedding
     * and vocab_parallel_cross_entropy): this rank holds rows [v0, v0 + V) of the
     * vocabulary, so table, logits and dlogits have V (the slice's) columns or rows, and
     * ids / targets stay global. The worker combines the per-rank results over tp. With
     * v0 = 0 and V the whole vocabulary they agree with the ops above. */
    /* out (T,D) = table[ids[t] - v0] when v0 <= ids[t] < v0 + V, else 0 (the other ranks
     * hold that row; an all-reduce sum over tp completes the lookup). table (V,D). */
    void (*embed_slice_fwd)(void *out, const int32_t *ids, const void *table, int64_t T,
                            int64_t D, int64_t v0, int64_t V);
    /* Per row of logits (T,V): lse[t] = log-sum-exp of the row (this slice only) and
     * tgt[t] = logits[t][targets[t] - v0] when the target lies in the slice, else 0. */
    void (*xent_slice_fwd)(float *lse, float *tgt, const void *logits, const int32_t *targets,
                           int64_t T, int64_t V, int64_t v0);
    /* dlogits (T,V) = dloss[t] * (exp(logits[t] - lse[t]) - onehot(targets[t] - v0)),
     * lse the log-sum-exp over the whole vocabulary; the onehot term only where the target
     * lies in the slice. Rows with target < 0 or dloss 0 become 0. dlogits may alias
     * logits. */
    void (*xent_slice_bwd)(void *dlogits, const void *logits, const float *lse,
                           const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                           int64_t v0);
    /* Per row of logits (T,V): val[t] = the largest logit and ids[t] = v0 + its column,
     * lowest column on ties (as argmax). */
    void (*argmax_slice)(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                         int64_t v0);

    /* ---- entropy of the next-token distributions (the tent / eata / come objectives,
     * worker/method_*.c). Each row of logits (T,V) is extended by one constant logit
     * `extra` (-INFINITY: none) and q = softmax of the extended row; H = -sum q log q over
     * all V + 1 entries. extra = -INFINITY gives the softmax entropy (Tent, Wang et al.
     * 2021, Eqn. 2); extra = log V gives the entropy of COME's Dirichlet opinion
     * (Zhang et al. 2025: evidence e = exp(z), belief e_k / (sum e + V), uncertainty
     * mass V / (sum e + V)), whose beliefs and mass are exactly that extended softmax. */
    /* ent[t] = H of row t and lse[t] = log-sum-exp of the extended row (kept for the
     * backward), computed relative to the row max (no overflow, no cancellation of large
     * logits); rows with mask[t] == 0 are skipped and get ent = lse = 0. */
    void (*entropy_fwd)(float *ent, float *lse, const void *logits, const int32_t *mask,
                        float extra, int64_t T, int64_t V);
    /* dlogits (T,V) = dent[t] * dH/dz = -dent[t] q_j (log q_j + H) from the lse and ent of
     * entropy_fwd (same extra). radial != 0 removes the component along z of each row's
     * gradient: the gradient of H(z / |z| * sg(|z|)), COME's conservative constraint
     * (the logit norm cannot change, which bounds the uncertainty mass from below).
     * Rows with dent 0 become 0. dlogits may alias logits (computed in place). */
    void (*entropy_bwd)(void *dlogits, const void *logits, const float *lse, const float *ent,
                        const float *dent, float extra, int radial, int64_t T, int64_t V);

    /* ---- optimizer (fp32) */
    /* *out (host) = sum of x[i]^2 over n, accumulated in double; synchronizes. */
    void (*sumsq)(double *out, const float *x, int64_t n);
    /* x (n) *= s. */
    void (*scale)(float *x, float s, int64_t n);
    /* torch.optim.AdamW step t (1-based) on p with gradient g and moments m, v. The
     * hyper-parameters are doubles, as torch's Python floats are: the step factors
     * (1 - beta2, bias corrections) are formed in double and rounded once. */
    void (*adamw)(float *p, const float *g, float *m, float *v, int64_t n, double lr,
                  double beta1, double beta2, double eps, double weight_decay, int64_t t);
} Ops;

/* The CPU backend (always built). */
const Ops *ops_cpu(void);

/* The CUDA backend on local device `device`, or NULL with err filled when tlm was built
 * without CUDA or no usable device exists. */
const Ops *ops_cuda(int device, Err *err);

/* "cpu", "cuda" or "auto" (cuda when a device is usable, else cpu). */
const Ops *ops_select(const char *name, int device, Err *err);

#ifdef __cplusplus
}
#endif
#endif
