/* io/convert/gguf_convert.h -- a GGUF model (llama.cpp's format; architectures llama and
 * qwen2) converted into a Hugging Face directory: model.safetensors (dequantized exactly,
 * F32 or BF16, q/k rows un-permuted for llama), config.json, generation_config.json,
 * tokenizer.json and tokenizer_config.json (with the file's chat_template). Each part
 * is a function of its own so tests can run them alone; gguf_convert runs them all and
 * writes config.json last, so an interrupted conversion never looks loadable. Reading
 * and validating the file is io/convert/gguf.h; the block formats io/base/quant.h. */
#ifndef TLM_IO_GGUF_CONVERT_H
#define TLM_IO_GGUF_CONVERT_H

#include <stdint.h>

#include "io/base/dtype.h"
#include "io/base/err.h"
#include "io/convert/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum GgufArch { GGUF_ARCH_LLAMA = 0, GGUF_ARCH_QWEN2 } GgufArch;

/* The model's shape and ids as the metadata states them (llama.cpp's key names). */
typedef struct GgufModel {
    GgufArch arch;
    char arch_name[16];     /* general.architecture: "llama" or "qwen2" */
    int64_t dim;            /* D, {arch}.embedding_length */
    int64_t ffn_dim;        /* F, {arch}.feed_forward_length */
    int64_t n_layers;       /* L, {arch}.block_count */
    int64_t n_heads;        /* H, {arch}.attention.head_count */
    int64_t n_kv_heads;     /* KVH, {arch}.attention.head_count_kv (default H) */
    int64_t head_dim;       /* HD, {arch}.attention.key_length (default D / H) */
    int64_t vocab_size;     /* V, the rows of token_embd.weight */
    int64_t ctx_len;        /* {arch}.context_length */
    float rope_theta;       /* {arch}.rope.freq_base (default 10000) */
    float rms_eps;          /* {arch}.attention.layer_norm_rms_epsilon */
    int tied;               /* no output.weight: lm_head is token_embd */
    int qkv_bias;           /* attn_q/k/v carry biases (qwen2) */
    int64_t bos_id, eos_id, pad_id; /* tokenizer.ggml.*_token_id, -1 when absent */
} GgufModel;

/* Reads and checks the model's metadata: an architecture other than llama or qwen2 is
 * refused by name, as are rope scaling, partial rotary embeddings and shapes that do not
 * divide. Errors name the file and the key. */
int gguf_model_read(const Gguf *g, GgufModel *m, Err *err);

/* Per-type tally of what gguf_write_weights converted (index: ggml type id < 40). */
typedef struct GgufWeightStats {
    int64_t n_tensors[40];
    int64_t n_elems[40];
} GgufWeightStats;

/* One Hugging Face tensor of a GGUF model and where its values lie in the file. */
typedef struct GgufHfTensor {
    char name[96];           /* HF name ("model.layers.0.self_attn.q_proj.weight") */
    const GgufTensor *src;   /* the file's tensor (borrowed from the Gguf) */
    int ndim;                /* 1 or 2 */
    int64_t shape[2];        /* HF shape (rows, cols); cols 0 for a vector */
    int64_t rope_heads;      /* > 0: rows stored in llama.cpp's rotary order, in heads of
                              * shape[0] / rope_heads rows (gguf_rope_src_row) */
} GgufHfTensor;

/* Every tensor of g under its Hugging Face name, in HF's order, into *out (owned-after-
 * return, free()), *n long. Each tensor of the file must be one this mapping knows and
 * have the shape the metadata implies, or it fails naming it (what gguf_write_weights
 * checks; it uses this list). */
int gguf_hf_tensors(const Gguf *g, const GgufModel *m, GgufHfTensor **out, int *n,
                    Err *err);

/* The stored row of HF row `row` of a tensor with rope_heads > 0 whose heads are
 * head_dim rows: llama.cpp interleaves each head's two rotary halves (convert_hf_to_gguf.py
 * LlamaModel.permute), so HF row i < head_dim/2 of a head is stored row 2i, row
 * head_dim/2 + i is 2i + 1. */
int64_t gguf_rope_src_row(int64_t row, int64_t head_dim);

/* Writes out_dir/model.safetensors (HF names, dtype F32 or BF16) atomically, one tensor
 * in memory at a time. Every tensor of the file must be one this mapping knows and have
 * the shape the metadata implies, or the conversion fails naming it; stats may be NULL. */
int gguf_write_weights(const Gguf *g, const GgufModel *m, DType dtype, const char *out_dir,
                       GgufWeightStats *stats, Err *err);

/* Writes out_dir/generation_config.json then out_dir/config.json (LlamaForCausalLM or
 * Qwen2ForCausalLM; torch_dtype from dtype), each atomically. */
int gguf_write_configs(const GgufModel *m, DType dtype, const char *out_dir, Err *err);

/* What gguf_write_configs and gguf_write_tokenizer write, built in memory instead
 * (jansson objects, each owned-after-return, json_decref; all NULL + err on failure):
 * config.json and generation_config.json, tokenizer.json and tokenizer_config.json. For
 * a GGUF file read in place (io/convert/gguf_source.h) and for the writers above. */
struct json_t;
int gguf_config_json(const GgufModel *m, DType dtype, struct json_t **config,
                     struct json_t **generation, Err *err);
int gguf_tokenizer_json(const Gguf *g, struct json_t **tokenizer, struct json_t **config,
                        Err *err);

/* Writes out_dir/tokenizer.json and out_dir/tokenizer_config.json (with chat_template when
 * the file has tokenizer.chat_template) from the tokenizer.ggml.* metadata: "gpt2"
 * (byte-level BPE, pre-tokenizer from tokenizer.ggml.pre) or "llama" (SentencePiece-style
 * BPE with byte fallback). Any other model or pre-tokenizer is refused by name. */
int gguf_write_tokenizer(const Gguf *g, const char *out_dir, Err *err);

/* The whole conversion of gguf_path into out_dir (created when missing): weights,
 * tokenizer, generation_config.json, config.json last. m and stats (may be NULL) receive
 * what was converted. */
int gguf_convert(const char *gguf_path, const char *out_dir, DType dtype, GgufModel *m,
                 GgufWeightStats *stats, Err *err);

#ifdef __cplusplus
}
#endif
#endif
