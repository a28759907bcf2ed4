/* kernels/cuda/attention_decode.cu -- flash-decoding: attention forward for decode
 * calls (one query row per span, a long KV cache), split over the context so that a
 * batch of 1 still fills the GPU. Grid (S splits, KVH, spans): a block reads its split
 * of one kv head's keys once, in tiles of ATT_BK, for every query head of that group
 * (GQA: the H / KVH heads share one K/V read), each warp owning heads w, w + DEC_WARPS,
 * with the lane-per-key online softmax of the simple kernel; it writes per split the
 * running max, sum and unnormalized P V (fp32) to a workspace, and a second kernel
 * merges the S splits of each (row, head) into out and lse. S adapts to the batch
 * (about two blocks per SM); each span's keys are cut into S equal parts on the device,
 * since the host does not know the lengths. The workspace is the context's scratch
 * (grown when needed, outside any graph capture). Taken for HD <= 256 when every span
 * has one query row (Tq == n_spans); TLM_CUDA_KERNELS=simple keeps the simple kernel. */
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_tc.cuh"

#define DEC_WARPS 4
#define DEC_MAX_G 16 /* query heads per kv head: DEC_WARPS x 4 */
#define DEC_SMS_TARGET 264

template <int NE>
__global__ void __launch_bounds__(DEC_WARPS * 32, 1)
    attn_decode_split_kernel(float *part, const bf16 *q, const bf16 *k, const bf16 *v,
                             const SeqSpan *spans, int64_t H, int64_t KVH, int HD,
                             float scale_log2) {
    extern __shared__ __align__(16) unsigned char dec_smem[];
    const int HDP = HD + ATT_PAD, G = (int)(H / KVH), S = (int)gridDim.x;
    float *qs = reinterpret_cast<float *>(dec_smem);  /* (G, HD) */
    bf16 *ks = reinterpret_cast<bf16 *>(qs + G * HD); /* (ATT_BK, HDP) */
    bf16 *vs = ks + ATT_BK * HDP;
    const SeqSpan sp = spans[blockIdx.z];
    const int64_t g = blockIdx.y;
    const int split = blockIdx.x, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    for (int r = 0; r < sp.q_len; r++) { /* one row in decoding; more stay correct */
        const int64_t qrow = sp.q_start + r, n_keys = (int64_t)sp.pos0 + r + 1;
        /* 32-bit: positions < 2^26 (the rope tables end far sooner), and a 64-bit
         * division would be a call */
        const unsigned nk = (unsigned)n_keys;
        const int64_t k_begin = nk * (unsigned)split / (unsigned)S;
        const int64_t k_end = nk * (unsigned)(split + 1) / (unsigned)S;
        __syncthreads(); /* the previous row's q is no longer read */
        for (int i = tid; i < G * HD; i += blockDim.x)
            qs[i] = ld_bf(q, (qrow * H + g * G + i / HD) * HD + i % HD) * scale_log2;
        float m[DEC_MAX_G / DEC_WARPS], l[DEC_MAX_G / DEC_WARPS];
        float acc[DEC_MAX_G / DEC_WARPS][NE];
#pragma unroll
        for (int j = 0; j < DEC_MAX_G / DEC_WARPS; j++) {
            m[j] = -INFINITY;
            l[j] = 0.0f;
#pragma unroll
            for (int e = 0; e < NE; e++)
                acc[j][e] = 0.0f;
        }
        for (int64_t key0 = k_begin; key0 < k_end; key0 += ATT_BK) {
            __syncthreads();
            att_load_tile(ks, k, sp.kv_start, key0, k_end, KVH, g, HD, tid, blockDim.x);
            att_load_tile(vs, v, sp.kv_start, key0, k_end, KVH, g, HD, tid, blockDim.x);
            __syncthreads();
            const bool visible = key0 + lane < k_end;
#pragma unroll
            for (int j = 0; j < DEC_MAX_G / DEC_WARPS; j++) {
                const int hh = warp + j * DEC_WARPS; /* head within the group */
                if (hh >= G)
                    continue; /* warp-uniform; a continue keeps the unrolled indices static */
                const float s = visible ? att_dot(qs + hh * HD, ks + lane * HDP, HD) : -INFINITY;
                const float m_new = fmaxf(m[j], warp_max(s));
                const float pr = visible ? exp2f(s - m_new) : 0.0f;
                const float corr = exp2f(m[j] - m_new);
                l[j] = l[j] * corr + warp_sum(pr);
                m[j] = m_new;
#pragma unroll
                for (int e = 0; e < NE; e++)
                    acc[j][e] *= corr;
#pragma unroll 4
                for (int jj = 0; jj < ATT_BK; jj++) {
                    const float pj = __shfl_sync(0xffffffffu, pr, jj);
                    if (pj == 0.0f)
                        continue; /* warp-uniform */
#pragma unroll
                    for (int e = 0; e < NE; e++) {
                        const int d = lane + 32 * e;
                        if (d < HD)
                            acc[j][e] += pj * __bfloat162float(vs[jj * HDP + d]);
                    }
                }
            }
        }
        /* this split's state: m, l, then HD unnormalized sums (m = -inf when empty) */
#pragma unroll
        for (int j = 0; j < DEC_MAX_G / DEC_WARPS; j++) {
            const int hh = warp + j * DEC_WARPS;
            if (hh >= G)
                continue;
            float *o = part + ((qrow * H + g * G + hh) * S + split) * (int64_t)(HD + 2);
            if (lane == 0) {
                o[0] = m[j];
                o[1] = l[j];
            }
#pragma unroll
            for (int e = 0; e < NE; e++) {
                const int d = lane + 32 * e;
                if (d < HD)
                    o[2 + d] = acc[j][e];
            }
        }
    }
}

