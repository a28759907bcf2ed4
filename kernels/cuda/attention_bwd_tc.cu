/* kernels/cuda/attention_bwd_tc.cu -- the fast attention backward: tensor cores (mma.sync
 * m16n8k16, bf16 in, fp32 accumulate) with FlashAttention-2 tiling (arXiv 2307.08691,
 * Alg. 2), recomputing the probabilities from the forward's saved lse:
 *   P = exp(S - lse), dP = dO V^T, Dr = rowsum(dO * O), dS = P (dP - Dr),
 *   dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO.
 * Three launches, no atomics, deterministic:
 *   dr    Dr for every (row, head), fp32, into the context's scratch.
 *   dq    query-major like the forward: a warp owns 16 query rows, walks the key tiles
 *         its rows see (tiles in the future of every row skipped, the diagonal masked),
 *         S and dP in registers, dS re-packed as the A operand of dS K, dQ in fp32
 *         registers; overwrites dq.
 *   dkdv  key-major: a warp owns 16 keys of one kv head, the block's 4 warps a tile of 64
 *         keys read once for every query head of the group; it walks the query tiles that
 *         see the keys computing S^T = K Q^T and dP^T = V dO^T, so P^T and dS^T are
 *         already the A operands of P^T dO and dS^T Q; dK, dV stay in fp32 registers and
 *         are added into dk, dv once per key tile.
 * dq recomputes S and dP (7 products instead of FA2's 5 with atomics): the price of no
 * fp32 dq workspace and a fixed summation order. Head dims 64 and 128; everything else
 * goes to the simple kernels (attention_bwd.cu), which stay the reference
 * (TLM_CUDA_KERNELS=simple). Spans must not share kv rows, as in the simple kernels. */
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/attention_tc.cuh"

#define TB_BQ (16 * TC_WARPS)  /* query rows per dq block */
#define TB_BK 64               /* keys per tile of the dq kernel */
#define TB_BKV (16 * TC_WARPS) /* keys per dkdv block */
#define TB_DR_WARPS 8          /* warps per block of the Dr kernel */

/* dr[w] = sum over the head dim of dout * out for each of the n (row, head) pairs. */
__global__ void attn_bwd_dr_kernel(float *dr, const bf16 *dout, const bf16 *out, int64_t n,
                                   int HD) {
    const int lane = threadIdx.x & 31;
    const int64_t n_warps = (int64_t)gridDim.x * TB_DR_WARPS;
    for (int64_t w = (int64_t)blockIdx.x * TB_DR_WARPS + (threadIdx.x >> 5); w < n;
         w += n_warps) {
        float s = 0.0f;
        for (int d = lane; d < HD; d += 32)
            s += ld_bf(dout, w * HD + d) * ld_bf(out, w * HD + d);
        s = warp_sum(s);
        if (lane == 0)
            dr[w] = s;
    }
}

/* The A fragment of k-step j from accumulator n-tiles 2j, 2j + 1 (attention_mma.cuh). */
__device__ __forceinline__ void acc_to_a(uint32_t *a, const float *t0, const float *t1) {
    a[0] = pack_f2(t0[0], t0[1]);
    a[1] = pack_f2(t0[2], t0[3]);
    a[2] = pack_f2(t1[0], t1[1]);
    a[3] = pack_f2(t1[2], t1[3]);
}

