/* kernels/cuda/elementwise.cu -- the memory-bound ops: SwiGLU and its gradient (also over
 * [gate | up] rows, swiglu_gu_*), residual add, per-row scaling, row scatter/gather (KV cache writes,
 * last-token gathers).
 * Grid-stride loops with 64-bit indices; fp32 math, one bf16 rounding per output.
 * Enqueues on the backend stream; does not synchronize. */
#include "kernels/cuda/cuda_common.cuh"

#define EW_THREADS 256

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float sigmoidf_(float g) { return 1.0f / (1.0f + expf(-g)); }

__global__ void swiglu_fwd_kernel(bf16 *out, const bf16 *gate, const bf16 *up, int64_t n) {
    GRID_STRIDE(i, n) {
        const float g = ld_bf(gate, i);
        out[i] = to_bf(g * sigmoidf_(g) * ld_bf(up, i));
    }
}

/* d/dg silu(g) = s (1 + g (1 - s)), s = sigmoid(g). dgate/dup may alias gate/up: each
 * element is read before it is written by the same thread. */
__global__ void swiglu_bwd_kernel(bf16 *dgate, bf16 *dup, const bf16 *dout, const bf16 *gate,
                                  const bf16 *up, int64_t n) {
    GRID_STRIDE(i, n) {
        const float g = ld_bf(gate, i), u = ld_bf(up, i), d = ld_bf(dout, i);
        const float s = sigmoidf_(g);
        const float dg = d * u * s * (1.0f + g * (1.0f - s));
        const float du = d * g * s;
        dgate[i] = to_bf(dg);
        dup[i] = to_bf(du);
    }
}

/* The swiglu kernels' math on rows of gu (T, 2F) = [gate | up]. Rows stride over the
 * grid's y, columns over its x: no 64-bit division per element (i / F, i % F would make
 * these memory-bound kernels compute-bound at Llama-3-8B's T 2048 x F 14336). */
#define GU_ROWS(t, T) for (int64_t t = blockIdx.y; t < (T); t += gridDim.y)
#define GU_COLS(j, F)                                                                     \
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < (F);            \
         j += (int64_t)gridDim.x * blockDim.x)

__global__ void swiglu_gu_fwd_kernel(bf16 *out, const bf16 *gu, int64_t T, int64_t F) {
    GU_ROWS(t, T) {
        const bf16 *row = gu + t * 2 * F;
        GU_COLS(j, F) {
            const float g = ld_bf(row, j);
            out[t * F + j] = to_bf(g * sigmoidf_(g) * ld_bf(row, F + j));
        }
    }
}

__global__ void swiglu_gu_bwd_kernel(bf16 *dgu, const bf16 *dout, const bf16 *gu, int64_t T,
                                     int64_t F) {
    GU_ROWS(t, T) {
        const bf16 *row = gu + t * 2 * F;
        bf16 *drow = dgu + t * 2 * F;
        GU_COLS(j, F) {
            const float g = ld_bf(row, j), u = ld_bf(row, F + j), d = ld_bf(dout, t * F + j);
            const float s = sigmoidf_(g);
            drow[j] = to_bf(d * u * s * (1.0f + g * (1.0f - s)));
            drow[F + j] = to_bf(d * g * s);
        }
    }
}

/* x: enough blocks for a row (capped), y: one per row up to 65535, then grid-stride. */
static dim3 gu_grid(int64_t T, int64_t F) {
    const int64_t bx = (F + EW_THREADS - 1) / EW_THREADS;
    return dim3((unsigned)(bx < 1024 ? bx : 1024), (unsigned)(T < 65535 ? T : 65535));
}

__global__ void add_kernel(bf16 *y, const bf16 *x, int64_t n) {
    GRID_STRIDE(i, n) y[i] = to_bf(ld_bf(y, i) + ld_bf(x, i));
}

/* Rows stride over the grid's y, columns over its x (no 64-bit division per element). */
__global__ void scale_rows_kernel(bf16 *x, const float *s, int64_t M, int64_t N) {
    for (int64_t m = blockIdx.y; m < M; m += gridDim.y) {
        const float sm = s[m];
        for (int64_t n = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; n < N;
             n += (int64_t)gridDim.x * blockDim.x)
            x[m * N + n] = to_bf(ld_bf(x, m * N + n) * sm);
    }
}

