/* kernels/cuda/attention_tc.cuh -- private to kernels/cuda: the fast attention kernels,
 * tried first by the op: tensor cores for prefill and training (attention_fwd_tc.cu) and
 * for the backward (attention_bwd_tc.cu), flash-decoding for one query per span
 * (attention_decode.cu). Each returns 1 when it ran and 0 when the shapes or
 * TLM_CUDA_KERNELS=simple leave the call to the simple kernel. */
#ifndef TLM_KERNELS_CUDA_ATTENTION_TC_CUH
#define TLM_KERNELS_CUDA_ATTENTION_TC_CUH

#include "kernels/cuda/cuda_common.cuh"

int attn_fwd_tc(void *out, float *lse, const void *q, const void *k, const void *v,
                const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                int64_t HD);

int attn_fwd_decode(void *out, float *lse, const void *q, const void *k, const void *v,
                    const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                    int64_t HD);

int attn_bwd_tc(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                const void *v, const void *out, const float *lse, const SeqSpan *spans,
                int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH, int64_t HD);

#endif
