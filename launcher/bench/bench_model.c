/* launcher/bench/bench_model.c -- random Llama-shaped models for benchmarks (see bench_model.h).
 * One host allocation holds every tensor, carved in the order the safetensors file lists
 * them; the values are a pure function of (preset, seed), independent of the machine. */
#include "launcher/bench/bench_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/atomic_file.h"
#include "io/model/safetensors.h"

/* llama-4x512: a small model with the proportions of a real one (GQA 2:1, SwiGLU ffn
 * about 2.7 D, a 32k vocabulary), big enough that matmuls, not call overheads, dominate.
 * llama-2x64: the tests/ref golden shape, for quick correctness runs of tlm bench.
 * llama3-8b: Llama-3-8B's shape in BF16 (16 GB), for the GPU bench; llama-2x64-bf16 runs
 * the same BF16 path in seconds. */
static const BenchModelShape k_presets[] = {
    {"llama-4x512", 4, 512, 8, 4, 1376, 32000, 2048, 0},
    {"llama-2x64", 2, 64, 4, 2, 172, 256, 512, 0},
    {"llama3-8b", 32, 4096, 32, 8, 14336, 128256, 8192, 1},
    {"llama-2x64-bf16", 2, 64, 4, 2, 172, 256, 512, 1},
};
#define N_PRESETS ((int)(sizeof k_presets / sizeof k_presets[0]))

const BenchModelShape *bench_model_find(const char *name) {
    for (int i = 0; i < N_PRESETS; i++)
        if (strcmp(name, k_presets[i].name) == 0)
            return &k_presets[i];
    return NULL;
}

const char *bench_model_names(void) {
    return "llama-4x512, llama-2x64, llama3-8b (bf16), llama-2x64-bf16";
}

/* splitmix64 (Steele et al. 2014): a tiny generator that any language can reproduce. */
static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n draws of N(0, std^2) by Box-Muller on 53-bit uniforms in (0, 1]. */
static void fill_normal(float *x, int64_t n, float std, uint64_t *state) {
    for (int64_t i = 0; i < n; i += 2) {
        const double u1 = (double)((splitmix64(state) >> 11) + 1) * 0x1.0p-53;
        const double u2 = (double)(splitmix64(state) >> 11) * 0x1.0p-53;
        const double r = sqrt(-2.0 * log(u1)) * std;
        x[i] = (float)(r * cos(2.0 * M_PI * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(2.0 * M_PI * u2));
    }
}

/* BF16 weights: uniform on [-a, a] with a = 0.02 sqrt(3) (std 0.02), drawn per block of
 * 2^16 elements from splitmix64 seeded by (seed, tensor, block), so any thread count gives
 * the same file; 8 G draws of Box-Muller would take minutes. */
#define BF16_BLOCK ((int64_t)1 << 16)
static void fill_uniform_bf16(uint16_t *x, int64_t n, uint64_t seed, int tensor) {
    const int64_t n_blocks = (n + BF16_BLOCK - 1) / BF16_BLOCK;
    const float a = 0.02f * 1.7320508f;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        uint64_t state = seed ^ ((uint64_t)tensor << 40) ^ ((uint64_t)blk * 0xD1B54A32D192ED03ull);
        const int64_t end = (blk + 1) * BF16_BLOCK < n ? (blk + 1) * BF16_BLOCK : n;
        for (int64_t j = blk * BF16_BLOCK; j < end; j++) {
            const float u = (float)(splitmix64(&state) >> 40) * 0x1.0p-24f; /* [0, 1) */
            x[j] = f32_to_bf16((2.0f * u - 1.0f) * a);
        }
    }
}

/* The tensor table of a preset: names (host, n x 96 bytes) and shapes; n = 9 L + 3. */
typedef struct TensorTable {
    StOut *t;
    char (*names)[96];
    int n;
    DType dtype; /* of every tensor */
} TensorTable;

static void table_add(TensorTable *tt, const char *name, int64_t rows, int64_t cols) {
    StOut *o = &tt->t[tt->n];
    snprintf(tt->names[tt->n], sizeof tt->names[0], "%s", name);
    *o = (StOut){.name = tt->names[tt->n], .dtype = tt->dtype, .ndim = cols > 0 ? 2 : 1};
    o->shape[0] = rows;
    o->shape[1] = cols;
    tt->n++;
}

