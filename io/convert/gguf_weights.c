/* io/convert/gguf_weights.c -- the tensors of a GGUF llama/qwen2 file written as Hugging
 * Face's model.safetensors. Names follow llama.cpp's tensor map (gguf-py
 * tensor_mapping.py: token_embd, blk.N.attn_q, ...); shapes are checked against the
 * metadata; every tensor of the file must be mapped (an unknown one is an error, never
 * dropped). Each tensor is dequantized (io/base/quant.h) while the file is written, so
 * memory holds one tensor. llama.cpp stores llama's q/k rows in RoPE's interleaved order
 * (convert_hf_to_gguf.py LlamaModel.permute, for weights and biases); they are put back
 * in Hugging Face's half-split order, as transformers' GGUF loader does. qwen2 files are
 * not permuted. */
#include "io/convert/gguf_convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/quant.h"
#include "io/convert/convert_util.h"
#include "io/model/safetensors.h"

#define NAME_BYTES 96

/* The HF tensors being listed (gguf_hf_tensors). */
typedef struct List {
    const Gguf *g;
    const GgufModel *m;
    GgufHfTensor *v;        /* (cap) */
    int n, cap;
} List;

/* The writer's state: the list, its StOut view and scratch. */
typedef struct Plan {
    const Gguf *g;
    DType dtype;
    const GgufHfTensor *t;  /* (n) */
    StOut *out;             /* (n) */
    int n;
    float *f32, *perm;      /* scratch, (max_elems) each */
    uint16_t *half;         /* scratch for BF16 output, (max_elems) */
    int64_t max_elems;
} Plan;

/* One HF tensor from GGUF tensor src_name, with the shape (d0[, d1]) the metadata implies. */
static int add(List *p, const char *src_name, const char *dst_name, int64_t d0, int64_t d1,
               int64_t rope_heads, Err *err) {
    const GgufTensor *t = gguf_find_tensor(p->g, src_name);
    if (t == NULL)
        return err_set(err, "%s: tensor \"%s\" is missing (a %s model of %lld layers has it)",
                       gguf_path(p->g), src_name, p->m->arch_name, (long long)p->m->n_layers);
    const int ndim = d1 > 0 ? 2 : 1;
    /* ggml lists the innermost dimension first: HF (d0, d1) is ggml [d1, d0]. */
    const int ok = t->n_dims == ndim &&
                   (ndim == 1 ? t->ne[0] == d0 : (t->ne[0] == d1 && t->ne[1] == d0));
    if (!ok)
        return err_set(err, "%s: tensor \"%s\": ggml shape [%lld%s%lld], expected [%lld%s%lld]"
                       " from the metadata", gguf_path(p->g), src_name, (long long)t->ne[0],
                       t->n_dims > 1 ? ", " : "", t->n_dims > 1 ? (long long)t->ne[1] : 0LL,
                       (long long)(ndim == 1 ? d0 : d1), ndim > 1 ? ", " : "",
                       ndim > 1 ? (long long)d0 : 0LL);
    if (p->n == p->cap)
        return err_set(err, "%s: more tensors than a %lld-layer model has", gguf_path(p->g),
                       (long long)p->m->n_layers);
    GgufHfTensor *h = &p->v[p->n++];
    snprintf(h->name, sizeof h->name, "%s", dst_name);
    h->src = t;
    h->ndim = ndim;
    h->shape[0] = d0;
    h->shape[1] = d1 > 0 ? d1 : 0;
    h->rope_heads = rope_heads;
    return 0;
}