template <int HD>
__global__ void __launch_bounds__(TC_WARPS * 32)
    attn_bwd_dq_tc_kernel(bf16 *dq, const bf16 *dout, const bf16 *q, const bf16 *k,
                          const bf16 *v, const float *lse, const float *dr,
                          const SeqSpan *spans, int64_t H, int64_t KVH, float scale_log2,
                          float scale) {
    extern __shared__ __align__(16) unsigned char tb_smem[];
    constexpr int HDP = HD + TC_PAD, NO = HD / 8, NS = TB_BK / 8;
    bf16 *qs = reinterpret_cast<bf16 *>(tb_smem); /* (TB_BQ, HDP) */
    bf16 *dos = qs + TB_BQ * HDP;                 /* (TB_BQ, HDP) */
    bf16 *ks = dos + TB_BQ * HDP;                 /* (TB_BK, HDP) */
    bf16 *vs = ks + TB_BK * HDP;                  /* (TB_BK, HDP) */

    const SeqSpan sp = spans[blockIdx.z];
    const int64_t h = blockIdx.y, g = h / (H / KVH);
    const int64_t qi0 = (int64_t)blockIdx.x * TB_BQ;
    if (qi0 >= sp.q_len)
        return;
    const int n_rows = (int)min((int64_t)TB_BQ, (int64_t)sp.q_len - qi0);
    const int64_t pos_first = (int64_t)sp.pos0 + qi0, n_keys = pos_first + n_rows;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gr = lane >> 2, tq = lane & 3;

    const int64_t row0 = sp.q_start + qi0;
    tc_load<HD>(qs, q + (row0 * H + h) * HD, 0, n_rows, TB_BQ, H * HD, tid);
    tc_load<HD>(dos, dout + (row0 * H + h) * HD, 0, n_rows, TB_BQ, H * HD, tid);
    /* this thread's two rows (gr, gr + 8 of its warp's 16): lse in log2 units and Dr */
    const int r_lo = warp * 16 + gr, r_hi = r_lo + 8;
    const bool ok_lo = r_lo < n_rows, ok_hi = r_hi < n_rows;
    const float l2_lo = ok_lo ? lse[(row0 + r_lo) * H + h] * ATT_LOG2E : 0.0f;
    const float l2_hi = ok_hi ? lse[(row0 + r_hi) * H + h] * ATT_LOG2E : 0.0f;
    const float dr_lo = ok_lo ? dr[(row0 + r_lo) * H + h] : 0.0f;
    const float dr_hi = ok_hi ? dr[(row0 + r_hi) * H + h] : 0.0f;
    /* a warp whose rows all lie past the span has nothing to add; otherwise the last
     * position it holds bounds the keys it needs */
    const bool warp_live = warp * 16 < n_rows;
    const int64_t warp_last = pos_first + min(warp * 16 + 15, n_rows - 1);
    float acc[NO][4];
#pragma unroll
    for (int n = 0; n < NO; n++)
        acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;

    const bf16 *kg = k + (sp.kv_start * KVH + g) * HD, *vg = v + (sp.kv_start * KVH + g) * HD;
    for (int64_t key0 = 0; key0 < n_keys; key0 += TB_BK) {
        __syncthreads(); /* the previous tiles are no longer read (and Q, dO are loaded) */
        tc_load<HD>(ks, kg, key0, n_keys - key0, TB_BK, KVH * HD, tid);
        tc_load<HD>(vs, vg, key0, n_keys - key0, TB_BK, KVH * HD, tid);
        __syncthreads();
        if (!warp_live || key0 > warp_last)
            continue;
        float s[NS][4], dp[NS][4];
#pragma unroll
        for (int n = 0; n < NS; n++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                s[n][e] = dp[n][e] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < HD / 16; kk++) {
            uint32_t a[4], ad[4], b[2];
            frag_a(a, qs + warp * 16 * HDP, HDP, kk * 16, gr, tq);
            frag_a(ad, dos + warp * 16 * HDP, HDP, kk * 16, gr, tq);
#pragma unroll
            for (int n = 0; n < NS; n++) {
                frag_b_rows(b, ks + n * 8 * HDP, HDP, kk * 16, gr, tq);
                mma_bf16(s[n], a, b);
                frag_b_rows(b, vs + n * 8 * HDP, HDP, kk * 16, gr, tq);
                mma_bf16(dp[n], ad, b);
            }
        }
        /* dS = P (dP - Dr) into s; P is 0 in a row's future and on rows past the span */
        const bool diagonal = key0 + TB_BK - 1 > pos_first + warp * 16;
#pragma unroll
        for (int n = 0; n < NS; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const bool hi = e >= 2;
                const int64_t key = key0 + n * 8 + 2 * tq + (e & 1);
                const int64_t p = pos_first + (hi ? r_hi : r_lo);
                float pr = exp2f(s[n][e] * scale_log2 - (hi ? l2_hi : l2_lo));
                if (!(hi ? ok_hi : ok_lo) || (diagonal && key > p))
                    pr = 0.0f;
                s[n][e] = pr * (dp[n][e] - (hi ? dr_hi : dr_lo));
            }
        /* dQ += dS K */
#pragma unroll
        for (int j = 0; j < TB_BK / 16; j++) {
            uint32_t a[4], b[2];
            acc_to_a(a, s[2 * j], s[2 * j + 1]);
#pragma unroll
            for (int n = 0; n < NO; n++) {
                frag_b_cols(b, ks + j * 16 * HDP, HDP, n * 8, gr, tq);
                mma_bf16(acc[n], a, b);
            }
        }
    }
#pragma unroll
    for (int n = 0; n < NO; n++) {
        const int d = n * 8 + 2 * tq;
        if (ok_lo)
            *reinterpret_cast<__nv_bfloat162 *>(dq + ((row0 + r_lo) * H + h) * HD + d) =
                __floats2bfloat162_rn(acc[n][0] * scale, acc[n][1] * scale);
        if (ok_hi)
            *reinterpret_cast<__nv_bfloat162 *>(dq + ((row0 + r_hi) * H + h) * HD + d) =
                __floats2bfloat162_rn(acc[n][2] * scale, acc[n][3] * scale);
    }
}

