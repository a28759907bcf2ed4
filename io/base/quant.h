/* io/base/quant.h -- ggml's tensor element types (the type ids GGUF files carry) and the
 * block layouts of the quantized ones, with dequantization to fp32 that is bit-identical
 * to the `gguf` Python package's (gguf/quants.py, itself ggml-quants.c's
 * dequantize_row_*): the same float32 products and sums in the same order, no fused
 * multiply-add. A leaf beside dtype.h so that kernels/ may one day keep weights in these
 * blocks; it reads no files. Pure functions, safe from any thread. */
#ifndef TLM_IO_QUANT_H
#define TLM_IO_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ggml_type ids (ggml.h); only the ones with a name in quant_type_name are listed. */
typedef enum QuantType {
    QUANT_F32 = 0,
    QUANT_F16 = 1,
    QUANT_Q4_0 = 2,
    QUANT_Q4_1 = 3,
    QUANT_Q5_0 = 6,
    QUANT_Q5_1 = 7,
    QUANT_Q8_0 = 8,
    QUANT_Q8_1 = 9,
    QUANT_Q2_K = 10,
    QUANT_Q3_K = 11,
    QUANT_Q4_K = 12,
    QUANT_Q5_K = 13,
    QUANT_Q6_K = 14,
    QUANT_Q8_K = 15,
    QUANT_BF16 = 30,
} QuantType;

#define QUANT_QK 32  /* elements per block of the legacy formats (Q4_0, Q4_1, Q8_0) */
#define QUANT_QK_K 256 /* elements per super-block of the K formats */

/* The block layouts, as ggml-common.h declares them (all fields little-endian; d, m, dmin
 * are IEEE half floats). Element i of a block is reconstructed as noted. */
typedef struct QuantBlockQ8_0 { /* 34 bytes: y[i] = qs[i] * d */
    uint16_t d;
    int8_t qs[QUANT_QK];
} QuantBlockQ8_0;
typedef struct QuantBlockQ4_0 { /* 18 bytes: y[i] = (nibble i - 8) * d; low nibbles first */
    uint16_t d;
    uint8_t qs[QUANT_QK / 2];
} QuantBlockQ4_0;
typedef struct QuantBlockQ4_1 { /* 20 bytes: y[i] = d * nibble i + m */
    uint16_t d, m;
    uint8_t qs[QUANT_QK / 2];
} QuantBlockQ4_1;
typedef struct QuantBlockQ4_K { /* 144 bytes: 8 sub-blocks of 32, 6-bit scale and min each */
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[QUANT_QK_K / 2];
} QuantBlockQ4_K;
typedef struct QuantBlockQ5_K { /* 176 bytes: Q4_K plus one high bit per element in qh */
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[QUANT_QK_K / 8];
    uint8_t qs[QUANT_QK_K / 2];
} QuantBlockQ5_K;
typedef struct QuantBlockQ6_K { /* 210 bytes: 16 sub-blocks of 16, int8 scale each */
    uint8_t ql[QUANT_QK_K / 2];
    uint8_t qh[QUANT_QK_K / 4];
    int8_t scales[QUANT_QK_K / 16];
    uint16_t d;
} QuantBlockQ6_K;

/* The name of a ggml type id ("Q4_K"), or NULL for an id this table does not know. */
const char *quant_type_name(uint32_t type);
/* 1 when quant_dequantize handles the type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K,
 * Q6_K. */
int quant_supported(uint32_t type);
/* The names of the supported types, comma-separated (static), for error messages. */
const char *quant_supported_list(void);
/* Elements and bytes per block of a supported type (1 and the element size for the
 * float types); 0 for an unsupported one. */
int64_t quant_block_elems(uint32_t type);
size_t quant_block_bytes(uint32_t type);

/* Bytes that n_elems elements of a supported type occupy; -1 when n_elems is negative or
 * not a multiple of the block, or the size overflows. */
int64_t quant_bytes(uint32_t type, int64_t n_elems);

/* Dequantizes n_elems elements (a multiple of the type's block; see quant_bytes) from src
 * (host, quant_bytes(type, n_elems) bytes, any alignment) into dst (host, n_elems floats).
 * The caller checks the type is supported and the sizes fit; nothing is validated here. */
void quant_dequantize(uint32_t type, const void *src, float *dst, int64_t n_elems);

/* ---- encoding (the other direction), and NF4 ----
 * NF4 is QLoRA's NormalFloat-4 (Dettmers et al. 2023, bitsandbytes' quant_type "nf4"):
 * blocks of 64 elements, each the nearest of 16 fixed levels (quantiles of N(0,1) scaled
 * to [-1, 1], quant_nf4_levels) times the block's absmax, kept in fp32 (no double
 * quantization). Two codes a byte, the even element in the high nibble, as bitsandbytes
 * packs them. Not a ggml type: no GGUF file carries it. */
#define QUANT_NF4_BLOCK 64
typedef struct QuantBlockNF4 { /* 36 bytes: y[i] = levels[code i] * absmax */
    float absmax;
    uint8_t qs[QUANT_NF4_BLOCK / 2];
} QuantBlockNF4;

/* The 16 NF4 levels (static, ascending; bitsandbytes' NF4 code book). */
const float *quant_nf4_levels(void);
/* n_elems (a multiple of 64) floats of src into n_elems / 64 blocks at dst (any
 * alignment); a block whose absmax is 0 holds zeros. */
void quant_nf4_quantize(const float *src, void *dst, int64_t n_elems);
void quant_nf4_dequantize(const void *src, float *dst, int64_t n_elems);

/* 1 when quant_quantize can make the type from floats: Q8_0, Q4_0, Q4_1 (ggml's reference
 * quantizers, quantize_row_*_ref; the K formats need llama.cpp's search and are only read). */
int quant_encodable(uint32_t type);
/* n_elems floats (a multiple of the type's block) into blocks at dst (any alignment). */
void quant_quantize(uint32_t type, const float *src, void *dst, int64_t n_elems);

#ifdef __cplusplus
}
#endif
#endif
