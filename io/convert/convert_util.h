/* io/convert/convert_util.h -- what the converters (llama2.c, GGUF) share: writing a JSON
 * file the way Hugging Face does (2-space indent, keys in insertion order, a final
 * newline, atomically), the float32 values of a config in their shortest decimal form,
 * and the q/k row order change between RoPE layouts. No format knowledge here. */
#ifndef TLM_IO_CONVERT_UTIL_H
#define TLM_IO_CONVERT_UTIL_H

#include <jansson.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes root (owned: always released, also on error; NULL means a failed build) to
 * path atomically. Errors name the path. */
int conv_write_json(const char *path, json_t *root, Err *err);

/* mkdir -p: creates every missing component of dir (mode 0777 & ~umask); fails when dir
 * exists and is not a directory. */
int conv_make_dirs(const char *dir, Err *err);

/* Removes dir/config.json if present: a conversion into a directory that held one must not
 * look loadable until its own config.json is written, last. */
int conv_remove_config(const char *dir, Err *err);

/* The shortest decimal that reads back as the float32 f, as a double (1e-5f -> 1e-05,
 * where widening gives 9.99999974738e-06), so configs show what the file meant. */
double conv_f32_decimal(float f);

/* Reorders the rows of one projection from RoPE's interleaved pairs (llama2.c, and
 * llama.cpp's GGUF for llama: its convert_hf_to_gguf permute) to Hugging Face's halves,
 * per head: dst row h*HD + i = src row h*HD + 2i, dst row h*HD + HD/2 + i = src row
 * h*HD + 2i + 1 (the inverse of HF's convert_llama_weights_to_hf permute).
 * src, dst: host (n_heads*head_dim, n_cols), not overlapping. */
void conv_rope_rows_to_halves(const float *src, float *dst, int64_t n_heads, int64_t head_dim,
                              int64_t n_cols);

#ifdef __cplusplus
}
#endif
#endif