/* scatter: dst[idx[r]] = src[r]; gather: dst[r] = src[idx[r]] (rows of row_elems). */
__global__ void rows_move_kernel(bf16 *dst, const bf16 *src, const int32_t *idx,
                                 int64_t n_rows, int64_t row_elems, int scatter) {
    GRID_STRIDE(i, n_rows * row_elems) {
        const int64_t r = i / row_elems, e = i % row_elems;
        const int64_t other = (int64_t)idx[r] * row_elems + e;
        if (scatter)
            dst[other] = src[i];
        else
            dst[i] = src[other];
    }
}

void cuda_swiglu_fwd(void *out, const void *gate, const void *up, int64_t n) {
    if (n <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    swiglu_fwd_kernel<<<cuda_grid(n, EW_THREADS), EW_THREADS, 0, ctx->stream>>>(
        (bf16 *)out, (const bf16 *)gate, (const bf16 *)up, n);
    cuda_op_done(ctx, "swiglu_fwd");
}

void cuda_swiglu_bwd(void *dgate, void *dup, const void *dout, const void *gate,
                     const void *up, int64_t n) {
    if (n <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    swiglu_bwd_kernel<<<cuda_grid(n, EW_THREADS), EW_THREADS, 0, ctx->stream>>>(
        (bf16 *)dgate, (bf16 *)dup, (const bf16 *)dout, (const bf16 *)gate, (const bf16 *)up,
        n);
    cuda_op_done(ctx, "swiglu_bwd");
}

void cuda_swiglu_gu_fwd(void *out, const void *gu, int64_t T, int64_t F) {
    if (T <= 0 || F <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    swiglu_gu_fwd_kernel<<<gu_grid(T, F), EW_THREADS, 0, ctx->stream>>>(
        (bf16 *)out, (const bf16 *)gu, T, F);
    cuda_op_done(ctx, "swiglu_gu_fwd");
}

void cuda_swiglu_gu_bwd(void *dgu, const void *dout, const void *gu, int64_t T, int64_t F) {
    if (T <= 0 || F <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    swiglu_gu_bwd_kernel<<<gu_grid(T, F), EW_THREADS, 0, ctx->stream>>>(
        (bf16 *)dgu, (const bf16 *)dout, (const bf16 *)gu, T, F);
    cuda_op_done(ctx, "swiglu_gu_bwd");
}

void cuda_add(void *y, const void *x, int64_t n) {
    if (n <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    add_kernel<<<cuda_grid(n, EW_THREADS), EW_THREADS, 0, ctx->stream>>>((bf16 *)y,
                                                                         (const bf16 *)x, n);
    cuda_op_done(ctx, "add");
}

void cuda_scale_rows(void *x, const float *s, int64_t M, int64_t N) {
    if (M <= 0 || N <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    scale_rows_kernel<<<gu_grid(M, N), EW_THREADS, 0, ctx->stream>>>((bf16 *)x, s, M, N);
    cuda_op_done(ctx, "scale_rows");
}

void cuda_rows_scatter(void *dst, const int32_t *idx, const void *src, int64_t n_rows,
                       int64_t row_elems) {
    if (n_rows <= 0 || row_elems <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    rows_move_kernel<<<cuda_grid(n_rows * row_elems, EW_THREADS), EW_THREADS, 0,
                       ctx->stream>>>((bf16 *)dst, (const bf16 *)src, idx, n_rows, row_elems,
                                      1);
    cuda_op_done(ctx, "rows_scatter");
}

void cuda_rows_gather(void *dst, const void *src, const int32_t *idx, int64_t n_rows,
                      int64_t row_elems) {
    if (n_rows <= 0 || row_elems <= 0)
        return;
    CudaCtx *ctx = cuda_ctx();
    rows_move_kernel<<<cuda_grid(n_rows * row_elems, EW_THREADS), EW_THREADS, 0,
                       ctx->stream>>>((bf16 *)dst, (const bf16 *)src, idx, n_rows, row_elems,
                                      0);
    cuda_op_done(ctx, "rows_gather");
}
