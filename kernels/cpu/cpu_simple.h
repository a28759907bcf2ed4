/* kernels/cpu/cpu_simple.h -- the simple twins of the CPU backend's fast kernels. Each fast
 * op (vectorized, multi-versioned, blocked) keeps here the plain loop it replaced, with the
 * same contract as its ops_list.h entry; tests/kernels/cpu/test_ops_cpu_fast.c checks every
 * fast op against its twin. Not in the op table: the backend runs the fast ones. */
#ifndef TLM_KERNELS_CPU_CPU_SIMPLE_H
#define TLM_KERNELS_CPU_CPU_SIMPLE_H

#include <stdint.h>

#include "kernels/ops.h"

/* vocab_simple.c: the embedding's rows decoded whole by the plain-C panel decoders
 * (wpanel.h); libm expf per element, the sum in double */
void cpu_embed_fwd_simple(void *out, const int32_t *ids, Weight table, int64_t T, int64_t D,
                          int64_t v0, int64_t V);
void cpu_xent_fwd_simple(float *lse, float *tgt, const void *logits, const int32_t *targets,
                         int64_t T, int64_t V, int64_t v0);
void cpu_xent_bwd_simple(void *dlogits, const void *logits, const float *lse,
                         const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                         int64_t v0);
void cpu_argmax_simple(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                       int64_t v0);

/* matmul.c: the few-row forward (M <= 8, decode) as one dot product per output. */
void cpu_matmul_few_rows_simple(float *out, const float *x, const float *w, int64_t M,
                                int64_t N, int64_t K, float beta);

/* matmul.c: OpenBLAS sgemm, the reference of the AVX-512 many-row products and what runs
 * without AVX-512. beta 0 overwrites, 1 accumulates. */
void cpu_matmul_fwd_blas(float *out, const float *x, const float *w, int64_t M, int64_t N,
                         int64_t K, float beta);
void cpu_matmul_bwd_blas(float *dx, const float *dy, const float *w, int64_t M, int64_t N,
                         int64_t K, float beta);

/* wmatmul.c: a frozen weight in any format (kernels/ops.h Weight), one row decoded at a
 * time by plain C (to the floats io/base/quant.h's quant_dequantize gives), one dot product
 * (forward) or axpy (backward) per output, fp32 sums; the reference of the blocked driver.
 * beta 0 overwrites, 1 accumulates. */
void cpu_wmatmul_fwd_simple(float *out, const float *x, Weight w, int64_t M, int64_t N,
                            int64_t K, float beta);
void cpu_wmatmul_bwd_simple(float *dx, const float *dy, Weight w, int64_t M, int64_t N,
                            int64_t K, float beta);

/* lora_rows.c: multi-adapter LoRA as plain loops in row order (each row through its own
 * adapter; the op runs each run of one adapter's rows through lora_fwd / lora_bwd). */
void cpu_lora_rows_fwd_simple(void *y, float *h, const void *x, const float *a,
                              const float *b, const int32_t *adapter, int32_t n_adapters,
                              float scale, int64_t M, int64_t N, int64_t K, int64_t R);
void cpu_lora_rows_bwd_simple(float *da, float *db, void *dx, float *dh, const void *dy,
                              const void *x, const float *h, const float *a, const float *b,
                              const int32_t *adapter, int32_t n_adapters, float scale,
                              int64_t M, int64_t N, int64_t K, int64_t R);

#endif
