/* tests/worker/wtest.h -- helpers for the worker tests: a tiny random model written as a
 * Hugging Face directory, typed reads from safetensors files (golden files), setting an
 * adapter's parameters from host arrays. Checks and reports go through the harness of
 * tests/testutil.h (tu_fail, tu_note, tu_check_rc, tu_report). Single-threaded test code. */
#ifndef TLM_TESTS_WORKER_WTEST_H
#define TLM_TESTS_WORKER_WTEST_H

#include <stddef.h>
#include <stdint.h>

#include "io/model/safetensors.h"
#include "worker/adapter/lora.h"

/* A tiny Llama-family model's shape; qkv_bias makes it Qwen2ForCausalLM. */
typedef struct TinySpec {
    int64_t L, D, H, KVH, HD, F, V, max_pos;
    int qkv_bias, tie;
    uint64_t seed;
} TinySpec;

/* Writes dir/config.json and dir/model.safetensors (F32, weights ~ U(-s, s) with
 * scales that keep activations O(1)); creates dir. Exits the test on failure. */
void wt_make_tiny_model(const char *dir, const TinySpec *spec);

/* Uniform floats in [lo, hi) from splitmix64 state *s. */
void wt_fill(float *x, int64_t n, uint64_t *s, double lo, double hi);

/* Seeded prompts for generation tests: n_prompts prompts of lens[p] token ids in
 * [0, vocab) packed into ids (room for their sum); returns that sum. */
int wt_random_prompts(int32_t *ids, const int32_t *lens, int n_prompts, uint64_t seed, int vocab);
/* A training batch of n_seqs sequences of lens[s] tokens: seeded ids (wt_random_prompts,
 * seed 1234) into *tok and a loss mask marking two of every three targets into *mask
 * (both owned-after-return, free()); returns the token count. */
int64_t wt_masked_batch(const int32_t *lens, int n_seqs, int vocab, int32_t **tok,
                        uint8_t **mask);

/* The path of ../shared's SmolLM2-135M-Instruct Q4_1 GGUF into path (n bytes); skips the
 * test (exit 77) when ../shared is absent. */
void wt_smollm2_gguf(char *path, size_t n);

/* Opens path or exits the test with the error (exit 1). */
SafeTensors *wt_st_open(const char *path);
/* Copies tensor name of n elements into a new host array (owned-after-return, free()),
 * widened to fp32 (F32/F16/BF16) or kept as int32 (I32/I64 narrowed); exits on a missing
 * tensor or wrong element count (n < 0 accepts any, *n_out gets it). */
float *wt_get_f32(const SafeTensors *st, const char *name, int64_t n, int64_t *n_out);
int32_t *wt_get_i32(const SafeTensors *st, const char *name, int64_t n, int64_t *n_out);
/* 1 when the file has the tensor. */
int wt_has(const SafeTensors *st, const char *name);
/* The worst norm-wise relative error of any A or B of l against the golden tensors
 * "<prefix>.<lora_key>" of st (NaN when any is NaN); exits on a missing tensor. */
double wt_adapter_err(const Lora *l, const SafeTensors *st, const char *prefix);

/* Sets every view's A and B of l to uniform values in [-s, s) (host -> backend). */
void wt_lora_randomize(Lora *l, uint64_t seed, float s);

#endif
