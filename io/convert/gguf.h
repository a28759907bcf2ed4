/* io/convert/gguf.h -- a read-only, bounds-checked view of one GGUF file (llama.cpp's format,
 * versions 2 and 3, little-endian): the metadata key/values, the tensor directory and
 * the tensors' bytes, mapped in place. gguf_open checks every length, count, offset,
 * alignment and tensor extent against the file before anything is used, and refuses a
 * malformed file with a message naming the file and the key or tensor. No conversion
 * or dequantization here (io/convert/gguf_convert.h, io/base/quant.h do those).
 * One Gguf per file; immutable after gguf_open, so readers may share it across threads. */
#ifndef TLM_IO_GGUF_H
#define TLM_IO_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* gguf_type (the value type ids of the metadata). */
typedef enum GgufType {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4,
    GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_UINT64 = 10, GGUF_INT64 = 11, GGUF_FLOAT64 = 12
} GgufType;

#define GGUF_MAX_DIMS 4

/* A string inside the mapping: n bytes, not NUL-terminated. */
typedef struct GgufStr {
    const char *s;
    uint64_t n;
} GgufStr;

/* An array value: count elements of elem_type. Scalars lie back to back at data; string
 * elements are reached through gguf_arr_str (their offsets are indexed at open). */
typedef struct GgufArr {
    GgufType elem_type;
    uint64_t count;
    const unsigned char *data; /* borrowed from the mapping */
    const GgufStr *strs;       /* (count) for GGUF_STRING arrays, else NULL; borrowed */
} GgufArr;

typedef struct GgufTensor {
    char name[96];
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ggml order: ne[0] is the innermost (row) length */
    uint32_t type;             /* ggml type id (io/base/quant.h) */
    int64_t n_elems;
    size_t n_bytes;
    const unsigned char *data; /* borrowed from the mapping, n_bytes long */
} GgufTensor;

typedef struct Gguf Gguf;

/* Maps and validates path (borrowed, copied). Refused: a short or truncated file, bad
 * magic, a version other than 2 or 3, counts the file cannot hold, a key or string
 * running past the end, a duplicate key or tensor name, an unknown value type, a
 * general.alignment that is not a power of two, a tensor with bad dims, a type
 * io/base/quant.h cannot dequantize (named, with the supported list), a row not a
 * multiple of its block, or an offset that is misaligned or runs past the end of the
 * data. Returns NULL + err. */
Gguf *gguf_open(const char *path, Err *err);
void gguf_close(Gguf *g); /* accepts NULL */

const char *gguf_path(const Gguf *g); /* borrowed */
uint32_t gguf_version(const Gguf *g);

int64_t gguf_n_tensors(const Gguf *g);
const GgufTensor *gguf_tensor(const Gguf *g, int64_t i);          /* borrowed */
const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name); /* NULL when absent */

/* 1 when the metadata holds key. */
int gguf_has(const Gguf *g, const char *key);

/* Typed reads of one key. Each fails (naming the file and the key) when the key is
 * absent or holds another type. gguf_get_int accepts every integer type (and checks the
 * value fits in int64); gguf_get_float FLOAT32 or FLOAT64; gguf_get_str copies the string
 * into a NUL-terminated owned buffer (free()) and refuses one holding a NUL byte. */
int gguf_get_int(const Gguf *g, const char *key, int64_t *out, Err *err);
int gguf_get_float(const Gguf *g, const char *key, double *out, Err *err);
int gguf_get_bool(const Gguf *g, const char *key, int *out, Err *err);
int gguf_get_str(const Gguf *g, const char *key, char **out, Err *err);
int gguf_get_arr(const Gguf *g, const char *key, GgufArr *out, Err *err);

/* The same with a default: an absent key leaves *out = dflt; a wrong type still fails. */
int gguf_opt_int(const Gguf *g, const char *key, int64_t dflt, int64_t *out, Err *err);
int gguf_opt_float(const Gguf *g, const char *key, double dflt, double *out, Err *err);
int gguf_opt_bool(const Gguf *g, const char *key, int dflt, int *out, Err *err);

/* Element i of an integer array as int64 (any integer element type). */
int64_t gguf_arr_int(const GgufArr *a, uint64_t i);
/* Element i of a FLOAT32 array. */
float gguf_arr_f32(const GgufArr *a, uint64_t i);

/* The name of a value type ("UINT32"), "?" for an unknown one. */
const char *gguf_type_name(uint32_t type);

#ifdef __cplusplus
}
#endif
#endif
