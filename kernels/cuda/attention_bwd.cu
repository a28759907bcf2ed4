/* kernels/cuda/attention_bwd.cu -- the op and the simple twin of the fast backward
 * (attention_bwd_tc.cu, tried first; TLM_CUDA_KERNELS=simple or a head dim other than 64
 * and 128 leaves the call here). Causal GQA attention backward, recomputing the
 * probabilities from the saved lse (FlashAttention-2 style, arXiv 2307.08691 Alg. 2):
 *   P = exp(S - lse), dP = dO V^T, Dr = rowsum(dO * O), dS = P (dP - Dr),
 *   dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO.
 * Two kernels so that nothing needs atomics or workspace:
 *   attn_dq_kernel   query-major like the forward (grid: query tiles x H x spans); it
 *                    overwrites dq.
 *   attn_dkdv_kernel key-major: one warp owns a tile of 32 keys of one kv head, walks
 *                    every query row of every head of its group that sees those keys,
 *                    accumulates dK, dV in fp32 shared memory (lane j owns key j) and
 *                    adds them into dk, dv once. Grid (key tiles, KVH, spans), looping
 *                    over further key tiles when a span has more keys than Tq.
 * Results are deterministic. Spans of one call must not share kv rows (packed training
 * batches never do): each dk/dv row is written by exactly one block.
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_tc.cuh"

#define ROWS_PER_WARP (ATT_BQ / ATT_WARPS)

template <int NE>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attn_dq_kernel(bf16 *dq, const bf16 *dout, const bf16 *q, const bf16 *k, const bf16 *v,
                   const bf16 *out, const float *lse, const SeqSpan *spans, int64_t H,
                   int64_t KVH, int HD, float scale) {
    extern __shared__ __align__(16) unsigned char att_smem[];
    const int HDP = HD + ATT_PAD;
    float *qs = reinterpret_cast<float *>(att_smem); /* (ATT_BQ, HD), log2 units */
    float *dos = qs + ATT_BQ * HD;                    /* (ATT_BQ, HD) */
    bf16 *ks = reinterpret_cast<bf16 *>(dos + ATT_BQ * HD);
    bf16 *vs = ks + ATT_BK * HDP;

    const SeqSpan sp = spans[blockIdx.z];
    const int64_t h = blockIdx.y, g = h / (H / KVH);
    const int64_t qi0 = (int64_t)blockIdx.x * ATT_BQ;
    if (qi0 >= sp.q_len)
        return;
    const int n_rows = (int)min((int64_t)ATT_BQ, (int64_t)sp.q_len - qi0);
    const int64_t n_keys = (int64_t)sp.pos0 + qi0 + n_rows;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const float scale_log2 = scale * ATT_LOG2E;

    for (int i = tid; i < ATT_BQ * HD; i += blockDim.x) {
        const int r = i / HD, d = i % HD;
        const int64_t at = ((sp.q_start + qi0 + r) * H + h) * HD + d;
        qs[i] = r < n_rows ? ld_bf(q, at) * scale_log2 : 0.0f;
        dos[i] = r < n_rows ? ld_bf(dout, at) : 0.0f;
    }
    float dr[ROWS_PER_WARP], lse2[ROWS_PER_WARP], acc[ROWS_PER_WARP][NE];
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        const int row = warp + r * ATT_WARPS;
        float s = 0.0f;
        lse2[r] = 0.0f;
        if (row < n_rows) {
            const int64_t base = ((sp.q_start + qi0 + row) * H + h) * HD;
            for (int d = lane; d < HD; d += 32)
                s += ld_bf(dout, base + d) * ld_bf(out, base + d);
            lse2[r] = lse[(sp.q_start + qi0 + row) * H + h] * ATT_LOG2E;
        }
        dr[r] = warp_sum(s);
