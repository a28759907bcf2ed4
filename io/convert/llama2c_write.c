/* io/convert/llama2c_write.c -- a mapped llama2.c checkpoint written as a Hugging Face Llama
 * directory: model.safetensors with HF names (wq/wk rows permuted from interleaved to
 * half-split RoPE), config.json and generation_config.json. Every file is atomic. */
#include "io/convert/llama2c.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/convert/convert_util.h"
#include "io/model/safetensors.h"

#define L2C_NAME_BYTES 96

typedef struct OutList {
    StOut *t;
    char (*names)[L2C_NAME_BYTES];
    int n;
} OutList;

static void add(OutList *o, const char *name, const float *data, int64_t d0, int64_t d1) {
    snprintf(o->names[o->n], L2C_NAME_BYTES, "%s", name);
    o->t[o->n] = (StOut){.name = o->names[o->n], .dtype = DTYPE_F32, .ndim = d1 > 0 ? 2 : 1,
                         .shape = {d0, d1 > 0 ? d1 : 0}, .data = data};
    o->n++;
}

int l2c_write_safetensors(const L2cModel *m, const char *out_dir, Err *err) {
    const L2cConfig *c = l2c_config(m);
    const L2cWeights *w = l2c_weights(m);
    const int64_t D = c->dim, F = c->hidden_dim, L = c->n_layers, V = c->vocab_size,
                  HD = c->head_dim, Q = c->n_heads * HD, KV = c->n_kv_heads * HD;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    const int n_max = 3 + 9 * (int)L;
    OutList o = {calloc((size_t)n_max, sizeof *o.t), calloc((size_t)n_max, sizeof *o.names), 0};
    float *q = malloc((size_t)(L * Q * D) * sizeof(float)); /* (L, Q, D) HF row order */
    float *k = malloc((size_t)(L * KV * D) * sizeof(float)); /* (L, KV, D) */
    int rc = 0;
    if (o.t == NULL || o.names == NULL || q == NULL || k == NULL) {
        rc = err_set(err, "%s: out of memory for the converted tensors", path);
        goto done;
    }
    add(&o, "model.embed_tokens.weight", w->token_embedding, V, D);
    for (int64_t l = 0; l < L; l++) {
        char n[L2C_NAME_BYTES];
        conv_rope_rows_to_halves(w->wq + l * Q * D, q + l * Q * D, c->n_heads, HD, D);
        conv_rope_rows_to_halves(w->wk + l * KV * D, k + l * KV * D, c->n_kv_heads, HD, D);
#define LAYER(suffix, data, d0, d1)                                                 \
    do {                                                                            \
        snprintf(n, sizeof n, "model.layers.%lld.%s", (long long)l, suffix);         \
        add(&o, n, data, d0, d1);                                                   \
    } while (0)
        LAYER("input_layernorm.weight", w->rms_att + l * D, D, 0);
        LAYER("self_attn.q_proj.weight", q + l * Q * D, Q, D);
        LAYER("self_attn.k_proj.weight", k + l * KV * D, KV, D);
        LAYER("self_attn.v_proj.weight", w->wv + l * KV * D, KV, D);
        LAYER("self_attn.o_proj.weight", w->wo + l * D * Q, D, Q);
        LAYER("post_attention_layernorm.weight", w->rms_ffn + l * D, D, 0);
        LAYER("mlp.gate_proj.weight", w->w1 + l * F * D, F, D);
        LAYER("mlp.down_proj.weight", w->w2 + l * D * F, D, F);
        LAYER("mlp.up_proj.weight", w->w3 + l * F * D, F, D);
#undef LAYER
    }
    add(&o, "model.norm.weight", w->rms_final, D, 0);
    if (!c->shared_classifier)
        add(&o, "lm_head.weight", w->wcls, V, D);
    const char *meta[] = {"format", "pt"}; /* what HF's save_pretrained writes */
    rc = st_write(path, o.t, o.n, meta, 1, err);
done:
    free(q);
    free(k);
    free(o.t);
    free(o.names);
    return rc;
}

/* The ids llama2.c's tokenizer uses: 1 <s>, 2 </s> (README of stories260K, run.c). */
#define L2C_BOS 1
#define L2C_EOS 2

int l2c_write_configs(const L2cModel *m, const char *out_dir, Err *err) {
    const L2cConfig *c = l2c_config(m);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/generation_config.json", out_dir);
    if (conv_write_json(path, json_pack("{s:i, s:i}", "bos_token_id", L2C_BOS, "eos_token_id",
                                  L2C_EOS), err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    json_t *root = json_pack(
        "{s:[s], s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:n, s:b, s:b, s:b, "
        "s:s, s:i, s:i, s:s}",
        "architectures", "LlamaForCausalLM", "model_type", "llama",
        "hidden_size", (json_int_t)c->dim, "intermediate_size", (json_int_t)c->hidden_dim,
        "num_hidden_layers", (json_int_t)c->n_layers,
        "num_attention_heads", (json_int_t)c->n_heads,
        "num_key_value_heads", (json_int_t)c->n_kv_heads, "head_dim", (json_int_t)c->head_dim,
        "vocab_size", (json_int_t)c->vocab_size, "max_position_embeddings",
        (json_int_t)c->seq_len, "rms_norm_eps", 1e-5, "rope_theta", 10000.0, "rope_scaling",
        "tie_word_embeddings", c->shared_classifier, "attention_bias", 0, "mlp_bias", 0,
        "hidden_act", "silu", "bos_token_id", L2C_BOS, "eos_token_id", L2C_EOS,
        "torch_dtype", "float32");
    return conv_write_json(path, root, err);
}
