/* launcher/bench/bench_model.h -- named random Llama-shaped models for benchmarks and tests.
 * A preset is a fixed shape (layers, hidden, heads, kv heads, ffn, vocab); bench_model_write
 * fills its weights from a seeded generator and writes a Hugging Face directory
 * (config.json + model.safetensors, F32, or BF16 for the bf16 presets) that tlm and transformers both load, so two
 * programs can measure the same weights. No tokenizer is written: benchmarks feed token
 * ids. Host memory only; not thread-safe. */
#ifndef TLM_WORKER_BENCH_MODEL_H
#define TLM_WORKER_BENCH_MODEL_H

#include <stdint.h>

#include "io/base/err.h"

/* Plain data: the shape of one preset. */
typedef struct BenchModelShape {
    const char *name; /* "llama-4x512" */
    int64_t n_layers, dim, n_heads, n_kv_heads, ffn_dim, vocab_size; /* L D H KVH F V */
    int64_t max_pos;  /* max_position_embeddings written to config.json */
    int bf16;         /* weights written in BF16 (uniform, std 0.02: fast enough for 8B) */
} BenchModelShape;

/* The preset called name (borrowed), or NULL when there is none. */
const BenchModelShape *bench_model_find(const char *name);

/* The preset names, comma-separated, for usage and error text (static storage). */
const char *bench_model_names(void);

/* Writes dir/model.safetensors then dir/config.json (each atomically; dir must exist) for
 * shape (borrowed). Weights as transformers' LlamaPreTrainedModel._init_weights draws them:
 * linear and embedding ~ N(0, 0.02), norms 1, lm_head untied; the normal draws come from
 * splitmix64 (seed) by Box-Muller, so a seed always gives the same file. Errors: out of
 * host memory, write failures (naming the file). */
int bench_model_write(const BenchModelShape *shape, uint64_t seed, const char *dir, Err *err);

#endif
