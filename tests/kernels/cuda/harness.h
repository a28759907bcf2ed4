/* tests/kernels/cuda/harness.h -- the CUDA-vs-CPU op comparison harness of test_ops_cuda.
 * A Dual is one logical buffer allocated on both backends and filled with the same
 * values; an op runs once per backend and check() downloads both results and compares
 * the CUDA one against the CPU one (the reference). Inputs are drawn bf16-representable,
 * so both backends see identical values and every difference comes from the CUDA
 * backend's bf16 outputs and fp32 accumulation order.
 *
 * Tolerances (stated once, used by every case):
 *   TOL_BF16     bf16 outputs: ||got - want|| / ||want|| <= 1e-2, and elementwise
 *                |got - want| <= 2e-2 |want| + 2e-2 rms(want) (bf16 eps = 2^-8, one or
 *                two roundings plus fp32 accumulation in a different order).
 *   TOL_BF16_BWD attention backward (recomputed softmax, dP - rowsum(dO O) cancels):
 *                norm 2e-2, elementwise 5e-2 |want| + 5e-2 rms(want).
 *   TOL_F32      fp32 outputs computed from identical inputs (lse, loss, LoRA h and
 *                gradients, rstd): norm 1e-5, elementwise 1e-4 |want| + 1e-4 rms(want).
 *   TOL_OPT      AdamW state after several steps: norm 1e-6, elementwise 1e-5 |want| +
 *                1e-6 rms(want) (only FMA contraction differs).
 *   TOL_EXACT    copies, gathers, token ids: equal. */
#ifndef TLM_TESTS_CUDA_HARNESS_H
#define TLM_TESTS_CUDA_HARNESS_H

#include <stdint.h>

#include "kernels/ops.h"

typedef enum BufKind { BUF_ELEM, BUF_F32, BUF_I32 } BufKind;

typedef struct Dual {
    void *c;  /* CPU backend buffer */
    void *g;  /* CUDA backend buffer (device) */
    int64_t n; /* elements */
    BufKind kind;
} Dual;

typedef struct Tol {
    double rel_norm; /* bound on ||got - want|| / ||want|| */
    double rtol;     /* elementwise, relative to |want| */
    double atol_rms; /* elementwise absolute part, relative to rms(want) */
} Tol;

#define TOL_BF16 ((Tol){1e-2, 2e-2, 2e-2})
#define TOL_BF16_BWD ((Tol){2e-2, 5e-2, 5e-2})
#define TOL_F32 ((Tol){1e-5, 1e-4, 1e-4})
#define TOL_OPT ((Tol){1e-6, 1e-5, 1e-6})
#define TOL_EXACT ((Tol){0, 0, 0})

/* The two backends under comparison (set by main before any case runs). */
extern const Ops *h_cpu, *h_gpu;

/* Deterministic random numbers (xorshift64*); h_seed restarts the sequence. */
void h_seed(uint64_t seed);
float h_uniform(float lo, float hi);
/* n bf16-representable values uniform in [lo, hi) (owned-after-return). */
float *h_rand(int64_t n, float lo, float hi);
/* Random int32 in [lo, hi) (owned-after-return). */
int32_t *h_rand_ids(int64_t n, int32_t lo, int32_t hi);
/* Rounds x to the nearest bf16 value. */
float h_round_bf16(float x);

/* Allocates the buffer on both backends; host (float* for ELEM/F32, int32_t* for I32;
 * borrowed) fills both, NULL leaves them zero. */
Dual dual_new(BufKind kind, int64_t n, const void *host);
void dual_set(const Dual *d, const void *host);
/* Fills both sides with 0xFF bytes (NaN in bf16 and fp32, -1 in int32): an output an op
 * promises to overwrite must not keep any of it. */
void dual_poison(const Dual *d);
void dual_free(Dual *d);
/* Host fp32 copy of one side (gpu != 0: the CUDA one); owned-after-return. I32
 * buffers come back converted to float (exact below 2^24). */
float *dual_get(const Dual *d, int gpu);

/* Compares the CUDA side of d with its CPU side (first n elements, n < 0: all);
 * prints one line; returns 1 on failure, 0 on success. */
int check(const char *label, const Dual *d, int64_t n, Tol tol);
/* The same for two host arrays. */
int check_host(const char *label, const float *got, const float *want, int64_t n, Tol tol);

/* The cases, each returning its number of failed checks. */
int cases_memory(void);
int cases_matmul(void);
int cases_lora(void);
int cases_lora_rows(void); /* cases_lora_rows.c */
int cases_norm_rope(void);
int cases_elementwise(void);
/* add + RMSNorm, RMSNorm backward into fp32, RoPE on q and k (cases_fused.c); main runs
 * them in both kernel families. */
int cases_fused(void);
int cases_attention(void);
/* Llama-3-8B's attention (T 2048, H 32, KVH 8, HD 128); skipped under
 * TLM_OPS_TEST_SIZES=small (the sanitizer runs). */
int cases_attention_llama(void);
/* matmul, RMSNorm, RoPE, SwiGLU, cross-entropy and argmax at Llama-3-8B sizes
 * (cases_llama.c); skipped under TLM_OPS_TEST_SIZES=small. */
int cases_llama_dense(void);
int cases_xent_argmax(void);
int cases_entropy(void); /* cases_entropy.c */
int cases_vocab_slice(void); /* cases_vocab_slice.c */
int cases_optim(void);
/* block-format weights in both kernel families (cases_quant.c) */
int cases_quant(void);
/* the step graph and the pinned asynchronous copies (cases_graph.c); main runs it with
 * the fast kernels (graphs are off under TLM_CUDA_KERNELS=simple) */
int cases_graph(void);

#endif
