/* kernels/cuda/attention_fwd.cu -- causal grouped-query attention forward over packed
 * spans (see attention.cuh for the tiling). Grid (query tiles, H, spans): a block takes
 * ATT_BQ query rows of one span and one head; ATT_WARPS warps each own every
 * ATT_WARPS-th of those rows (interleaved, so causal work is balanced) and walk the key
 * tiles 0 .. last visible key with an online softmax. Blocks whose tile starts past the
 * span's q_len exit at once (the host cannot read span lengths without a sync).
 * Decoding (q_len 1, long cache) here uses one warp per (span, head). Unless
 * TLM_CUDA_KERNELS=simple, head dims 64 and 128 outside decoding go to the tensor-core
 * kernel (attention_fwd_tc.cu) and decode calls to flash-decoding (attention_decode.cu):
 * this kernel is their reference. Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_tc.cuh"

#define ROWS_PER_WARP (ATT_BQ / ATT_WARPS)

template <int NE>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attn_fwd_kernel(bf16 *out, float *lse, const bf16 *q, const bf16 *k, const bf16 *v,
                    const SeqSpan *spans, int64_t H, int64_t KVH, int HD, float scale_log2) {
    extern __shared__ __align__(16) unsigned char att_smem[];
    const int HDP = HD + ATT_PAD;
    float *qs = reinterpret_cast<float *>(att_smem);                /* (ATT_BQ, HD) */
    bf16 *ks = reinterpret_cast<bf16 *>(qs + ATT_BQ * HD);          /* (ATT_BK, HDP) */
    bf16 *vs = ks + ATT_BK * HDP;                                   /* (ATT_BK, HDP) */

    const SeqSpan sp = spans[blockIdx.z];
    const int64_t h = blockIdx.y, g = h / (H / KVH);
    const int64_t qi0 = (int64_t)blockIdx.x * ATT_BQ;
    if (qi0 >= sp.q_len)
        return;
    const int n_rows = (int)min((int64_t)ATT_BQ, (int64_t)sp.q_len - qi0);
    const int64_t n_keys = (int64_t)sp.pos0 + qi0 + n_rows; /* keys the last row sees */
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    /* q rows, pre-scaled into log2 units; rows past the span are zeros (never used). */
    for (int i = tid; i < ATT_BQ * HD; i += blockDim.x) {
        const int r = i / HD, d = i % HD;
        qs[i] = r < n_rows ? ld_bf(q, ((sp.q_start + qi0 + r) * H + h) * HD + d) * scale_log2
                           : 0.0f;
    }
    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], acc[ROWS_PER_WARP][NE];
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int e = 0; e < NE; e++)
            acc[r][e] = 0.0f;
    }

    for (int64_t key0 = 0; key0 < n_keys; key0 += ATT_BK) {
        __syncthreads(); /* the previous tile is no longer read */
        att_load_tile(ks, k, sp.kv_start, key0, n_keys, KVH, g, HD, tid, blockDim.x);
        att_load_tile(vs, v, sp.kv_start, key0, n_keys, KVH, g, HD, tid, blockDim.x);
        __syncthreads();
#pragma unroll
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            const int row = warp + r * ATT_WARPS;
            if (row >= n_rows)
                continue;
            const int64_t p = (int64_t)sp.pos0 + qi0 + row; /* this query's position */
            if (key0 > p)
                continue; /* the whole tile is in this row's future */
            const bool visible = key0 + lane <= p;
            const float s = visible ? att_dot(qs + row * HD, ks + lane * HDP, HD) : -INFINITY;
            const float m_new = fmaxf(m[r], warp_max(s));
            const float pr = visible ? exp2f(s - m_new) : 0.0f;
            const float corr = exp2f(m[r] - m_new); /* 0 on the first tile (m = -inf) */
            l[r] = l[r] * corr + warp_sum(pr);
            m[r] = m_new;
#pragma unroll
            for (int e = 0; e < NE; e++)
                acc[r][e] *= corr;
#pragma unroll 4
            for (int j = 0; j < ATT_BK; j++) {
                const float pj = __shfl_sync(0xffffffffu, pr, j);
                if (pj == 0.0f)
                    continue; /* warp-uniform: pj is the same in every lane */
#pragma unroll
                for (int e = 0; e < NE; e++) {
                    const int d = lane + 32 * e;
                    if (d < HD)
                        acc[r][e] += pj * __bfloat162float(vs[j * HDP + d]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        const int row = warp + r * ATT_WARPS;
        if (row >= n_rows)
            continue;
        const int64_t qrow = sp.q_start + qi0 + row;
        const float inv_l = 1.0f / l[r];
#pragma unroll
        for (int e = 0; e < NE; e++) {
            const int d = lane + 32 * e;
            if (d < HD)
                out[(qrow * H + h) * HD + d] = to_bf(acc[r][e] * inv_l);
        }
        if (lse != NULL && lane == 0)
            lse[qrow * H + h] = (m[r] + log2f(l[r])) * ATT_LN2;
    }
}

template <int NE>
static void launch_fwd(CudaCtx *ctx, dim3 grid, size_t smem, bf16 *out, float *lse,
                       const bf16 *q, const bf16 *k, const bf16 *v, const SeqSpan *spans,
                       int64_t H, int64_t KVH, int HD, float scale_log2) {
    CUDA_CHECK_FATAL(cudaFuncSetAttribute(attn_fwd_kernel<NE>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)smem));
    attn_fwd_kernel<NE><<<grid, ATT_WARPS * 32, smem, ctx->stream>>>(out, lse, q, k, v, spans,
                                                                      H, KVH, HD, scale_log2);
}

void cuda_attn_fwd(void *out, float *lse, const void *q, const void *k, const void *v,
                   const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                   int64_t HD) {
    if (n_spans <= 0 || Tq <= 0 || H <= 0)
        return;
    att_check("attn_fwd", H, KVH, HD);
    if (attn_fwd_tc(out, lse, q, k, v, spans, n_spans, Tq, H, KVH, HD) ||
        attn_fwd_decode(out, lse, q, k, v, spans, n_spans, Tq, H, KVH, HD))
        return; /* a fast kernel took it (attention_fwd_tc.cu, attention_decode.cu) */
    CudaCtx *ctx = cuda_ctx();
    const dim3 grid((unsigned)((Tq + ATT_BQ - 1) / ATT_BQ), (unsigned)cuda_int(H, "attn H"),
                    (unsigned)n_spans);
    const size_t smem = (size_t)ATT_BQ * (size_t)HD * sizeof(float) + 2 * att_tile_bytes(HD);
    const float scale_log2 = ATT_LOG2E / sqrtf((float)HD);
    bf16 *o = (bf16 *)out;
    const bf16 *qb = (const bf16 *)q, *kb = (const bf16 *)k, *vb = (const bf16 *)v;
    const int hd = (int)HD;
    switch (att_dims_per_lane(HD)) {
    case 1:
        launch_fwd<1>(ctx, grid, smem, o, lse, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    case 2:
        launch_fwd<2>(ctx, grid, smem, o, lse, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    case 4:
        launch_fwd<4>(ctx, grid, smem, o, lse, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    default:
        launch_fwd<8>(ctx, grid, smem, o, lse, qb, kb, vb, spans, H, KVH, hd, scale_log2);
        break;
    }
    cuda_op_done(ctx, "attn_fwd");
}