/* One warp per (row, head) of each span: merges the S split states. */
__global__ void attn_decode_merge_kernel(bf16 *out, float *lse, const float *part,
                                         const SeqSpan *spans, int64_t H, int HD, int S) {
    const SeqSpan sp = spans[blockIdx.y];
    const int64_t h = blockIdx.x;
    const int lane = threadIdx.x;
    for (int r = 0; r < sp.q_len; r++) {
        const int64_t qrow = sp.q_start + r;
        const float *p = part + (qrow * H + h) * S * (int64_t)(HD + 2);
        float M = -INFINITY;
        for (int s = 0; s < S; s++)
            M = fmaxf(M, p[s * (HD + 2)]);
        float L = 0.0f;
        for (int s = 0; s < S; s++) {
            const float ms = p[s * (HD + 2)];
            L += ms == -INFINITY ? 0.0f : p[s * (HD + 2) + 1] * exp2f(ms - M);
        }
        for (int d = lane; d < HD; d += 32) {
            float a = 0.0f;
            for (int s = 0; s < S; s++) {
                const float ms = p[s * (HD + 2)];
                if (ms != -INFINITY)
                    a += p[s * (HD + 2) + 2 + d] * exp2f(ms - M);
            }
            out[(qrow * H + h) * HD + d] = to_bf(a / L);
        }
        if (lse != NULL && lane == 0)
            lse[qrow * H + h] = (M + log2f(L)) * ATT_LN2;
    }
}

#ifndef TLM_CUDA_HOST_EMU /* the launches: not in the host emulator */
template <int NE>
static void launch_split(CudaCtx *ctx, dim3 grid, size_t smem, float *part, const bf16 *q,
                         const bf16 *k, const bf16 *v, const SeqSpan *spans, int64_t H,
                         int64_t KVH, int HD, float scale_log2) {
    CUDA_CHECK_FATAL(cudaFuncSetAttribute(attn_decode_split_kernel<NE>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)smem));
    attn_decode_split_kernel<NE><<<grid, DEC_WARPS * 32, smem, ctx->stream>>>(
        part, q, k, v, spans, H, KVH, HD, scale_log2);
}

int attn_fwd_decode(void *out, float *lse, const void *q, const void *k, const void *v,
                    const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                    int64_t HD) {
    CudaCtx *ctx = cuda_ctx();
    if (ctx->simple_kernels || Tq != n_spans || H / KVH > DEC_MAX_G)
        return 0;
    const int64_t blocks = KVH * n_spans;
    const int S = (int)max((int64_t)1, min((int64_t)32, DEC_SMS_TARGET / blocks));
    const size_t part_bytes = (size_t)(Tq * H * S * (HD + 2)) * sizeof(float);
    float *part = (float *)cuda_scratch(ctx, part_bytes);
    const dim3 grid((unsigned)S, (unsigned)KVH, (unsigned)n_spans);
    const size_t smem = (size_t)(H / KVH) * (size_t)HD * sizeof(float) + 2 * att_tile_bytes(HD);
    const float scale_log2 = ATT_LOG2E / sqrtf((float)HD);
    const bf16 *qb = (const bf16 *)q, *kb = (const bf16 *)k, *vb = (const bf16 *)v;
    const int hd = (int)HD;
    switch (att_dims_per_lane(HD)) {
    case 1:
        launch_split<1>(ctx, grid, smem, part, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    case 2:
        launch_split<2>(ctx, grid, smem, part, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    case 4:
        launch_split<4>(ctx, grid, smem, part, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    default:
        launch_split<8>(ctx, grid, smem, part, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    }
    attn_decode_merge_kernel<<<dim3((unsigned)H, (unsigned)n_spans), 32, 0, ctx->stream>>>(
        (bf16 *)out, lse, part, spans, H, hd, S);
    cuda_op_done(ctx, "attn_fwd (flash-decoding)");
    return 1;
}
#endif
