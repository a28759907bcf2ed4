/* kernels/cpu/wmatmul.h -- the one blocked driver of the frozen-weight matmuls (wmatmul.c),
 * for every WeightFormat: slices of W over OpenMP threads, each turned into fp32 panels
 * (wpanel.h) and multiplied by the AVX-512 panel kernels (fast != 0; only when
 * cpu_avx512_usable()) or their plain-C twins. And the simple twins: one row decoded at a
 * time, one dot product (or axpy) per output, the reference the driver is tested against
 * (cpu_simple.h lists them with the others). beta 0 overwrites, 1 accumulates; M, N, K > 0.
 * Never call from inside an OpenMP region. */
#ifndef TLM_KERNELS_CPU_WMATMUL_H
#define TLM_KERNELS_CPU_WMATMUL_H

#include <stdint.h>

#include "kernels/ops.h"

/* out (M,N) (+)= x (M,K) . w (N,K)^T, x and out fp32. */
void cpu_wmm_fwd(float *out, const float *x, Weight w, int64_t M, int64_t N, int64_t K,
                 float beta, int fast);
/* dx (M,K) (+)= dy (M,N) . w (N,K). */
void cpu_wmm_bwd(float *dx, const float *dy, Weight w, int64_t M, int64_t N, int64_t K,
                 float beta, int fast);

/* The decode-time forward of bf16, Q8_0, Q4_0 and Q4_1 (wmatmul.c's fused_ok) without a panel
 * (wmatmul_fused_avx512.c): out columns [n0, n0 + n_rows) (row stride ldo) (+)= x (M <= 4,
 * K) . w rows [n0, n0 + n_rows)^T. Only when cpu_avx512_usable(). */
void cpu_avx512_fwd_fused(float *out, int64_t ldo, const float *x, int64_t K, const void *w,
                          WeightFormat f, int64_t n0, int n_rows, int64_t M, float beta);

#endif