#pragma unroll
        for (int e = 0; e < NE; e++)
            acc[r][e] = 0.0f;
    }

    for (int64_t key0 = 0; key0 < n_keys; key0 += ATT_BK) {
        __syncthreads();
        att_load_tile(ks, k, sp.kv_start, key0, n_keys, KVH, g, HD, tid, blockDim.x);
        att_load_tile(vs, v, sp.kv_start, key0, n_keys, KVH, g, HD, tid, blockDim.x);
        __syncthreads();
#pragma unroll
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            const int row = warp + r * ATT_WARPS;
            if (row >= n_rows)
                continue;
            const int64_t p = (int64_t)sp.pos0 + qi0 + row;
            if (key0 > p)
                continue;
            float ds = 0.0f;
            if (key0 + lane <= p) {
                const float pr = exp2f(att_dot(qs + row * HD, ks + lane * HDP, HD) - lse2[r]);
                const float dp = att_dot(dos + row * HD, vs + lane * HDP, HD);
                ds = pr * (dp - dr[r]);
            }
#pragma unroll 4
            for (int j = 0; j < ATT_BK; j++) {
                const float dsj = __shfl_sync(0xffffffffu, ds, j);
#pragma unroll
                for (int e = 0; e < NE; e++) {
                    const int d = lane + 32 * e;
                    if (d < HD)
                        acc[r][e] += dsj * __bfloat162float(ks[j * HDP + d]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        const int row = warp + r * ATT_WARPS;
        if (row >= n_rows)
            continue;
        const int64_t base = ((sp.q_start + qi0 + row) * H + h) * HD;
#pragma unroll
        for (int e = 0; e < NE; e++) {
            const int d = lane + 32 * e;
            if (d < HD)
                dq[base + d] = to_bf(acc[r][e] * scale);
        }
    }
}

/* One warp per block. Shared: K, V tiles (bf16, padded), dK, dV (fp32, rows of HD + 1:
 * lane j's row walk hits distinct banks), the current q and dO rows (fp32). */
__global__ void __launch_bounds__(32)
    attn_dkdv_kernel(bf16 *dk, bf16 *dv, const bf16 *dout, const bf16 *q, const bf16 *k,
                     const bf16 *v, const bf16 *out, const float *lse, const SeqSpan *spans,
                     int64_t H, int64_t KVH, int HD, float scale) {
    extern __shared__ __align__(16) unsigned char att_smem[];
    const int HDP = HD + ATT_PAD, HDA = HD + 1;
    bf16 *ks = reinterpret_cast<bf16 *>(att_smem);
    bf16 *vs = ks + ATT_BK * HDP;
    float *dks = reinterpret_cast<float *>(vs + ATT_BK * HDP); /* (ATT_BK, HDA) */
    float *dvs = dks + ATT_BK * HDA;                           /* (ATT_BK, HDA) */
    float *qrow = dvs + ATT_BK * HDA;                          /* (HD) */
    float *dorow = qrow + HD;                                  /* (HD) */

    const SeqSpan sp = spans[blockIdx.z];
    const int64_t g = blockIdx.y, group = H / KVH;
    const int64_t n_keys = (int64_t)sp.pos0 + sp.q_len;
    const int lane = threadIdx.x;
    const float scale_log2 = scale * ATT_LOG2E;

    for (int64_t key0 = (int64_t)blockIdx.x * ATT_BK; key0 < n_keys;
         key0 += (int64_t)gridDim.x * ATT_BK) {
        __syncwarp();
        att_load_tile(ks, k, sp.kv_start, key0, n_keys, KVH, g, HD, lane, 32);
        att_load_tile(vs, v, sp.kv_start, key0, n_keys, KVH, g, HD, lane, 32);
        for (int i = lane; i < ATT_BK * HDA; i += 32) {
            dks[i] = 0.0f;
            dvs[i] = 0.0f;
        }
        const bool own = key0 + lane < n_keys;
        /* Query i (position pos0 + i) sees key0 + lane when pos0 + i >= key0 + lane. */
        const int64_t first = key0 > sp.pos0 ? key0 - sp.pos0 : 0;
        for (int64_t h = g * group; h < (g + 1) * group; h++) {
            for (int64_t qi = first; qi < sp.q_len; qi++) {
                const int64_t qr = sp.q_start + qi, base = (qr * H + h) * HD;
                __syncwarp(); /* the previous row's q/dO are no longer read */
                float dsum = 0.0f;
                for (int d = lane; d < HD; d += 32) {
                    const float dov = ld_bf(dout, base + d);
                    qrow[d] = ld_bf(q, base + d);
                    dorow[d] = dov;
                    dsum += dov * ld_bf(out, base + d);
                }
                const float dr = warp_sum(dsum);
                __syncwarp();
                if (!own || key0 + lane > sp.pos0 + qi)
                    continue; /* lane's key is absent or in this query's future */
                const float lse2 = lse[qr * H + h] * ATT_LOG2E;
                const float pr =
                    exp2f(att_dot(qrow, ks + lane * HDP, HD) * scale_log2 - lse2);
                const float dp = att_dot(dorow, vs + lane * HDP, HD);
                const float ds = pr * (dp - dr);
                float *dkr = dks + lane * HDA, *dvr = dvs + lane * HDA;
                for (int d = 0; d < HD; d++) {
                    dvr[d] += pr * dorow[d];
                    dkr[d] += ds * qrow[d];
                }
            }
        }
        __syncwarp();
        /* Add the tile into dk, dv: lanes across dims, so the global writes coalesce. */
        for (int j = 0; j < ATT_BK && key0 + j < n_keys; j++) {
            const int64_t base = ((sp.kv_start + key0 + j) * KVH + g) * HD;
            for (int d = lane; d < HD; d += 32) {
                dk[base + d] = to_bf(ld_bf(dk, base + d) + dks[j * HDA + d] * scale);
                dv[base + d] = to_bf(ld_bf(dv, base + d) + dvs[j * HDA + d]);
            }
        }
    }
}

template <int NE>
static void launch_dq(CudaCtx *ctx, dim3 grid, size_t smem, bf16 *dq, const bf16 *dout,
                      const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *out,
                      const float *lse, const SeqSpan *spans, int64_t H, int64_t KVH, int HD,
                      float scale) {
    CUDA_CHECK_FATAL(cudaFuncSetAttribute(attn_dq_kernel<NE>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)smem));
    attn_dq_kernel<NE><<<grid, ATT_WARPS * 32, smem, ctx->stream>>>(dq, dout, q, k, v, out,
                                                                     lse, spans, H, KVH, HD,
                                                                     scale);
}

void cuda_attn_bwd(void *dq, void *dk, void *dv, const void *dout, const void *q,
                   const void *k, const void *v, const void *out, const float *lse,
                   const SeqSpan *spans, int32_t n_spans, int64_t Tq, int64_t H, int64_t KVH,
                   int64_t HD) {
    if (n_spans <= 0 || Tq <= 0 || H <= 0)
        return;
    att_check("attn_bwd", H, KVH, HD);
    if (attn_bwd_tc(dq, dk, dv, dout, q, k, v, out, lse, spans, n_spans, Tq, H, KVH, HD))
        return; /* the tensor-core kernels took it */
    CudaCtx *ctx = cuda_ctx();
    const float scale = 1.0f / sqrtf((float)HD);
    const bf16 *dob = (const bf16 *)dout, *qb = (const bf16 *)q, *kb = (const bf16 *)k,
               *vb = (const bf16 *)v, *ob = (const bf16 *)out;
    const int hd = (int)HD;

    const dim3 qgrid((unsigned)((Tq + ATT_BQ - 1) / ATT_BQ), (unsigned)cuda_int(H, "attn H"),
                     (unsigned)n_spans);
    const size_t qsmem = 2 * (size_t)ATT_BQ * (size_t)HD * sizeof(float) + 2 * att_tile_bytes(HD);
    bf16 *dqb = (bf16 *)dq;
    /* dq is overwritten on every row (ops_list.h), also rows that no span covers: the
     * kernel writes only the spans' rows */
    CUDA_CHECK_FATAL(cudaMemsetAsync(dqb, 0, (size_t)(Tq * H * HD) * sizeof(bf16), ctx->stream));
    switch (att_dims_per_lane(HD)) {
    case 1:
        launch_dq<1>(ctx, qgrid, qsmem, dqb, dob, qb, kb, vb, ob, lse, spans, H, KVH, hd, scale);
        break;
    case 2:
        launch_dq<2>(ctx, qgrid, qsmem, dqb, dob, qb, kb, vb, ob, lse, spans, H, KVH, hd, scale);
        break;
    case 4:
        launch_dq<4>(ctx, qgrid, qsmem, dqb, dob, qb, kb, vb, ob, lse, spans, H, KVH, hd, scale);
        break;
    default:
        launch_dq<8>(ctx, qgrid, qsmem, dqb, dob, qb, kb, vb, ob, lse, spans, H, KVH, hd, scale);
        break;
    }

    const dim3 kgrid((unsigned)((Tq + ATT_BK - 1) / ATT_BK), (unsigned)cuda_int(KVH, "attn KVH"),
                     (unsigned)n_spans);
    const size_t ksmem = 2 * att_tile_bytes(HD) +
                         (2 * (size_t)ATT_BK * (size_t)(HD + 1) + 2 * (size_t)HD) * sizeof(float);
    CUDA_CHECK_FATAL(cudaFuncSetAttribute(attn_dkdv_kernel,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          (int)ksmem));
    attn_dkdv_kernel<<<kgrid, 32, ksmem, ctx->stream>>>((bf16 *)dk, (bf16 *)dv, dob, qb, kb, vb,
                                                        ob, lse, spans, H, KVH, hd, scale);
    cuda_op_done(ctx, "attn_bwd");
}