/* dst[i], dst[i + 1] (bf16) += x, y. */
__device__ __forceinline__ void add_pair(bf16 *dst, float x, float y) {
    __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(dst);
    const float2 old = __bfloat1622float2(*p);
    *p = __floats2bfloat162_rn(old.x + x, old.y + y);
}

/* BQ query rows per tile (the k dim of P^T dO and dS^T Q): 32 at head dim 128 keeps
 * dK, dV (64 fp32 each per thread) and S^T, dP^T in registers without spilling. */
template <int HD, int BQ>
__global__ void __launch_bounds__(TC_WARPS * 32)
    attn_bwd_dkdv_tc_kernel(bf16 *dk, bf16 *dv, const bf16 *dout, const bf16 *q,
                            const bf16 *k, const bf16 *v, const float *lse, const float *dr,
                            const SeqSpan *spans, int64_t H, int64_t KVH, float scale_log2,
                            float scale) {
    extern __shared__ __align__(16) unsigned char tb_smem[];
    constexpr int HDP = HD + TC_PAD, NO = HD / 8, NQ = BQ / 8;
    bf16 *ks = reinterpret_cast<bf16 *>(tb_smem); /* (TB_BKV, HDP) */
    bf16 *vs = ks + TB_BKV * HDP;                 /* (TB_BKV, HDP) */
    bf16 *qs = vs + TB_BKV * HDP;                 /* (BQ, HDP) */
    bf16 *dos = qs + BQ * HDP;                    /* (BQ, HDP) */
    float *l2s = reinterpret_cast<float *>(dos + BQ * HDP); /* (BQ) lse, log2 units */
    float *drs = l2s + BQ;                                  /* (BQ) */

    const SeqSpan sp = spans[blockIdx.z];
    const int64_t g = blockIdx.y, group = H / KVH;
    const int64_t n_keys = (int64_t)sp.pos0 + sp.q_len;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gr = lane >> 2, tq = lane & 3;
    const bf16 *kg = k + (sp.kv_start * KVH + g) * HD, *vg = v + (sp.kv_start * KVH + g) * HD;

    for (int64_t key0 = (int64_t)blockIdx.x * TB_BKV; key0 < n_keys;
         key0 += (int64_t)gridDim.x * TB_BKV) {
        __syncthreads(); /* the previous key tile is no longer read */
        tc_load<HD>(ks, kg, key0, n_keys - key0, TB_BKV, KVH * HD, tid);
        tc_load<HD>(vs, vg, key0, n_keys - key0, TB_BKV, KVH * HD, tid);
        const int64_t wk0 = key0 + warp * 16; /* the warp's first key */
        float dka[NO][4], dva[NO][4];
#pragma unroll
        for (int n = 0; n < NO; n++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                dka[n][e] = dva[n][e] = 0.0f;
        /* query i (position pos0 + i) sees key0 from i = key0 - pos0 on */
        const int64_t first = key0 > sp.pos0 ? key0 - sp.pos0 : 0;
        for (int64_t h = g * group; h < (g + 1) * group; h++) {
            for (int64_t qi0 = first; qi0 < sp.q_len; qi0 += BQ) {
                const int n_q = (int)min((int64_t)BQ, (int64_t)sp.q_len - qi0);
                const int64_t row0 = sp.q_start + qi0, pos_first = (int64_t)sp.pos0 + qi0;
                __syncthreads(); /* the previous Q, dO are no longer read */
                tc_load<HD>(qs, q + (row0 * H + h) * HD, 0, n_q, BQ, H * HD, tid);
                tc_load<HD>(dos, dout + (row0 * H + h) * HD, 0, n_q, BQ, H * HD, tid);
                for (int i = tid; i < BQ; i += TC_WARPS * 32) {
                    l2s[i] = i < n_q ? lse[(row0 + i) * H + h] * ATT_LOG2E : 0.0f;
                    drs[i] = i < n_q ? dr[(row0 + i) * H + h] : 0.0f;
                }
                __syncthreads();
                if (wk0 > pos_first + n_q - 1)
                    continue; /* the warp's keys are in the future of every query here */
                float st[NQ][4], dpt[NQ][4];
#pragma unroll
                for (int n = 0; n < NQ; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++)
                        st[n][e] = dpt[n][e] = 0.0f;
#pragma unroll
                for (int kk = 0; kk < HD / 16; kk++) {
                    uint32_t a[4], av[4], b[2];
                    frag_a(a, ks + warp * 16 * HDP, HDP, kk * 16, gr, tq);
                    frag_a(av, vs + warp * 16 * HDP, HDP, kk * 16, gr, tq);
#pragma unroll
                    for (int n = 0; n < NQ; n++) {
                        frag_b_rows(b, qs + n * 8 * HDP, HDP, kk * 16, gr, tq);
                        mma_bf16(st[n], a, b);
                        frag_b_rows(b, dos + n * 8 * HDP, HDP, kk * 16, gr, tq);
                        mma_bf16(dpt[n], av, b);
                    }
                }
                /* P^T into st, dS^T into dpt: 0 where the key is in the query's future
                 * and for columns past the span */
                const bool diagonal = wk0 + 15 > pos_first;
#pragma unroll
                for (int n = 0; n < NQ; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int c = n * 8 + 2 * tq + (e & 1);
                        const int64_t key = wk0 + gr + (e >= 2 ? 8 : 0);
                        float pr = exp2f(st[n][e] * scale_log2 - l2s[c]);
                        if (c >= n_q || (diagonal && key > pos_first + c))
                            pr = 0.0f;
                        st[n][e] = pr;
                        dpt[n][e] = pr * (dpt[n][e] - drs[c]);
                    }
                /* dV += P^T dO, dK += dS^T Q: queries are the k dim */
#pragma unroll
                for (int j = 0; j < BQ / 16; j++) {
                    uint32_t ap[4], ad[4], b[2];
                    acc_to_a(ap, st[2 * j], st[2 * j + 1]);
                    acc_to_a(ad, dpt[2 * j], dpt[2 * j + 1]);
#pragma unroll
                    for (int n = 0; n < NO; n++) {
                        frag_b_cols(b, dos + j * 16 * HDP, HDP, n * 8, gr, tq);
                        mma_bf16(dva[n], ap, b);
                        frag_b_cols(b, qs + j * 16 * HDP, HDP, n * 8, gr, tq);
                        mma_bf16(dka[n], ad, b);
                    }
                }
            }
        }
        /* add this tile's dK, dV: the thread's keys gr, gr + 8 of its warp's 16 */
        const int64_t key_lo = wk0 + gr, key_hi = key_lo + 8;
#pragma unroll
        for (int n = 0; n < NO; n++) {
            const int d = n * 8 + 2 * tq;
            if (key_lo < n_keys) {
                const int64_t at = ((sp.kv_start + key_lo) * KVH + g) * HD + d;
                add_pair(dk + at, dka[n][0] * scale, dka[n][1] * scale);
                add_pair(dv + at, dva[n][0], dva[n][1]);
            }
            if (key_hi < n_keys) {
                const int64_t at = ((sp.kv_start + key_hi) * KVH + g) * HD + d;
                add_pair(dk + at, dka[n][2] * scale, dka[n][3] * scale);
                add_pair(dv + at, dva[n][2], dva[n][3]);
            }
        }
    }
}

#ifndef TLM_CUDA_HOST_EMU /* the launches: not in the host emulator */
/* The Q-major and the key-major kernel of one head dim; Dr is already in dr. */
template <int HD, int BQ>
static void launch_bwd_tc(CudaCtx *ctx, int64_t Tq, int64_t H, int64_t KVH, int32_t n_spans,
                          bf16 *dq, bf16 *dk, bf16 *dv, const bf16 *dout, const bf16 *q,
                          const bf16 *k, const bf16 *v, const float *lse, const float *dr,
                          const SeqSpan *spans) {
    const float scale = 1.0f / sqrtf((float)HD), scale_log2 = scale * ATT_LOG2E;
    const size_t row_bytes = (size_t)(HD + TC_PAD) * sizeof(bf16);
    const size_t dq_smem = (size_t)(2 * TB_BQ + 2 * TB_BK) * row_bytes;
    const size_t kv_smem = (size_t)(2 * TB_BKV + 2 * BQ) * row_bytes + 2 * BQ * sizeof(float);
    CUDA_CHECK_FATAL(cudaFuncSetAttribute(attn_bwd_dq_tc_kernel<HD>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)dq_smem));
    CUDA_CHECK_FATAL(cudaFuncSetAttribute(attn_bwd_dkdv_tc_kernel<HD, BQ>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)kv_smem));
    const dim3 qgrid((unsigned)((Tq + TB_BQ - 1) / TB_BQ), (unsigned)cuda_int(H, "attn H"),
                     (unsigned)n_spans);
    attn_bwd_dq_tc_kernel<HD><<<qgrid, TC_WARPS * 32, dq_smem, ctx->stream>>>(
        dq, dout, q, k, v, lse, dr, spans, H, KVH, scale_log2, scale);
    /* spans with pos0 > 0 have more keys than Tq: the kernel loops over further tiles */
    const dim3 kgrid((unsigned)((Tq + TB_BKV - 1) / TB_BKV),
                     (unsigned)cuda_int(KVH, "attn KVH"), (unsigned)n_spans);
    attn_bwd_dkdv_tc_kernel<HD, BQ><<<kgrid, TC_WARPS * 32, kv_smem, ctx->stream>>>(
        dk, dv, dout, q, k, v, lse, dr, spans, H, KVH, scale_log2, scale);
}

