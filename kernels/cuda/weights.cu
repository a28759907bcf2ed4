/* kernels/cuda/weights.cu -- the frozen-weight ops with a storage format (kernels/ops.h
 * WeightFormat). fp32 and bf16 weights are both kept in bf16, the element type, and go to
 * the bf16 matmul (matmul.cu) and upload (memory.cu). The block formats stay in their
 * blocks in device memory (quantized on the host at upload, or copied as a GGUF file
 * holds them) and are dequantized on the fly: by default a chunk of weight rows at a time
 * into a bf16 scratch (cuda_scratch) that cublasGemmEx multiplies on tensor cores (fp32
 * compute), so the dequantized copy never exceeds WQ_SCRATCH_BYTES; under
 * TLM_CUDA_KERNELS=simple, the reference twin: 16 x 16 output tiles whose weight tiles are
 * dequantized into shared memory as bf16 and summed in fp32 by plain FMAs. Both decode an
 * element exactly as io/base/quant.c does (then round to bf16). The embedding lookup
 * lives here too: it decodes its rows through the same element decoder. Enqueue on the backend
 * stream; do not synchronize (uploads excepted). */
#include <cuda_fp16.h>

#include <stdlib.h>
#include <string.h>

#include "io/base/quant.h"
#include "kernels/cuda/cuda_common.cuh"

/* The most bytes of bf16 weight rows one fast-path chunk dequantizes. */
#define WQ_SCRATCH_BYTES ((size_t)64 << 20)
#define WQ_TILE 16 /* the simple twin's output tile edge */
#define WQ_KT 32   /* its contraction tile */

/* The block format's table, here rather than kernels/ops.c's (which links after this
 * library): ggml type, elements and bytes of a block. */
static void wq_block(WeightFormat f, uint32_t *ggml, int64_t *elems, size_t *bytes) {
    switch (f) {
    case WEIGHT_Q8_0: *ggml = QUANT_Q8_0, *elems = QUANT_QK, *bytes = sizeof(QuantBlockQ8_0); return;
    case WEIGHT_Q4_0: *ggml = QUANT_Q4_0, *elems = QUANT_QK, *bytes = sizeof(QuantBlockQ4_0); return;
    case WEIGHT_Q4_1: *ggml = QUANT_Q4_1, *elems = QUANT_QK, *bytes = sizeof(QuantBlockQ4_1); return;
    case WEIGHT_Q4_K: *ggml = QUANT_Q4_K, *elems = QUANT_QK_K, *bytes = sizeof(QuantBlockQ4_K); return;
    case WEIGHT_Q6_K: *ggml = QUANT_Q6_K, *elems = QUANT_QK_K, *bytes = sizeof(QuantBlockQ6_K); return;
    case WEIGHT_NF4: *ggml = 0, *elems = QUANT_NF4_BLOCK, *bytes = sizeof(QuantBlockNF4); return;
    default: *ggml = 0, *elems = 1, *bytes = 0; return;
    }
}

static size_t wq_row_bytes(WeightFormat f, int64_t cols) {
    uint32_t g;
    int64_t be;
    size_t bb;
    wq_block(f, &g, &be, &bb);
    return (size_t)((cols + be - 1) / be) * bb;
}

static void check_format(WeightFormat f, const char *op) {
    if ((unsigned)f >= WEIGHT_N_FORMATS)
        log_fatal("cuda %s: weight format %d is not supported by the CUDA backend", op, (int)f);
}

size_t cuda_weight_bytes(WeightFormat f, int64_t rows, int64_t cols) {
    if (f == WEIGHT_ELEM || f == WEIGHT_BF16)
        return (size_t)(rows * cols) * 2;
    if ((unsigned)f >= WEIGHT_N_FORMATS)
        return 0;
    return (size_t)rows * wq_row_bytes(f, cols);
}

