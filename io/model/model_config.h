/* io/model/model_config.h -- a Hugging Face config.json read into the numbers the engine needs.
 * Supports LlamaForCausalLM (Llama 2, 3, 3.1, 3.2, 3.3: tied embeddings, rope_scaling
 * type "llama3", explicit head_dim), Qwen2ForCausalLM (q/k/v bias) and
 * MistralForCausalLM; any other architecture is refused by name. Also reads
 * generation_config.json when present (EOS ids). Pure data: no allocation survives. */
#ifndef TLM_IO_MODEL_CONFIG_H
#define TLM_IO_MODEL_CONFIG_H

#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ModelArch { ARCH_LLAMA = 0, ARCH_QWEN2, ARCH_MISTRAL } ModelArch;

typedef enum RopeScaling { ROPE_NONE = 0, ROPE_LLAMA3 } RopeScaling;

#define CFG_MAX_EOS 8

typedef struct ModelConfig {
    ModelArch arch;
    char arch_name[64];     /* as written in "architectures" */
    int64_t n_layers;       /* L */
    int64_t dim;            /* D, hidden_size */
    int64_t n_heads;        /* H */
    int64_t n_kv_heads;     /* KVH (num_key_value_heads, default H) */
    int64_t head_dim;       /* HD (explicit head_dim, default D / H) */
    int64_t ffn_dim;        /* F, intermediate_size */
    int64_t vocab_size;     /* V */
    int64_t max_pos;        /* max_position_embeddings */
    float rms_eps;
    float rope_theta;
    RopeScaling rope_scaling;
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int64_t rope_original_max_pos;
    int tie_embeddings;     /* lm_head shares embed_tokens */
    int qkv_bias;           /* q/k/v projections carry a bias (Qwen2) */
    int64_t bos_id;         /* -1 when absent */
    int64_t pad_id;         /* pad_token_id; -1 when absent (checked, never used) */
    int64_t eos_ids[CFG_MAX_EOS];
    int n_eos;
    char torch_dtype[16];   /* "bfloat16", "float16", "float32" or "" */
} ModelConfig;

/* Reads dir/config.json (and dir/generation_config.json when present). Errors name the
 * file, the key and what was expected. */
int cfg_load(const char *dir, ModelConfig *cfg, Err *err);

/* The same from config.json's and generation_config.json's objects already parsed
 * (jansson json_t, borrowed; gen may be NULL), named path and gen_path in messages: a
 * model whose config is made in memory (a GGUF file, io/convert/gguf_source.h). */
struct json_t;
int cfg_parse_json(const char *path, const struct json_t *root, const char *gen_path,
                   const struct json_t *gen, ModelConfig *cfg, Err *err);

/* Fills cos/sin (max_pos, head_dim/2) host fp32 tables, with llama3 scaling when set,
 * exactly as transformers' rope init functions compute inv_freq. */
void cfg_rope_tables(const ModelConfig *cfg, int64_t max_pos, float *cos_out, float *sin_out);

/* A stable 64-bit FNV-1a hash of the fields that change the model's numbers. */
uint64_t cfg_hash(const ModelConfig *cfg);

#ifdef __cplusplus
}
#endif
#endif
