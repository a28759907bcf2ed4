/* kernels/cuda/attention_fwd_tc.cu -- the fast attention forward: tensor cores
 * (mma.sync m16n8k16, bf16 in, fp32 accumulate) with FlashAttention-2 tiling. A block of
 * TC_WARPS warps takes TC_BQ = 16 x TC_WARPS query rows of one span and one head (each
 * warp 16 rows) and walks key tiles of TC_BK keys up to the last key its last row sees:
 * tiles wholly in every row's future are never loaded (causal skip), only the diagonal
 * tiles are masked. S = Q K^T stays in registers, the online softmax works on the
 * accumulator fragments, and P is re-packed in registers as the A operand of P V (no
 * shared round trip). Q, K, V tiles sit in shared memory, rows padded by 8 bf16 so the
 * fragment loads spread over the banks. Head dims 64 and 128 (template HD); everything
 * else, and the decode case (one query per span), goes to the simple kernel
 * (attention_fwd.cu), which stays the reference: TLM_CUDA_KERNELS=simple selects it
 * everywhere. The mma wrapper and fragment layouts: attention_mma.cuh. */
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/attention_tc.cuh"

#define TC_BQ (16 * TC_WARPS)
#define TC_BK 64

template <int HD>
__global__ void __launch_bounds__(TC_WARPS * 32)
    attn_fwd_tc_kernel(bf16 *out, float *lse, const bf16 *q, const bf16 *k, const bf16 *v,
                       const SeqSpan *spans, int64_t H, int64_t KVH, float scale_log2) {
    extern __shared__ __align__(16) unsigned char tc_smem[];
    constexpr int HDP = HD + TC_PAD, NO = HD / 8; /* output n-tiles */
    bf16 *qs = reinterpret_cast<bf16 *>(tc_smem); /* (TC_BQ, HDP) */
    bf16 *ks = qs + TC_BQ * HDP;                  /* (TC_BK, HDP) */
    bf16 *vs = ks + TC_BK * HDP;                  /* (TC_BK, HDP) */

    const SeqSpan sp = spans[blockIdx.z];
    const int64_t h = blockIdx.y, g = h / (H / KVH);
    const int64_t qi0 = (int64_t)blockIdx.x * TC_BQ;
    if (qi0 >= sp.q_len)
        return;
    const int n_rows = (int)min((int64_t)TC_BQ, (int64_t)sp.q_len - qi0);
    const int64_t n_keys = (int64_t)sp.pos0 + qi0 + n_rows; /* keys the last row sees */
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gr = lane >> 2, tq = lane & 3; /* fragment row group, thread in quad */

    tc_load<HD>(qs, q + ((sp.q_start + qi0) * H + h) * HD, 0, n_rows, TC_BQ, H * HD, tid);
    /* this thread's two rows (gr, gr + 8 of its warp's 16) and their positions */
    const int r_lo = warp * 16 + gr, r_hi = r_lo + 8;
    const int64_t p_lo = (int64_t)sp.pos0 + qi0 + r_lo, p_hi = p_lo + 8;
    float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;
    float o[NO][4];
#pragma unroll
    for (int n = 0; n < NO; n++)
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

    const bf16 *kg = k + (sp.kv_start * KVH + g) * HD, *vg = v + (sp.kv_start * KVH + g) * HD;
    for (int64_t key0 = 0; key0 < n_keys; key0 += TC_BK) {
        __syncthreads(); /* the previous tiles are no longer read (and Q is loaded) */
        tc_load<HD>(ks, kg, key0, n_keys - key0, TC_BK, KVH * HD, tid);
        tc_load<HD>(vs, vg, key0, n_keys - key0, TC_BK, KVH * HD, tid);
        __syncthreads();
        /* S (16 x TC_BK) = Q K^T, 8 n-tiles of 8 keys */
        float s[TC_BK / 8][4];
#pragma unroll
        for (int n = 0; n < TC_BK / 8; n++)
            s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < HD / 16; kk++) {
            const bf16 *qa = qs + (warp * 16 + gr) * HDP + kk * 16 + 2 * tq;
            const uint32_t a[4] = {ld_pair(qa), ld_pair(qa + 8 * HDP), ld_pair(qa + 8),
                                   ld_pair(qa + 8 * HDP + 8)};
#pragma unroll
            for (int n = 0; n < TC_BK / 8; n++) {
                const bf16 *kb = ks + (n * 8 + gr) * HDP + kk * 16 + 2 * tq;
                const uint32_t b[2] = {ld_pair(kb), ld_pair(kb + 8)};
                mma_bf16(s[n], a, b);
            }
        }
        /* scale into log2 units; mask the future (and keys past the span) */
        const bool diagonal = key0 + TC_BK - 1 > (int64_t)sp.pos0 + qi0 + warp * 16;
        float mx_lo = m_lo, mx_hi = m_hi;
#pragma unroll
        for (int n = 0; n < TC_BK / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int64_t key = key0 + n * 8 + 2 * tq + (e & 1);
                const int64_t p = e < 2 ? p_lo : p_hi;
                float x = s[n][e] * scale_log2;
                if (diagonal && key > p)
                    x = -INFINITY;
                s[n][e] = x;
                if (e < 2)
                    mx_lo = fmaxf(mx_lo, x);
                else
                    mx_hi = fmaxf(mx_hi, x);
            }
        /* row maxima over the quad that shares the rows */
        mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 1));
        mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 2));
        mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 1));
        mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 2));
        /* key 0 is in the first tile and visible to every row: maxima are finite here */
        const float c_lo = exp2f(m_lo - mx_lo), c_hi = exp2f(m_hi - mx_hi);
        m_lo = mx_lo;
        m_hi = mx_hi;
        float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
        for (int n = 0; n < TC_BK / 8; n++) {
            s[n][0] = exp2f(s[n][0] - m_lo);
            s[n][1] = exp2f(s[n][1] - m_lo);
            s[n][2] = exp2f(s[n][2] - m_hi);
            s[n][3] = exp2f(s[n][3] - m_hi);
            sum_lo += s[n][0] + s[n][1];
            sum_hi += s[n][2] + s[n][3];
        }
        l_lo = l_lo * c_lo + sum_lo; /* quad partial sums: reduced once at the end */
        l_hi = l_hi * c_hi + sum_hi;