void cuda_weight_upload(Weight w, const void *src, DType src_type, int64_t rows, int64_t cols) {
    check_format(w.format, "weight_upload");
    if (w.format == WEIGHT_ELEM || w.format == WEIGHT_BF16) {
        cuda_upload(w.data, src, src_type, rows * cols);
        return;
    }
    if (w.format == WEIGHT_Q4_K || w.format == WEIGHT_Q6_K)
        log_fatal("cuda weight_upload: weight format %d (a K format) cannot be made from "
                  "floats (only read from GGUF)", (int)w.format);
    uint32_t ggml;
    int64_t be;
    size_t bb;
    wq_block(w.format, &ggml, &be, &bb);
    const int64_t padded = (cols + be - 1) / be * be;
    const size_t row_bytes = wq_row_bytes(w.format, cols), esz = dtype_bytes(src_type);
    float *row = (float *)calloc((size_t)padded, sizeof *row);
    unsigned char *blocks = (unsigned char *)malloc((size_t)rows * row_bytes);
    if (row == NULL || blocks == NULL)
        log_fatal("cuda weight_upload: out of host memory quantizing %lld x %lld",
                  (long long)rows, (long long)cols);
    for (int64_t r = 0; r < rows; r++) {
        dtype_to_f32(row, (const char *)src + (size_t)(r * cols) * esz, src_type, cols);
        if (w.format == WEIGHT_NF4)
            quant_nf4_quantize(row, blocks + (size_t)r * row_bytes, padded);
        else
            quant_quantize(ggml, row,
                           blocks + (size_t)r * row_bytes, padded);
    }
    cuda_upload_raw(w.data, blocks, (size_t)rows * row_bytes);
    cuda_sync(); /* the host copy goes now */
    free(blocks);
    free(row);
}

void cuda_weight_upload_blocks(Weight w, const void *src, int64_t rows, int64_t cols) {
    check_format(w.format, "weight_upload_blocks");
    cuda_upload_raw(w.data, src, (size_t)rows * wq_row_bytes(w.format, cols));
}

/* io/base/quant_encode.c's NF4 levels. */
__constant__ float wq_nf4_levels[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

/* ---- decoding one element k of a row of blocks (io/base/quant.c's arithmetic) */
__device__ __forceinline__ float wq_half(const uint8_t *p) {
    return __half2float(__ushort_as_half((unsigned short)(p[0] | p[1] << 8)));
}

__device__ __forceinline__ float wq_elem(int fmt, const uint8_t *row, int64_t k) {
    switch (fmt) {
    case WEIGHT_Q8_0: {
        const uint8_t *b = row + (k / 32) * 34;
        return (float)(int8_t)b[2 + k % 32] * wq_half(b);
    }
    case WEIGHT_Q4_0: {
        const uint8_t *b = row + (k / 32) * 18;
        const int i = (int)(k % 32), q = i < 16 ? b[2 + i] & 0x0F : b[2 + i - 16] >> 4;
        return wq_half(b) * (float)(q - 8);
    }
    case WEIGHT_Q4_1: {
        const uint8_t *b = row + (k / 32) * 20;
        const int i = (int)(k % 32), q = i < 16 ? b[4 + i] & 0x0F : b[4 + i - 16] >> 4;
        return __fadd_rn(__fmul_rn(wq_half(b), (float)q), wq_half(b + 2));
    }
    case WEIGHT_Q4_K: {
        const uint8_t *b = row + (k / 256) * 144, *sc = b + 4, *qs = b + 16;
        const int e = (int)(k % 256), j = e / 32, l = e % 32;
        int s, m;
        if (j < 4) {
            s = sc[j] & 63;
            m = sc[j + 4] & 63;
        } else {
            s = (sc[j + 4] & 0x0F) | ((sc[j - 4] >> 6) << 4);
            m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
        }
        const int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0F;
        const float dj = wq_half(b) * (float)s, mj = wq_half(b + 2) * (float)m;
        return __fsub_rn(__fmul_rn(dj, (float)q), mj);
    }
    case WEIGHT_Q6_K: {
        const uint8_t *b = row + (k / 256) * 210, *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        const int e = (int)(k % 256), h = e / 128, r = (e % 128) / 32, l = e % 32;
        const int lo = (ql[64 * h + 32 * (r % 2) + l] >> (4 * (r / 2))) & 0x0F;
        const int hi = (qh[32 * h + l] >> (2 * r)) & 3;
        return __fmul_rn(wq_half(b + 208) * (float)sc[e / 16], (float)((lo | hi << 4) - 32));
    }
    case WEIGHT_NF4: {
        const uint8_t *b = row + (k / 64) * 36;
        float absmax;
        memcpy(&absmax, b, 4);
        const int i = (int)(k % 64), byte = b[4 + i / 2];
        return wq_nf4_levels[i % 2 == 0 ? byte >> 4 : byte & 0x0F] * absmax;
    }
    default: return 0.0f;
    }
}

/* Rows [n0, n0 + rows) of w (row_bytes each) into dst (rows, K) bf16. */
__global__ void wq_dequant_kernel(bf16 *dst, const uint8_t *w, size_t row_bytes, int fmt,
                                  int64_t n0, int64_t rows, int64_t K) {
    const int64_t total = rows * K;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = to_bf(wq_elem(fmt, w + (size_t)(n0 + i / K) * row_bytes, i % K));
}

/* ---- the embedding lookup over a vocabulary range (ops_list.h embed_fwd): a table in
 * bf16 (fp32 and bf16 weights alike) is copied, one in a block format decoded element by
 * element as the matmuls decode it (wq_elem), so a tied lm_head sees the same numbers. */
#define WQ_EMBED_THREADS 256

__global__ void wq_embed_kernel(bf16 *out, const int32_t *ids, const uint8_t *table,
                                size_t row_bytes, int fmt, int64_t T, int64_t D, int64_t v0,
                                int64_t V) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < T * D;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / D, d = i % D, r = (int64_t)ids[t] - v0;
        if (r < 0 || r >= V)
            out[i] = to_bf(0.0f);
        else if (fmt == WEIGHT_ELEM || fmt == WEIGHT_BF16)
            out[i] = ((const bf16 *)table)[r * D + d];
        else
            out[i] = to_bf(wq_elem(fmt, table + (size_t)r * row_bytes, d));
    }
}