static int add_layer(List *p, int64_t l, Err *err) {
    const GgufModel *m = p->m;
    const int64_t D = m->dim, F = m->ffn_dim, Q = m->n_heads * m->head_dim,
                  KV = m->n_kv_heads * m->head_dim;
    const int permute = m->arch == GGUF_ARCH_LLAMA;
    static const struct {
        const char *src, *dst;
        char rows, cols;  /* D, F, Q (H*HD), K (KVH*HD); cols 0: a vector */
        char rope;        /* 'q' or 'k': rows permuted by llama.cpp */
        char bias;        /* present only with qkv biases */
    } LAYER[] = {
        {"attn_norm.weight", "input_layernorm.weight", 'D', 0, 0, 0},
        {"attn_q.weight", "self_attn.q_proj.weight", 'Q', 'D', 'q', 0},
        {"attn_k.weight", "self_attn.k_proj.weight", 'K', 'D', 'k', 0},
        {"attn_v.weight", "self_attn.v_proj.weight", 'K', 'D', 0, 0},
        {"attn_q.bias", "self_attn.q_proj.bias", 'Q', 0, 'q', 1},
        {"attn_k.bias", "self_attn.k_proj.bias", 'K', 0, 'k', 1},
        {"attn_v.bias", "self_attn.v_proj.bias", 'K', 0, 0, 1},
        {"attn_output.weight", "self_attn.o_proj.weight", 'D', 'Q', 0, 0},
        {"ffn_norm.weight", "post_attention_layernorm.weight", 'D', 0, 0, 0},
        {"ffn_gate.weight", "mlp.gate_proj.weight", 'F', 'D', 0, 0},
        {"ffn_up.weight", "mlp.up_proj.weight", 'F', 'D', 0, 0},
        {"ffn_down.weight", "mlp.down_proj.weight", 'D', 'F', 0, 0},
    };
    for (size_t i = 0; i < sizeof LAYER / sizeof LAYER[0]; i++) {
        if (LAYER[i].bias && !m->qkv_bias)
            continue;
        char src[NAME_BYTES], dst[NAME_BYTES];
        snprintf(src, sizeof src, "blk.%lld.%s", (long long)l, LAYER[i].src);
        snprintf(dst, sizeof dst, "model.layers.%lld.%s", (long long)l, LAYER[i].dst);
        const char r = LAYER[i].rows, c = LAYER[i].cols;
        const int64_t rows = r == 'D' ? D : r == 'F' ? F : r == 'Q' ? Q : KV;
        const int64_t cols = c == 0 ? 0 : c == 'D' ? D : c == 'F' ? F : Q;
        const int64_t heads = !permute || !LAYER[i].rope ? 0
                              : LAYER[i].rope == 'q' ? m->n_heads : m->n_kv_heads;
        if (add(p, src, dst, rows, cols, heads, err) != 0)
            return -1;
    }
    return 0;
}

/* The HF tensors in HF's order; then every GGUF tensor must have been used exactly once. */
static int plan_tensors(List *p, Err *err) {
    const GgufModel *m = p->m;
    if (m->arch == GGUF_ARCH_LLAMA && m->qkv_bias)
        return err_set(err, "%s: tensor \"blk.0.attn_q.bias\": attention biases are not "
                       "supported for llama (tlm's LlamaForCausalLM has none)", gguf_path(p->g));
    if (m->arch == GGUF_ARCH_QWEN2 && !m->qkv_bias)
        return err_set(err, "%s: tensor \"blk.0.attn_q.bias\" is missing (qwen2 has q/k/v "
                       "biases)", gguf_path(p->g));
    if (add(p, "token_embd.weight", "model.embed_tokens.weight", m->vocab_size, m->dim, 0, err))
        return -1;
    for (int64_t l = 0; l < m->n_layers; l++)
        if (add_layer(p, l, err) != 0)
            return -1;
    if (add(p, "output_norm.weight", "model.norm.weight", m->dim, 0, 0, err) != 0)
        return -1;
    if (!m->tied && add(p, "output.weight", "lm_head.weight", m->vocab_size, m->dim, 0, err))
        return -1;
    for (int64_t i = 0; i < gguf_n_tensors(p->g); i++) {
        const GgufTensor *t = gguf_tensor(p->g, i);
        int used = 0;
        for (int k = 0; k < p->n && !used; k++)
            used = p->v[k].src == t;
        if (!used)
            return err_set(err, "%s: tensor \"%s\" has no Hugging Face counterpart in tlm's %s "
                           "mapping (a %lld-layer model)", gguf_path(p->g), t->name,
                           m->arch_name, (long long)m->n_layers);
    }
    return 0;
}

