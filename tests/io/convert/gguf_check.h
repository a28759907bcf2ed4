/* tests/io/convert/gguf_check.h -- checks shared by the GGUF conversion tests: a converted
 * directory's tensors against the checksums of tests/ref/make_gguf_golden.py, its
 * per-sequence CE through the engine against a float64 reference, its tokenizer against
 * golden ids. Each returns its failure count and prints what it measured. */
#ifndef TLM_TESTS_GGUF_CHECK_H
#define TLM_TESTS_GGUF_CHECK_H

#include <jansson.h>
#include <stdint.h>

/* make_gguf_golden.py's wsum64 over n little-endian elements of elem_bytes (4 or 2). */
uint64_t gc_wsum64(const void *data, int64_t n, int elem_bytes);

/* Every tensor of want ({name: {"shape": [...], key: "hex"}}) is in dir's safetensors with
 * that shape and checksum (key "f32" for F32 files, "bf16" for BF16), and dir holds no
 * other tensor. With "values"/"at" present, the worst |got - want| is reported too. */
int gc_check_tensors(const char *dir, const json_t *want, const char *key);

/* model_forward on each sequence of seqs (JSON arrays of ids): |ce - want| <= atol.
 * *max_diff receives the largest difference. */
int gc_check_ce(const char *dir, const json_t *seqs, const json_t *want, double atol,
                double *max_diff);

/* tok_encode(add_special = 0) of each string equals the ids; returns mismatches. */
int gc_check_tok(const char *dir, const json_t *strings, const json_t *ids);

#endif