#pragma unroll
        for (int n = 0; n < NO; n++) {
            o[n][0] *= c_lo;
            o[n][1] *= c_lo;
            o[n][2] *= c_hi;
            o[n][3] *= c_hi;
        }
        /* O += P V: P's accumulator fragments are the A fragments of 16-key steps */
#pragma unroll
        for (int j = 0; j < TC_BK / 16; j++) {
            const uint32_t a[4] = {pack_f2(s[2 * j][0], s[2 * j][1]),
                                   pack_f2(s[2 * j][2], s[2 * j][3]),
                                   pack_f2(s[2 * j + 1][0], s[2 * j + 1][1]),
                                   pack_f2(s[2 * j + 1][2], s[2 * j + 1][3])};
            const bf16 *vb = vs + (j * 16 + 2 * tq) * HDP + gr;
#pragma unroll
            for (int n = 0; n < NO; n++) {
                const bf16 *c = vb + n * 8;
                const uint32_t b[2] = {pack_cols(c, c + HDP),
                                       pack_cols(c + 8 * HDP, c + 9 * HDP)};
                mma_bf16(o[n], a, b);
            }
        }
    }
    l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 1);
    l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 2);
    l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 1);
    l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 2);
    const float inv_lo = 1.0f / l_lo, inv_hi = 1.0f / l_hi;
    const int64_t row_lo = sp.q_start + qi0 + r_lo, row_hi = row_lo + 8;
#pragma unroll
    for (int n = 0; n < NO; n++) {
        const int d = n * 8 + 2 * tq;
        if (r_lo < n_rows)
            *reinterpret_cast<__nv_bfloat162 *>(out + (row_lo * H + h) * HD + d) =
                __floats2bfloat162_rn(o[n][0] * inv_lo, o[n][1] * inv_lo);
        if (r_hi < n_rows)
            *reinterpret_cast<__nv_bfloat162 *>(out + (row_hi * H + h) * HD + d) =
                __floats2bfloat162_rn(o[n][2] * inv_hi, o[n][3] * inv_hi);
    }
    if (lse != NULL && tq == 0) {
        if (r_lo < n_rows)
            lse[row_lo * H + h] = (m_lo + log2f(l_lo)) * ATT_LN2;
        if (r_hi < n_rows)
            lse[row_hi * H + h] = (m_hi + log2f(l_hi)) * ATT_LN2;
    }
}

#ifndef TLM_CUDA_HOST_EMU /* the launches: not in the host emulator */
template <int HD>
static void launch_tc(CudaCtx *ctx, dim3 grid, bf16 *out, float *lse, const bf16 *q,
                      const bf16 *k, const bf16 *v, const SeqSpan *spans, int64_t H,
                      int64_t KVH, float scale_log2) {
    const size_t smem = (size_t)(TC_BQ + 2 * TC_BK) * (HD + TC_PAD) * sizeof(bf16);
    CUDA_CHECK_FATAL(cudaFuncSetAttribute(attn_fwd_tc_kernel<HD>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)smem));
    attn_fwd_tc_kernel<HD><<<grid, TC_WARPS * 32, smem, ctx->stream>>>(out, lse, q, k, v,
                                                                       spans, H, KVH,
                                                                       scale_log2);
}

int attn_fwd_tc(void *out, float *lse, const void *q, const void *k, const void *v,
                const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                int64_t HD) {
    CudaCtx *ctx = cuda_ctx();
    /* one query per span is decoding: the simple kernel's warp per row fits it better */
    if (ctx->simple_kernels || (HD != 64 && HD != 128) || Tq <= n_spans)
        return 0;
    const dim3 grid((unsigned)((Tq + TC_BQ - 1) / TC_BQ), (unsigned)cuda_int(H, "attn H"),
                    (unsigned)n_spans);
    const float scale_log2 = ATT_LOG2E / sqrtf((float)HD);
    bf16 *o = (bf16 *)out;
    const bf16 *qb = (const bf16 *)q, *kb = (const bf16 *)k, *vb = (const bf16 *)v;
    if (HD == 64)
        launch_tc<64>(ctx, grid, o, lse, qb, kb, vb, spans, H, KVH, scale_log2);
    else
        launch_tc<128>(ctx, grid, o, lse, qb, kb, vb, spans, H, KVH, scale_log2);
    cuda_op_done(ctx, "attn_fwd (tensor cores)");
    return 1;
}
#endif
