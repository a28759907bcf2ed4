/* kernels/cpu/cpu_simple.h -- the simple twins of the CPU backend's fast kernels. Each fast
 * op (vectorized, multi-versioned, blocked) keeps here the plain loop it replaced, with the
 * same contract as its ops_list.h entry; tests/kernels/cpu/test_ops_cpu_fast.c checks every
 * fast op against its twin. Not in the op table: the backend runs the fast ones. */
#ifndef TLM_KERNELS_CPU_CPU_SIMPLE_H
#define TLM_KERNELS_CPU_CPU_SIMPLE_H

#include <stdint.h>

/* vocab_simple.c: libm expf per element, the sum in double */
void cpu_xent_fwd_simple(float *lse, float *tgt, const void *logits, const int32_t *targets,
                         int64_t T, int64_t V, int64_t v0);
void cpu_xent_bwd_simple(void *dlogits, const void *logits, const float *lse,
                         const int32_t *targets, const float *dloss, int64_t T, int64_t V,
                         int64_t v0);
void cpu_argmax_simple(float *val, int32_t *ids, const void *logits, int64_t T, int64_t V,
                       int64_t v0);

#endif
