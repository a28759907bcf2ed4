/* kernels/cpu/matmul_avx512.h -- AVX-512 kernels over an fp32 panel of weights: the inner
 * loops of the one blocked weight-matmul driver (wmatmul.c), which hands them either the
 * fp32 weights themselves or a panel it decoded from bf16 or a block format (wpanel.h).
 * fp32 FMAs, fp32 accumulation. Only call when cpu_avx512_usable() says the CPU has
 * AVX-512 F, BW and VL. Calls touch disjoint outputs when their panels' rows (forward) or
 * columns (backward) are disjoint, so threads may run them at once. */
#ifndef TLM_KERNELS_CPU_MATMUL_AVX512_H
#define TLM_KERNELS_CPU_MATMUL_AVX512_H

#include <stdint.h>

/* 1 when this CPU (and OS) runs the kernels below. */
int cpu_avx512_usable(void);

/* out (M, n_rows; row stride ldo) (+)= x (M, kn; stride ldx) . w^T, w (n_rows, kn; stride
 * ldw) fp32; beta 0 overwrites, 1 accumulates. */
void cpu_avx512_fwd_panel(float *out, int64_t ldo, const float *x, int64_t ldx,
                          const float *w, int64_t ldw, int64_t M, int n_rows, int64_t kn,
                          float beta);

/* The same (n_rows <= 64, any kn) as an outer product over the panel transposed, 256
 * columns at a time, on the stack (matmul_outer_avx512.c): what the driver runs when
 * M >= CPU_OUTER_MIN_ROWS, where the transpose is paid back by enough x rows sharing it. */
void cpu_avx512_fwd_outer_panel(float *out, int64_t ldo, const float *x, int64_t ldx,
                                const float *w, int64_t ldw, int64_t M, int n_rows, int64_t kn,
                                float beta);

#define CPU_OUTER_MIN_ROWS 16

/* dx (M, kc <= 64; stride ldx) (+)= dy (M, n_rows; stride ldy) . w (n_rows, kc; stride
 * ldw) fp32; beta 0 overwrites, 1 accumulates. */
void cpu_avx512_bwd_panel(float *dx, int64_t ldx, const float *dy, int64_t ldy,
                          const float *w, int64_t ldw, int64_t M, int64_t n_rows, int64_t kc,
                          float beta);

#endif