/* StProduce: tensor i dequantized, un-permuted when needed, narrowed to BF16 if asked. */
static int produce(void *ctx, int i, const void **data, Err *err) {
    Plan *p = ctx;
    const GgufHfTensor *s = &p->t[i];
    const GgufTensor *t = s->src;
    quant_dequantize(t->type, t->data, p->f32, t->n_elems);
    const float *v = p->f32;
    if (s->rope_heads > 0) {
        const int64_t rows = p->out[i].shape[0];
        const int64_t cols = p->out[i].ndim == 2 ? p->out[i].shape[1] : 1;
        if (rows % (s->rope_heads * 2) != 0)
            return err_set(err, "%s: tensor \"%s\": %lld rows do not split into %lld heads of "
                           "rotary pairs", gguf_path(p->g), t->name, (long long)rows,
                           (long long)s->rope_heads);
        conv_rope_rows_to_halves(p->f32, p->perm, s->rope_heads, rows / s->rope_heads, cols);
        v = p->perm;
    }
    if (p->dtype == DTYPE_BF16) {
        for (int64_t k = 0; k < t->n_elems; k++)
            p->half[k] = f32_to_bf16(v[k]);
        *data = p->half;
    } else {
        *data = v;
    }
    return 0;
}

int gguf_hf_tensors(const Gguf *g, const GgufModel *m, GgufHfTensor **out, int *n_out,
                    Err *err) {
    *out = NULL;
    *n_out = 0;
    List p = {.g = g, .m = m, .cap = (int)(3 + 12 * m->n_layers)};
    if ((p.v = calloc((size_t)p.cap, sizeof *p.v)) == NULL)
        return err_set(err, "%s: out of memory for the tensor list", gguf_path(g));
    if (plan_tensors(&p, err) != 0) {
        free(p.v);
        return -1;
    }
    *out = p.v;
    *n_out = p.n;
    return 0;
}

int gguf_write_weights(const Gguf *g, const GgufModel *m, DType dtype, const char *out_dir,
                       GgufWeightStats *stats, Err *err) {
    if (dtype != DTYPE_F32 && dtype != DTYPE_BF16)
        return err_set(err, "output dtype %s: expected F32 or BF16", dtype_name(dtype));
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    GgufHfTensor *list = NULL;
    Plan p = {.g = g, .dtype = dtype};
    int rc = gguf_hf_tensors(g, m, &list, &p.n, err);
    p.t = list;
    if (rc == 0 && (p.out = calloc((size_t)p.n, sizeof *p.out)) == NULL)
        rc = err_set(err, "%s: out of memory", path);
    for (int i = 0; rc == 0 && i < p.n; i++) {
        p.out[i] = (StOut){.name = list[i].name, .dtype = dtype, .ndim = list[i].ndim,
                           .shape = {list[i].shape[0], list[i].shape[1]}};
        if (list[i].src->n_elems > p.max_elems)
            p.max_elems = list[i].src->n_elems;
    }
    if (rc == 0) {
        p.f32 = malloc((size_t)p.max_elems * sizeof(float));
        p.perm = malloc((size_t)p.max_elems * sizeof(float));
        p.half = dtype == DTYPE_BF16 ? malloc((size_t)p.max_elems * sizeof(uint16_t)) : NULL;
        if (p.f32 == NULL || p.perm == NULL || (dtype == DTYPE_BF16 && p.half == NULL))
            rc = err_set(err, "%s: out of memory for a %lld-element tensor", path,
                         (long long)p.max_elems);
    }
    const char *meta[] = {"format", "pt"}; /* what HF's save_pretrained writes */
    if (rc == 0)
        rc = st_write_stream(path, p.out, p.n, meta, 1, produce, &p, err);
    if (rc == 0 && stats != NULL) {
        memset(stats, 0, sizeof *stats);
        for (int i = 0; i < p.n; i++) {
            const uint32_t ty = list[i].src->type < 40 ? list[i].src->type : 39;
            stats->n_tensors[ty]++;
            stats->n_elems[ty] += list[i].src->n_elems;
        }
    }
    free(p.f32);
    free(p.perm);
    free(p.half);
    free(p.out);
    free(list);
    return rc;
}

int64_t gguf_rope_src_row(int64_t row, int64_t head_dim) {
    const int64_t half = head_dim / 2, head = row / head_dim, j = row % head_dim;
    return head * head_dim + (j < half ? 2 * j : 2 * (j - half) + 1);
}
