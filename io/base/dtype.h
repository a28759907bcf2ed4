/* io/base/dtype.h -- the element types tlm reads and writes, and conversions between them.
 * A leaf shared by io/ (safetensors) and kernels/ (upload); pure functions. */
#ifndef TLM_IO_DTYPE_H
#define TLM_IO_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum DType { DTYPE_F32 = 0, DTYPE_F16, DTYPE_BF16, DTYPE_I32, DTYPE_I64 } DType;

size_t dtype_bytes(DType t);
const char *dtype_name(DType t); /* safetensors spelling: "F32", "F16", "BF16", "I32", "I64" */
/* Parses the safetensors spelling; returns -1 for anything else. */
int dtype_parse(const char *s, DType *out);

float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f); /* round to nearest even, as torch does */
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  /* round to nearest even */

/* The index of the first NaN or infinity among n elements of src (host, F32/F16/BF16),
 * or -1 when all are finite; *is_nan tells which (may be NULL). Bit tests only: one
 * cheap pass, no conversion. */
int64_t dtype_first_nonfinite(const void *src, DType t, int64_t n, int *is_nan);

/* Widens n elements of src (host, F32/F16/BF16) to fp32 dst (host). */
void dtype_to_f32(float *dst, const void *src, DType t, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