/* Fills the table in HF's state_dict order and returns the floats the data needs. */
static int64_t table_build(TensorTable *tt, const BenchModelShape *s) {
    const int64_t HD = s->dim / s->n_heads, QD = s->n_heads * HD, KD = s->n_kv_heads * HD;
    char name[96];
    tt->n = 0;
    table_add(tt, "model.embed_tokens.weight", s->vocab_size, s->dim);
    for (int64_t l = 0; l < s->n_layers; l++) {
        const struct { const char *suffix; int64_t rows, cols; } w[] = {
            {"input_layernorm.weight", s->dim, 0},
            {"self_attn.q_proj.weight", QD, s->dim},
            {"self_attn.k_proj.weight", KD, s->dim},
            {"self_attn.v_proj.weight", KD, s->dim},
            {"self_attn.o_proj.weight", s->dim, QD},
            {"post_attention_layernorm.weight", s->dim, 0},
            {"mlp.gate_proj.weight", s->ffn_dim, s->dim},
            {"mlp.up_proj.weight", s->ffn_dim, s->dim},
            {"mlp.down_proj.weight", s->dim, s->ffn_dim},
        };
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, w[i].suffix);
            table_add(tt, name, w[i].rows, w[i].cols);
        }
    }
    table_add(tt, "model.norm.weight", s->dim, 0);
    table_add(tt, "lm_head.weight", s->vocab_size, s->dim);
    int64_t total = 0;
    for (int i = 0; i < tt->n; i++)
        total += tt->t[i].shape[0] * (tt->t[i].ndim == 2 ? tt->t[i].shape[1] : 1);
    return total;
}

static int write_config(const BenchModelShape *s, const char *dir, Err *err) {
    char path[4096], json[2048];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return err_set(err, "%s: path too long", dir);
    snprintf(json, sizeof json,
             "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
             "  \"hidden_size\": %lld,\n  \"intermediate_size\": %lld,\n"
             "  \"num_hidden_layers\": %lld,\n  \"num_attention_heads\": %lld,\n"
             "  \"num_key_value_heads\": %lld,\n  \"vocab_size\": %lld,\n"
             "  \"max_position_embeddings\": %lld,\n  \"hidden_act\": \"silu\",\n"
             "  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 10000.0,\n"
             "  \"tie_word_embeddings\": false,\n  \"attention_bias\": false,\n"
             "  \"mlp_bias\": false,\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n"
             "  \"torch_dtype\": \"%s\",\n  \"tlm_bench_preset\": \"%s\"\n}\n",
             (long long)s->dim, (long long)s->ffn_dim, (long long)s->n_layers,
             (long long)s->n_heads, (long long)s->n_kv_heads, (long long)s->vocab_size,
             (long long)s->max_pos, s->bf16 ? "bfloat16" : "float32", s->name);
    return af_write_file(path, json, strlen(json), err);
}

int bench_model_write(const BenchModelShape *s, uint64_t seed, const char *dir, Err *err) {
    const int n_max = 9 * (int)s->n_layers + 3;
    TensorTable tt = {.t = calloc((size_t)n_max, sizeof *tt.t),
                      .names = calloc((size_t)n_max, sizeof *tt.names),
                      .dtype = s->bf16 ? DTYPE_BF16 : DTYPE_F32};
    void *data = NULL;
    int rc = -1;
    if (tt.t == NULL || tt.names == NULL) {
        err_set(err, "out of host memory for the tensor table of %s", s->name);
        goto done;
    }
    const int64_t total = table_build(&tt, s);
    const size_t elem = s->bf16 ? sizeof(uint16_t) : sizeof(float);
    data = malloc((size_t)total * elem);
    if (data == NULL) {
        err_set(err, "out of host memory for %s: %lld weights of %zu bytes", s->name,
                (long long)total, elem);
        goto done;
    }
    uint64_t state = seed;
    char *p = data;
    for (int i = 0; i < tt.n; i++) {
        StOut *o = &tt.t[i];
        const int64_t n = o->shape[0] * (o->ndim == 2 ? o->shape[1] : 1);
        if (o->ndim == 1) { /* LlamaRMSNorm weights start at 1 */
            for (int64_t j = 0; j < n; j++) {
                if (s->bf16)
                    ((uint16_t *)(void *)p)[j] = f32_to_bf16(1.0f);
                else
                    ((float *)(void *)p)[j] = 1.0f;
            }
        } else if (s->bf16) {
            fill_uniform_bf16((uint16_t *)(void *)p, n, seed, i);
        } else {
            fill_normal((float *)(void *)p, n, 0.02f, &state);
        }
        o->data = p;
        p += (size_t)n * elem;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/model.safetensors", dir) >= (int)sizeof path) {
        err_set(err, "%s: path too long", dir);
        goto done;
    }
    const char *meta[] = {"format", "pt"}; /* transformers refuses files without it */
    if (st_write(path, tt.t, tt.n, meta, 1, err) != 0 || write_config(s, dir, err) != 0) {
        err_prefix(err, "writing random model %s into %s: ", s->name, dir);
        goto done;
    }
    rc = 0;
done:
    free(data);
    free(tt.names);
    free(tt.t);
    return rc;
}
