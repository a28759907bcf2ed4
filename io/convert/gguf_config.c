/* io/convert/gguf_config.c -- a GGUF file's model metadata read into a GgufModel, written out
 * as config.json and generation_config.json, and gguf_convert, which runs the parts in the
 * order that keeps an interrupted conversion visibly incomplete (an old config.json
 * removed first; weights, tokenizer, generation_config.json; config.json last). Keys follow llama.cpp's names
 * (gguf-py/gguf/constants.py Keys.LLM / Keys.Attention / Keys.Rope, prefixed with the
 * architecture); what transformers would need and the file cannot say (rope scaling,
 * partial rotary, experts) is refused rather than guessed. */
#include "io/convert/gguf_convert.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/convert_util.h"

#define GGUF_MAX_SIZE ((int64_t)1 << 24) /* any dimension; keeps products far from overflow */

static int arch_int(const Gguf *g, const char *arch, const char *suffix, int64_t dflt,
                    int64_t *out, Err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (dflt < 0 ? gguf_get_int(g, key, out, err) : gguf_opt_int(g, key, dflt, out, err))
        return -1;
    if (*out < 1 || *out > GGUF_MAX_SIZE)
        return err_set(err, "%s: key \"%s\": %lld, expected 1 to %lld", gguf_path(g), key,
                       (long long)*out, (long long)GGUF_MAX_SIZE);
    return 0;
}

static int read_arch(const Gguf *g, GgufModel *m, Err *err) {
    char *arch = NULL;
    if (gguf_get_str(g, "general.architecture", &arch, err) != 0)
        return -1;
    int rc = 0;
    if (strcmp(arch, "llama") == 0)
        m->arch = GGUF_ARCH_LLAMA;
    else if (strcmp(arch, "qwen2") == 0)
        m->arch = GGUF_ARCH_QWEN2;
    else
        rc = err_set(err, "%s: key \"general.architecture\": \"%s\" is not supported (tlm "
                     "converts llama and qwen2)", gguf_path(g), arch);
    if (rc == 0)
        snprintf(m->arch_name, sizeof m->arch_name, "%s", arch);
    free(arch);
    return rc;
}

/* What a Hugging Face Llama/Qwen2 config cannot express is refused, never dropped. */
static int refuse_unsupported(const Gguf *g, const GgufModel *m, Err *err) {
    const char *a = m->arch_name;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    if (gguf_has(g, key)) {
        char *type = NULL;
        if (gguf_get_str(g, key, &type, err) != 0)
            return -1;
        const int none = strcmp(type, "none") == 0;
        free(type);
        if (!none)
            return err_set(err, "%s: key \"%s\": rope scaling is not supported by tlm's GGUF "
                           "import (only unscaled RoPE)", gguf_path(g), key);
    }
    if (gguf_find_tensor(g, "rope_freqs.weight") != NULL)
        return err_set(err, "%s: tensor \"rope_freqs.weight\": per-frequency RoPE factors "
                       "(Llama 3.1-style scaling) are not supported by tlm's GGUF import",
                       gguf_path(g));
    int64_t experts = 0;
    snprintf(key, sizeof key, "%s.expert_count", a);
    if (gguf_opt_int(g, key, 0, &experts, err) != 0)
        return -1;
    if (experts > 0)
        return err_set(err, "%s: key \"%s\": %lld experts: mixture-of-experts models are not "
                       "supported", gguf_path(g), key, (long long)experts);
    return 0;
}

static int read_head_dims(const Gguf *g, GgufModel *m, Err *err) {
    const char *a = m->arch_name;
    if (m->n_heads % m->n_kv_heads != 0)
        return err_set(err, "%s: key \"%s.attention.head_count_kv\": %lld does not divide "
                       "head_count %lld", gguf_path(g), a, (long long)m->n_kv_heads,
                       (long long)m->n_heads);
    const int64_t dflt = m->dim % m->n_heads == 0 ? m->dim / m->n_heads : -1;
    int64_t v_len, rot;
    if (arch_int(g, a, "attention.key_length", dflt, &m->head_dim, err) != 0 ||
        arch_int(g, a, "attention.value_length", m->head_dim, &v_len, err) != 0 ||
        arch_int(g, a, "rope.dimension_count", m->head_dim, &rot, err) != 0)
        return -1;
    if (v_len != m->head_dim || rot != m->head_dim || m->head_dim % 2 != 0)
        return err_set(err, "%s: head size %lld (key), %lld (value), %lld rotary dimensions: "
                       "expected one even size for all three", gguf_path(g),
                       (long long)m->head_dim, (long long)v_len, (long long)rot);
    return 0;
}