int attn_bwd_tc(void *dq, void *dk, void *dv, const void *dout, const void *q, const void *k,
                const void *v, const void *out, const float *lse, const SeqSpan *spans,
                int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH, int64_t HD) {
    CudaCtx *ctx = cuda_ctx();
    if (ctx->simple_kernels || (HD != 64 && HD != 128))
        return 0;
    const int64_t n_pairs = Tq * H;
    float *dr = (float *)cuda_scratch(ctx, (size_t)n_pairs * sizeof(float));
    /* dq is overwritten on every row (ops_list.h), also rows no span covers */
    CUDA_CHECK_FATAL(cudaMemsetAsync(dq, 0, (size_t)(n_pairs * HD) * sizeof(bf16), ctx->stream));
    const bf16 *dob = (const bf16 *)dout;
    attn_bwd_dr_kernel<<<cuda_grid(n_pairs, TB_DR_WARPS), TB_DR_WARPS * 32, 0, ctx->stream>>>(
        dr, dob, (const bf16 *)out, n_pairs, (int)HD);
    bf16 *dqb = (bf16 *)dq, *dkb = (bf16 *)dk, *dvb = (bf16 *)dv;
    const bf16 *qb = (const bf16 *)q, *kb = (const bf16 *)k, *vb = (const bf16 *)v;
    if (HD == 64)
        launch_bwd_tc<64, 64>(ctx, Tq, H, KVH, n_spans, dqb, dkb, dvb, dob, qb, kb, vb, lse, dr,
                              spans);
    else
        launch_bwd_tc<128, 32>(ctx, Tq, H, KVH, n_spans, dqb, dkb, dvb, dob, qb, kb, vb, lse,
                               dr, spans);
    cuda_op_done(ctx, "attn_bwd (tensor cores)");
    return 1;
}
#endif
