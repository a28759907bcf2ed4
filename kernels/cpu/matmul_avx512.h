/* kernels/cpu/matmul_avx512.h -- AVX-512 blocks of the few-row fp32 matmul (matmul.c) and
 * of the bf16-weight matmuls (weights.c), which drive them over threads. bf16 weights are
 * widened to fp32 in registers (a bf16 is the top half of an fp32) and multiplied by fp32
 * activations with fp32 FMAs: the rounding of the weights to bf16 at load is the only
 * precision lost. Only call when cpu_avx512_usable() says the CPU has AVX-512 F, BW and
 * VL. Blocks touch disjoint outputs, so threads may run different blocks at once. */
#ifndef TLM_KERNELS_CPU_MATMUL_AVX512_H
#define TLM_KERNELS_CPU_MATMUL_AVX512_H

#include <stdint.h>

/* 1 when this CPU (and OS) runs the kernels below. */
int cpu_avx512_usable(void);

/* Columns [n0, n0 + n_rows) (n_rows <= CPU_FWD_ROWS) of out (M,N) (+)= x (M,K) .
 * w (N,K)^T, w bf16 bits; beta 0 overwrites, 1 accumulates. */
void cpu_bf16_fwd_block(float *out, const float *x, const uint16_t *w, int64_t M, int64_t N,
                        int64_t K, int64_t n0, int n_rows, float beta);

/* Weight rows per forward block: 64 rows of K <= 4096 stay in a 512 KB L2. */
#define CPU_FWD_ROWS 64

/* The same with fp32 weights (the decode path of matmul_fwd: few rows of x). */
void cpu_f32_fwd_block(float *out, const float *x, const float *w, int64_t M, int64_t N,
                       int64_t K, int64_t n0, int n_rows, float beta);

/* The same two as an outer product over a transposed panel of the block's weights
 * (matmul_outer_avx512.c), what the two above run when M >= CPU_OUTER_MIN_ROWS: the
 * transpose costs a pass over the block per call, worth it once enough x rows share it. */
void cpu_f32_fwd_outer_block(float *out, const float *x, const float *w, int64_t M,
                             int64_t N, int64_t K, int64_t n0, int n_rows, float beta);
void cpu_bf16_fwd_outer_block(float *out, const float *x, const uint16_t *w, int64_t M,
                              int64_t N, int64_t K, int64_t n0, int n_rows, float beta);

#define CPU_OUTER_MIN_ROWS 16

/* Columns [k0, k0 + 64) (clipped to K) of dx (M,K) (+)= dy (M,N) . w (N,K), w bf16 bits;
 * beta 0 overwrites, 1 accumulates. */
void cpu_bf16_bwd_block(float *dx, const float *dy, const uint16_t *w, int64_t M, int64_t N,
                        int64_t K, int64_t k0, float beta);

/* The same with fp32 weights. */
void cpu_f32_bwd_block(float *dx, const float *dy, const float *w, int64_t M, int64_t N,
                       int64_t K, int64_t k0, float beta);

#define CPU_BF16_BWD_COLS 64

#endif