void cuda_embed_fwd(void *out, const int32_t *ids, Weight table, int64_t T, int64_t D,
                    int64_t v0, int64_t V) {
    check_format(table.format, "embed_fwd");
    if (T <= 0 || D <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    const size_t row_bytes = table.format == WEIGHT_ELEM || table.format == WEIGHT_BF16
                                 ? (size_t)D * 2
                                 : wq_row_bytes(table.format, D);
    wq_embed_kernel<<<cuda_grid(T * D, WQ_EMBED_THREADS), WQ_EMBED_THREADS, 0, ctx->stream>>>(
        (bf16 *)out, ids, (const uint8_t *)table.data, row_bytes, (int)table.format, T, D, v0,
        V);
    cuda_op_done(ctx, "embed_fwd");
}

/* out (M,N) += bias (N) broadcast over rows. */
__global__ void wq_bias_kernel(bf16 *out, const bf16 *bias, int64_t M, int64_t N) {
    const int64_t total = M * N;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = to_bf(ld_bf(out, i) + ld_bf(bias, i % N));
}

/* The simple twin's forward: one 16 x 16 tile of out (M,N) per block; per 32-column step
 * a tile of x and the matching tile of w, dequantized, in shared memory as bf16. */
__global__ void wq_fwd_simple_kernel(bf16 *out, const bf16 *x, const uint8_t *w,
                                     size_t row_bytes, int fmt, int64_t M, int64_t N,
                                     int64_t K, float beta) {
    __shared__ bf16 xs[WQ_TILE][WQ_KT], ws[WQ_TILE][WQ_KT];
    const int tx = threadIdx.x, ty = threadIdx.y; /* 16 x 16 threads: (n, m) */
    const int64_t m0 = (int64_t)blockIdx.y * WQ_TILE, n0 = (int64_t)blockIdx.x * WQ_TILE;
    float acc = 0.0f;
    for (int64_t k0 = 0; k0 < K; k0 += WQ_KT) {
        for (int c = tx; c < WQ_KT; c += WQ_TILE) {
            const int64_t k = k0 + c, m = m0 + ty, n = n0 + ty;
            xs[ty][c] = m < M && k < K ? x[m * K + k] : to_bf(0.0f);
            ws[ty][c] = n < N && k < K ? to_bf(wq_elem(fmt, w + (size_t)n * row_bytes, k))
                                       : to_bf(0.0f);
        }
        __syncthreads();
        for (int c = 0; c < WQ_KT; c++)
            acc = fmaf(__bfloat162float(xs[ty][c]), __bfloat162float(ws[tx][c]), acc);
        __syncthreads();
    }
    const int64_t m = m0 + ty, n = n0 + tx;
    if (m < M && n < N)
        out[m * N + n] = to_bf(beta != 0.0f ? ld_bf(out, m * N + n) + acc : acc);
}

/* The simple twin's backward: one 16 x 16 tile of dx (M,K) per block, over 32-row steps
 * of w. */
__global__ void wq_bwd_simple_kernel(bf16 *dx, const bf16 *dy, const uint8_t *w,
                                     size_t row_bytes, int fmt, int64_t M, int64_t N,
                                     int64_t K, float beta) {
    __shared__ bf16 gs[WQ_TILE][WQ_KT], ws[WQ_KT][WQ_TILE];
    const int tx = threadIdx.x, ty = threadIdx.y; /* (k, m) */
    const int64_t m0 = (int64_t)blockIdx.y * WQ_TILE, k0 = (int64_t)blockIdx.x * WQ_TILE;
    float acc = 0.0f;
    for (int64_t n0 = 0; n0 < N; n0 += WQ_KT) {
        for (int c = tx; c < WQ_KT; c += WQ_TILE) {
            const int64_t n = n0 + c, m = m0 + ty;
            gs[ty][c] = m < M && n < N ? dy[m * N + n] : to_bf(0.0f);
        }
        for (int r = ty; r < WQ_KT; r += WQ_TILE) {
            const int64_t n = n0 + r, k = k0 + tx;
            ws[r][tx] = n < N && k < K ? to_bf(wq_elem(fmt, w + (size_t)n * row_bytes, k))
                                       : to_bf(0.0f);
        }
        __syncthreads();
        for (int c = 0; c < WQ_KT; c++)
            acc = fmaf(__bfloat162float(gs[ty][c]), __bfloat162float(ws[c][tx]), acc);
        __syncthreads();
    }
    const int64_t m = m0 + ty, k = k0 + tx;
    if (m < M && k < K)
        dx[m * K + k] = to_bf(beta != 0.0f ? ld_bf(dx, m * K + k) + acc : acc);
}

/* Weight rows per fast-path chunk. */
static int64_t wq_chunk_rows(int64_t N, int64_t K) {
    int64_t c = (int64_t)(WQ_SCRATCH_BYTES / ((size_t)K * 2));
    return c < 1 ? 1 : c > N ? N : c;
}

static void wq_fwd(CudaCtx *ctx, bf16 *out, const bf16 *x, Weight w, int64_t M, int64_t N,
                   int64_t K, float beta) {
    const size_t rb = wq_row_bytes(w.format, K);
    const uint8_t *wb = (const uint8_t *)w.data;
    if (ctx->simple_kernels) {
        const dim3 grid((unsigned)((N + WQ_TILE - 1) / WQ_TILE),
                        (unsigned)((M + WQ_TILE - 1) / WQ_TILE)),
            block(WQ_TILE, WQ_TILE);
        wq_fwd_simple_kernel<<<grid, block, 0, ctx->stream>>>(out, x, wb, rb, (int)w.format,
                                                              M, N, K, beta);
        return;
    }
    const int64_t chunk = wq_chunk_rows(N, K);
    bf16 *tile = (bf16 *)cuda_scratch(ctx, (size_t)(chunk * K) * 2);
    const float alpha = 1.0f;
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
        const int64_t rows = N - n0 < chunk ? N - n0 : chunk;
        wq_dequant_kernel<<<cuda_grid(rows * K, 256), 256, 0, ctx->stream>>>(
            tile, wb, rb, (int)w.format, n0, rows, K);
        /* out[:, n0:n0+rows]^T (rows, M; ld N) = tile (K, rows col-major)^T . x^T */
        CUBLAS_CHECK_FATAL(cublasGemmEx(
            ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, cuda_int(rows, "wmatmul_fwd rows"),
            cuda_int(M, "wmatmul_fwd M"), cuda_int(K, "wmatmul_fwd K"), &alpha, tile,
            CUDA_R_16BF, (int)K, x, CUDA_R_16BF, (int)K, &beta, out + n0, CUDA_R_16BF,
            cuda_int(N, "wmatmul_fwd N"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

static void wq_bwd(CudaCtx *ctx, bf16 *dx, const bf16 *dy, Weight w, int64_t M, int64_t N,
                   int64_t K, float beta) {
    const size_t rb = wq_row_bytes(w.format, K);
    const uint8_t *wb = (const uint8_t *)w.data;
    if (ctx->simple_kernels) {
        const dim3 grid((unsigned)((K + WQ_TILE - 1) / WQ_TILE),
                        (unsigned)((M + WQ_TILE - 1) / WQ_TILE)),
            block(WQ_TILE, WQ_TILE);
        wq_bwd_simple_kernel<<<grid, block, 0, ctx->stream>>>(dx, dy, wb, rb, (int)w.format,
                                                              M, N, K, beta);
        return;
    }
    const int64_t chunk = wq_chunk_rows(N, K);
    bf16 *tile = (bf16 *)cuda_scratch(ctx, (size_t)(chunk * K) * 2);
    const float alpha = 1.0f;
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
        const int64_t rows = N - n0 < chunk ? N - n0 : chunk;
        const float b = n0 == 0 ? beta : 1.0f;
        wq_dequant_kernel<<<cuda_grid(rows * K, 256), 256, 0, ctx->stream>>>(
            tile, wb, rb, (int)w.format, n0, rows, K);
        /* dx^T (K, M) (+)= tile^T (K, rows; col-major ld K) . dy[:, n0:n0+rows]^T (ld N) */
        CUBLAS_CHECK_FATAL(cublasGemmEx(
            ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, cuda_int(K, "wmatmul_bwd K"),
            cuda_int(M, "wmatmul_bwd M"), cuda_int(rows, "wmatmul_bwd rows"), &alpha, tile,
            CUDA_R_16BF, (int)K, dy + n0, CUDA_R_16BF, cuda_int(N, "wmatmul_bwd N"), &b, dx,
            CUDA_R_16BF, (int)K, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

void cuda_wmatmul_fwd(void *out, const void *x, Weight w, const void *bias, int64_t M,
                      int64_t N, int64_t K, int accumulate) {
    check_format(w.format, "wmatmul_fwd");
    if (w.format == WEIGHT_ELEM || w.format == WEIGHT_BF16) {
        cuda_matmul_fwd(out, x, w.data, bias, M, N, K, accumulate);
        return;
    }
    if (M <= 0 || N <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    if (K <= 0) {
        if (!accumulate)
            CUDA_CHECK_FATAL(cudaMemsetAsync(out, 0, (size_t)(M * N) * 2, ctx->stream));
    } else {
        wq_fwd(ctx, (bf16 *)out, (const bf16 *)x, w, M, N, K, accumulate ? 1.0f : 0.0f);
    }
    if (bias != NULL)
        wq_bias_kernel<<<cuda_grid(M * N, 256), 256, 0, ctx->stream>>>(
            (bf16 *)out, (const bf16 *)bias, M, N);
    cuda_op_done(ctx, "wmatmul_fwd");
}

void cuda_wmatmul_bwd(void *dx, const void *dy, Weight w, int64_t M, int64_t N, int64_t K,
                      int accumulate) {
    check_format(w.format, "wmatmul_bwd");
    if (w.format == WEIGHT_ELEM || w.format == WEIGHT_BF16) {
        cuda_matmul_bwd(dx, dy, w.data, M, N, K, accumulate);
        return;
    }
    if (M <= 0 || K <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    if (N <= 0) {
        if (!accumulate)
            CUDA_CHECK_FATAL(cudaMemsetAsync(dx, 0, (size_t)(M * K) * 2, ctx->stream));
    } else {
        wq_bwd(ctx, (bf16 *)dx, (const bf16 *)dy, w, M, N, K, accumulate ? 1.0f : 0.0f);
    }
    cuda_op_done(ctx, "wmatmul_bwd");
}
