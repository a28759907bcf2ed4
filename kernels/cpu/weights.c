/* kernels/cpu/weights.c -- frozen weights in a storage format (kernels/ops.h WeightFormat):
 * fp32 (WEIGHT_ELEM, the reference: straight to matmul.c), bf16 (half the bytes) and the
 * block formats (ggml's Q8_0, Q4_0, Q4_1, Q4_K, Q6_K; QLoRA's NF4), all multiplied by the
 * one driver of wmatmul.c, which decodes a panel at a time into fp32: fp32 activations,
 * fp32 accumulation, the weights' own rounding the only precision lost. Uploads convert
 * (bf16: nearest even) or quantize row by row (io/base/quant.h), or copy blocks as a GGUF
 * file holds them. */
#include "kernels/cpu/cpu_ops.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/log.h"
#include "io/base/quant.h"
#include "kernels/cpu/matmul_avx512.h"
#include "kernels/cpu/wmatmul.h"

size_t cpu_weight_bytes(WeightFormat f, int64_t rows, int64_t cols) {
    switch (f) {
    case WEIGHT_ELEM: return (size_t)(rows * cols) * sizeof(float);
    case WEIGHT_BF16: return (size_t)(rows * cols) * sizeof(uint16_t);
    case WEIGHT_Q8_0:
    case WEIGHT_Q4_0:
    case WEIGHT_Q4_1:
    case WEIGHT_Q4_K:
    case WEIGHT_Q6_K:
    case WEIGHT_NF4: return (size_t)rows * weight_row_bytes(f, cols);
    }
    return 0;
}

static void upload_bf16(uint16_t *d, const void *src, DType src_type, int64_t n) {
    if (src_type == DTYPE_BF16) {
        memcpy(d, src, (size_t)n * sizeof *d);
        return;
    }
    const size_t esz = dtype_bytes(src_type);
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float f;
        dtype_to_f32(&f, (const char *)src + (size_t)i * esz, src_type, 1);
        d[i] = f32_to_bf16(f);
    }
}

/* Each row widened to fp32, zero-padded to whole blocks, quantized. */
static void upload_quantized(Weight w, const void *src, DType src_type, int64_t rows,
                             int64_t cols) {
    const int64_t be = weight_block_elems(w.format), padded = (cols + be - 1) / be * be;
    const size_t row_bytes = weight_row_bytes(w.format, cols), esz = dtype_bytes(src_type);
#pragma omp parallel
    {
        float *row = calloc((size_t)padded, sizeof *row);
        if (row == NULL)
            log_fatal("cpu weight_upload: out of memory for a %lld-float row",
                      (long long)padded);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            dtype_to_f32(row, (const char *)src + (size_t)(r * cols) * esz, src_type, cols);
            unsigned char *dst = (unsigned char *)w.data + (size_t)r * row_bytes;
            if (w.format == WEIGHT_NF4)
                quant_nf4_quantize(row, dst, padded);
            else
                quant_quantize((uint32_t)weight_ggml_type(w.format), row, dst, padded);
        }
        free(row);
    }
}

void cpu_weight_upload(Weight w, const void *src, DType src_type, int64_t rows, int64_t cols) {
    switch (w.format) {
    case WEIGHT_ELEM: cpu_upload(w.data, src, src_type, rows * cols); return;
    case WEIGHT_BF16: upload_bf16(w.data, src, src_type, rows * cols); return;
    case WEIGHT_Q4_K:
    case WEIGHT_Q6_K:
        log_fatal("cpu weight_upload: %s cannot be made from floats (only read from GGUF)",
                  weight_format_name(w.format));
    default: upload_quantized(w, src, src_type, rows, cols); return;
    }
}

void cpu_weight_upload_blocks(Weight w, const void *src, int64_t rows, int64_t cols) {
    memcpy(w.data, src, (size_t)rows * weight_row_bytes(w.format, cols));
}

void cpu_wmatmul_fwd(void *out, const void *x, Weight w, const void *bias, int64_t M,
                     int64_t N, int64_t K, int accumulate) {
    if (w.format == WEIGHT_ELEM) {
        cpu_matmul_fwd(out, x, w.data, bias, M, N, K, accumulate);
        return;
    }
    if (M <= 0 || N <= 0)
        return;
    float *o = out;
    float beta = accumulate ? 1.0f : 0.0f;
    if (bias != NULL) { /* bias first, then the product accumulates on top */
        const float *b = bias;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                o[m * N + n] = (accumulate ? o[m * N + n] : 0.0f) + b[n];
        beta = 1.0f;
    }
    if (K <= 0) {
        if (beta == 0.0f)
            memset(o, 0, (size_t)(M * N) * sizeof *o);
        return;
    }
    cpu_wmm_fwd(o, x, w, M, N, K, beta, cpu_avx512_usable());
}

void cpu_wmatmul_bwd(void *dx, const void *dy, Weight w, int64_t M, int64_t N, int64_t K,
                     int accumulate) {
    if (w.format == WEIGHT_ELEM) {
        cpu_matmul_bwd(dx, dy, w.data, M, N, K, accumulate);
        return;
    }
    if (M <= 0 || K <= 0)
        return;
    if (N <= 0) {
        if (!accumulate)
            memset(dx, 0, (size_t)(M * K) * sizeof(float));
        return;
    }
    cpu_wmm_bwd(dx, dy, w, M, N, K, accumulate ? 1.0f : 0.0f, cpu_avx512_usable());
}
