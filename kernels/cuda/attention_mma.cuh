/* kernels/cuda/attention_mma.cuh -- private to the tensor-core attention kernels
 * (attention_fwd_tc.cu, attention_bwd_tc.cu): the mma.sync m16n8k16 wrapper, the
 * fragment packers and the padded shared-tile loader. Fragment layouts: PTX ISA,
 * "Matrix Fragments for mma.m16n8k16". With gr = lane / 4 and tq = lane % 4, a thread
 * holds of A (16x16, row-major) rows gr, gr + 8 at columns 2tq, 2tq + 1 (+8); of B (16x8,
 * "col": stored as its transpose, n rows of k) column gr at k rows 2tq, 2tq + 1 (+8); of
 * the accumulator (16x8 fp32) rows gr, gr + 8 at columns 2tq, 2tq + 1. So an accumulator
 * pair of n-tiles 2j, 2j + 1 is, re-packed to bf16, the A fragment of k-step j: a product
 * never leaves the registers before it is multiplied again. */
#ifndef TLM_KERNELS_CUDA_ATTENTION_MMA_CUH
#define TLM_KERNELS_CUDA_ATTENTION_MMA_CUH

#include "kernels/cuda/cuda_common.cuh"

#define TC_WARPS 4 /* warps per block of every tensor-core attention kernel */
#define TC_PAD 8   /* bf16 elements of padding per shared row: fragment loads spread */

/* D (16x8 fp32) += A (16x16 bf16, row) x B (16x8 bf16, col). Under TLM_CUDA_HOST_EMU the
 * kernels are compiled for the host and run lane by lane (tests/kernels/cuda/emu). */
__device__ __forceinline__ void mma_bf16(float *d, const uint32_t *a, const uint32_t *b) {
#ifdef TLM_CUDA_HOST_EMU
    emu_mma_bf16(d, a, b);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

/* Two adjacent bf16 of one row. */
__device__ __forceinline__ uint32_t ld_pair(const bf16 *p) {
    return *reinterpret_cast<const uint32_t *>(p);
}

/* Two bf16 from two rows (same column) packed low = first. */
__device__ __forceinline__ uint32_t pack_cols(const bf16 *lo, const bf16 *hi) {
    const uint32_t a = __bfloat16_as_ushort(*lo), b = __bfloat16_as_ushort(*hi);
    return a | (b << 16);
}

/* lo, hi rounded to bf16 and packed low = lo (memcpy: no type pun; one cvt on device). */
__device__ __forceinline__ uint32_t pack_f2(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* The A fragment of a 16x16 block at (row 0, column col0) of a padded shared tile whose
 * rows are HDP elements: rows gr, gr + 8, columns col0 + 2tq (+8). */
__device__ __forceinline__ void frag_a(uint32_t *a, const bf16 *tile, int HDP, int col0,
                                       int gr, int tq) {
    const bf16 *p = tile + gr * HDP + col0 + 2 * tq;
    a[0] = ld_pair(p);
    a[1] = ld_pair(p + 8 * HDP);
    a[2] = ld_pair(p + 8);
    a[3] = ld_pair(p + 8 * HDP + 8);
}

/* The B fragment of k-step col0 / 16 against 8 rows (n) of a padded shared tile
 * (B = rows^T: k runs along the row). */
__device__ __forceinline__ void frag_b_rows(uint32_t *b, const bf16 *tile, int HDP, int col0,
                                            int gr, int tq) {
    const bf16 *p = tile + gr * HDP + col0 + 2 * tq;
    b[0] = ld_pair(p);
    b[1] = ld_pair(p + 8);
}

/* The B fragment whose k runs down the rows of a padded shared tile (rows 0..15 from
 * `tile`) and whose n is columns col0..col0 + 7: two rows per register. */
__device__ __forceinline__ void frag_b_cols(uint32_t *b, const bf16 *tile, int HDP, int col0,
                                            int gr, int tq) {
    const bf16 *c = tile + 2 * tq * HDP + col0 + gr;
    b[0] = pack_cols(c, c + HDP);
    b[1] = pack_cols(c + 8 * HDP, c + 9 * HDP);
}

/* Rows [row0, row0 + n) of (row, head) matrix src (row stride `stride` elements) into a
 * padded shared tile of `rows` rows; rows at or beyond n become zeros. 16-byte copies by
 * the block's TC_WARPS * 32 threads; the caller synchronizes. */
template <int HD>
__device__ __forceinline__ void tc_load(bf16 *tile, const bf16 *src, int64_t row0, int64_t n,
                                        int rows, int64_t stride, int tid) {
    constexpr int CH = HD / 8; /* 16-byte chunks per row */
    for (int i = tid; i < rows * CH; i += TC_WARPS * 32) {
        const int r = i / CH, c = i % CH;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (r < n)
            val = *reinterpret_cast<const uint4 *>(src + (row0 + r) * stride + c * 8);
        *reinterpret_cast<uint4 *>(tile + r * (HD + TC_PAD) + c * 8) = val;
    }
}

#endif
