/* kernels/cuda/weights.cu -- the frozen-weight ops with a storage format (kernels/ops.h
 * WeightFormat). The CUDA backend keeps every weight in bf16, its element type, so
 * WEIGHT_ELEM and WEIGHT_BF16 are the same storage here and both go to the bf16 matmul
 * (matmul.cu) and upload (memory.cu). A format this backend does not know is a
 * programmer error (weight_bytes answered 0 for it): it stops with a message. */
#include "kernels/cuda/cuda_common.cuh"

static void check_format(WeightFormat f, const char *op) {
    if (f != WEIGHT_ELEM && f != WEIGHT_BF16)
        log_fatal("cuda %s: weight format %d is not supported by the CUDA backend", op, (int)f);
}

size_t cuda_weight_bytes(WeightFormat f, int64_t n) {
    return f == WEIGHT_ELEM || f == WEIGHT_BF16 ? (size_t)n * 2 : 0;
}

void cuda_weight_upload(Weight w, const void *src, DType src_type, int64_t n) {
    check_format(w.format, "weight_upload");
    cuda_upload(w.data, src, src_type, n);
}

void cuda_wmatmul_fwd(void *out, const void *x, Weight w, const void *bias, int64_t M,
                      int64_t N, int64_t K, int accumulate) {
    check_format(w.format, "wmatmul_fwd");
    cuda_matmul_fwd(out, x, w.data, bias, M, N, K, accumulate);
}

void cuda_wmatmul_bwd(void *dx, const void *dy, Weight w, int64_t M, int64_t N, int64_t K,
                      int accumulate) {
    check_format(w.format, "wmatmul_bwd");
    cuda_matmul_bwd(dx, dy, w.data, M, N, K, accumulate);
}
