/* io/convert/llama2c.h -- llama2.c checkpoints (karpathy/llama2.c, the legacy "version 0" .bin:
 * 7 int32 header then fp32 tensors) and their conversion to a Hugging Face Llama
 * directory (model.safetensors, config.json, generation_config.json). The tokenizer
 * half of the conversion lives in io/llama2c_tokenizer.h. Every size is checked against
 * the file before use; the file is mapped read-only, never modified. */
#ifndef TLM_IO_LLAMA2C_H
#define TLM_IO_LLAMA2C_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct L2cConfig {
    int64_t dim;        /* D */
    int64_t hidden_dim; /* F */
    int64_t n_layers;   /* L */
    int64_t n_heads;    /* H */
    int64_t n_kv_heads; /* KVH */
    int64_t vocab_size; /* V (the header stores -V when the classifier is untied) */
    int64_t seq_len;    /* max positions */
    int64_t head_dim;   /* HD = D / H */
    int shared_classifier; /* 1: logits use token_embedding (tied) */
} L2cConfig;

/* Weights, each borrowed from the mapping (valid until l2c_close), llama2.c layout. */
typedef struct L2cWeights {
    const float *token_embedding; /* (V, D) */
    const float *rms_att;         /* (L, D) */
    const float *wq;              /* (L, H*HD, D), interleaved RoPE pairs */
    const float *wk;              /* (L, KVH*HD, D), interleaved RoPE pairs */
    const float *wv;              /* (L, KVH*HD, D) */
    const float *wo;              /* (L, D, H*HD) */
    const float *rms_ffn;         /* (L, D) */
    const float *w1;              /* (L, F, D) gate */
    const float *w2;              /* (L, D, F) down */
    const float *w3;              /* (L, F, D) up */
    const float *rms_final;       /* (D) */
    const float *wcls;            /* (V, D); == token_embedding when shared */
} L2cWeights;

typedef struct L2cModel L2cModel; /* a mapped checkpoint */

/* Maps and validates path. Errors name the file and, for a short file, the tensor that
 * runs past its end. Returns NULL + err on failure. */
L2cModel *l2c_open(const char *path, Err *err);
void l2c_close(L2cModel *m); /* accepts NULL */
const L2cConfig *l2c_config(const L2cModel *m);   /* borrowed */
const L2cWeights *l2c_weights(const L2cModel *m); /* borrowed */

/* Writes out_dir/model.safetensors (F32, HF Llama names; lm_head.weight only when
 * untied), atomically. out_dir must exist. */
int l2c_write_safetensors(const L2cModel *m, const char *out_dir, Err *err);

/* Writes out_dir/generation_config.json then out_dir/config.json (LlamaForCausalLM),
 * each atomically. Written last by a conversion: a directory without config.json is
 * visibly incomplete. */
int l2c_write_configs(const L2cModel *m, const char *out_dir, Err *err);

#ifdef __cplusplus
}
#endif
#endif