static int read_vocab(const Gguf *g, GgufModel *m, Err *err) {
    const GgufTensor *emb = gguf_find_tensor(g, "token_embd.weight");
    if (emb == NULL)
        return err_set(err, "%s: tensor \"token_embd.weight\" is missing", gguf_path(g));
    if (emb->n_dims != 2 || emb->ne[0] != m->dim)
        return err_set(err, "%s: tensor \"token_embd.weight\": ggml shape [%lld, %lld], "
                       "expected [%lld (embedding_length), vocabulary]", gguf_path(g),
                       (long long)emb->ne[0], (long long)(emb->n_dims > 1 ? emb->ne[1] : 1),
                       (long long)m->dim);
    m->vocab_size = emb->ne[1];
    char key[128];
    snprintf(key, sizeof key, "%s.vocab_size", m->arch_name);
    int64_t v = m->vocab_size;
    if (gguf_opt_int(g, key, v, &v, err) != 0)
        return -1;
    if (v != m->vocab_size)
        return err_set(err, "%s: key \"%s\": %lld, but token_embd.weight has %lld rows",
                       gguf_path(g), key, (long long)v, (long long)m->vocab_size);
    m->tied = gguf_find_tensor(g, "output.weight") == NULL;
    m->qkv_bias = gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
    return 0;
}

int gguf_model_read(const Gguf *g, GgufModel *m, Err *err) {
    memset(m, 0, sizeof *m);
    if (read_arch(g, m, err) != 0 || refuse_unsupported(g, m, err) != 0)
        return -1;
    const char *a = m->arch_name;
    double theta, eps;
    char key[128];
    if (arch_int(g, a, "embedding_length", -1, &m->dim, err) ||
        arch_int(g, a, "feed_forward_length", -1, &m->ffn_dim, err) ||
        arch_int(g, a, "block_count", -1, &m->n_layers, err) ||
        arch_int(g, a, "attention.head_count", -1, &m->n_heads, err) ||
        arch_int(g, a, "attention.head_count_kv", m->n_heads, &m->n_kv_heads, err) ||
        arch_int(g, a, "context_length", 2048, &m->ctx_len, err) ||
        read_head_dims(g, m, err) || read_vocab(g, m, err))
        return -1;
    /* Each layer has 9 tensors: a count the file cannot hold would size the conversion's
     * tables (found by tests/fuzz/fuzz_gguf: block_count 2^28 asked for 7.7 GB). */
    if (m->n_layers > gguf_n_tensors(g) / 9)
        return err_set(err, "%s: key \"%s.block_count\": %lld layers, but the file holds "
                            "%lld tensors (9 per layer)", gguf_path(g), a,
                       (long long)m->n_layers, (long long)gguf_n_tensors(g));
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    if (gguf_opt_float(g, key, 10000.0, &theta, err) != 0)
        return -1;
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    if (gguf_get_float(g, key, &eps, err) != 0)
        return -1;
    m->rope_theta = (float)theta;
    m->rms_eps = (float)eps;
    /* checked as the float32 the model uses: a value that underflows to 0 or
     * overflows to inf would write a config.json that config loading refuses (found by
     * tests/fuzz/fuzz_gguf: a FLOAT64 epsilon 8.1e-48 became "rms_norm_eps": 0.0) */
    if (!(m->rope_theta > 0) || !isfinite(m->rope_theta) || !(m->rms_eps > 0) ||
        !isfinite(m->rms_eps))
        return err_set(err, "%s: rope.freq_base %g and layer_norm_rms_epsilon %g must be "
                       "positive and finite in float32", gguf_path(g), theta, eps);
    if (gguf_opt_int(g, "tokenizer.ggml.bos_token_id", -1, &m->bos_id, err) ||
        gguf_opt_int(g, "tokenizer.ggml.eos_token_id", -1, &m->eos_id, err) ||
        gguf_opt_int(g, "tokenizer.ggml.padding_token_id", -1, &m->pad_id, err))
        return -1;
    return 0;
}

