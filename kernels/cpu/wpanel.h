/* kernels/cpu/wpanel.h -- a frozen weight's rows as fp32 panels, one function per storage
 * format: what the one blocked matmul driver (wmatmul.c) multiplies. fp32 weights are
 * their own panel (no copy); bf16 is widened and the block formats dequantized into the
 * caller's panel, a block at a time, to exactly the floats io/base/quant.c's
 * quant_dequantize gives (AVX-512 decoders for bf16, Q8_0, Q4_0, Q4_1 and NF4 where the CPU
 * has it, compiled without FMA contraction; the K formats decode in plain C). Pure; safe
 * from any thread. */
#ifndef TLM_KERNELS_CPU_WPANEL_H
#define TLM_KERNELS_CPU_WPANEL_H

#include <stdint.h>

#include "kernels/ops.h"

/* Rows [n0, n0 + n_rows) x columns [k0, k0 + kn) of w (N, K; in its format) as fp32:
 * returns element (n0, k0) with row stride *ld, either inside w (fp32) or in panel
 * (n_rows x wpanel_ld(f, kn) floats, written). k0 is a multiple of the format's block;
 * columns past K (a padded tail block) decode to 0. */
typedef const float *(*WPanelFn)(const void *w, int64_t K, int64_t n0, int n_rows,
                                 int64_t k0, int64_t kn, float *panel, int64_t *ld);

/* The panel function of format f: the AVX-512 one when fast != 0 and it exists. */
WPanelFn cpu_wpanel_fn(WeightFormat f, int fast);

/* The row stride of a decoded panel kn columns wide: kn rounded up to whole blocks. */
int64_t cpu_wpanel_ld(WeightFormat f, int64_t kn);

/* The AVX-512 decoders (wpanel_avx512.c): n_blocks whole blocks from src into dst. */
void cpu_decode_bf16_avx512(const void *src, float *dst, int64_t n_elems);
void cpu_decode_q8_0_avx512(const void *src, float *dst, int64_t n_blocks);
void cpu_decode_q4_0_avx512(const void *src, float *dst, int64_t n_blocks);
void cpu_decode_q4_1_avx512(const void *src, float *dst, int64_t n_blocks);
void cpu_decode_nf4_avx512(const void *src, float *dst, int64_t n_blocks);

#endif