static json_t *id_or_null(int64_t id) { return id >= 0 ? json_integer(id) : json_null(); }

int gguf_config_json(const GgufModel *m, DType dtype, json_t **config, json_t **generation,
                     Err *err) {
    *config = *generation = NULL;
    json_t *gen = json_object();
    json_object_set_new(gen, "bos_token_id", id_or_null(m->bos_id));
    json_object_set_new(gen, "eos_token_id", id_or_null(m->eos_id));
    if (m->pad_id >= 0)
        json_object_set_new(gen, "pad_token_id", json_integer(m->pad_id));
    const int qwen = m->arch == GGUF_ARCH_QWEN2;
    json_t *c = json_pack("{s:[s], s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:n, "
                          "s:b, s:s}",
                          "architectures", qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM",
                          "model_type", qwen ? "qwen2" : "llama",
                          "hidden_size", (json_int_t)m->dim,
                          "intermediate_size", (json_int_t)m->ffn_dim,
                          "num_hidden_layers", (json_int_t)m->n_layers,
                          "num_attention_heads", (json_int_t)m->n_heads,
                          "num_key_value_heads", (json_int_t)m->n_kv_heads,
                          "head_dim", (json_int_t)m->head_dim,
                          "vocab_size", (json_int_t)m->vocab_size,
                          "max_position_embeddings", (json_int_t)m->ctx_len,
                          "rms_norm_eps", conv_f32_decimal(m->rms_eps),
                          "rope_theta", conv_f32_decimal(m->rope_theta), "rope_scaling",
                          "tie_word_embeddings", m->tied, "hidden_act", "silu");
    if (c == NULL || gen == NULL) {
        json_decref(c);
        json_decref(gen);
        return err_set(err, "config.json: out of memory");
    }
    if (qwen) {
        json_object_set_new(c, "use_sliding_window", json_false());
    } else {
        json_object_set_new(c, "attention_bias", json_false());
        json_object_set_new(c, "mlp_bias", json_false());
    }
    json_object_set_new(c, "bos_token_id", id_or_null(m->bos_id));
    json_object_set_new(c, "eos_token_id", id_or_null(m->eos_id));
    if (m->pad_id >= 0)
        json_object_set_new(c, "pad_token_id", json_integer(m->pad_id));
    json_object_set_new(c, "torch_dtype", json_string(dtype == DTYPE_BF16 ? "bfloat16"
                                                                         : "float32"));
    *config = c;
    *generation = gen;
    return 0;
}

int gguf_write_configs(const GgufModel *m, DType dtype, const char *out_dir, Err *err) {
    json_t *c, *gen;
    if (gguf_config_json(m, dtype, &c, &gen, err) != 0)
        return err_prefix(err, "%s/", out_dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/generation_config.json", out_dir);
    if (conv_write_json(path, gen, err) != 0) { /* releases gen */
        json_decref(c);
        return -1;
    }
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    return conv_write_json(path, c, err);
}

int gguf_convert(const char *gguf_path, const char *out_dir, DType dtype, GgufModel *m,
                 GgufWeightStats *stats, Err *err) {
    Gguf *g = gguf_open(gguf_path, err);
    if (g == NULL)
        return -1;
    GgufModel local;
    if (m == NULL)
        m = &local;
    int rc = gguf_model_read(g, m, err);
    if (rc == 0)
        rc = conv_make_dirs(out_dir, err);
    if (rc == 0)
        rc = conv_remove_config(out_dir, err);
    if (rc == 0)
        rc = gguf_write_weights(g, m, dtype, out_dir, stats, err);
    if (rc == 0)
        rc = gguf_write_tokenizer(g, out_dir, err);
    if (rc == 0)
        rc = gguf_write_configs(m, dtype, out_dir, err);
    gguf_close(g);
    return rc;
}
