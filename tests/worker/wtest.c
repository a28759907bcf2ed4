/* tests/worker/wtest.c -- worker test helpers (see wtest.h). */
#include "tests/worker/wtest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/base/dtype.h"
#include "tests/testutil.h"

void wt_fill(float *x, int64_t n, uint64_t *s, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        x[i] = (float)(lo + (hi - lo) * (double)(z >> 11) * 0x1.0p-53);
    }
}

int wt_random_prompts(int32_t *ids, const int32_t *lens, int n_prompts, uint64_t seed, int vocab) {
    int n_tok = 0;
    for (int p = 0; p < n_prompts; p++)
        n_tok += lens[p];
    for (int i = 0; i < n_tok; i++) {
        float r;
        wt_fill(&r, 1, &seed, 0, vocab);
        ids[i] = (int32_t)r % vocab;
    }
    return n_tok;
}

int64_t wt_masked_batch(const int32_t *lens, int n_seqs, int vocab, int32_t **tok,
                        uint8_t **mask) {
    int64_t T = 0;
    for (int s = 0; s < n_seqs; s++)
        T += lens[s];
    *tok = malloc((size_t)T * sizeof(int32_t));
    *mask = malloc((size_t)T);
    wt_random_prompts(*tok, lens, n_seqs, 1234, vocab);
    for (int64_t t = 0; t < T; t++)
        (*mask)[t] = (uint8_t)(t % 3 != 0);
    return T;
}

/* One tensor of the tiny model: host data (owned by the caller's table). */
static int add_tensor(StOut *outs, float **bufs, int n, const char *name, int64_t rows,
                      int64_t cols, uint64_t *s, double lo, double hi) {
    const int64_t count = cols > 0 ? rows * cols : rows;
    bufs[n] = malloc((size_t)count * sizeof(float));
    wt_fill(bufs[n], count, s, lo, hi);
    outs[n] = (StOut){.name = strdup(name), .dtype = DTYPE_F32, .ndim = cols > 0 ? 2 : 1,
                      .shape = {rows, cols}, .data = bufs[n]};
    return n + 1;
}

void wt_make_tiny_model(const char *dir, const TinySpec *p) {
    mkdir(dir, 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        printf("FAIL: cannot write %s\n", path);
        exit(1);
    }
    fprintf(f,
            "{\"architectures\": [\"%s\"], \"model_type\": \"%s\", \"hidden_size\": %lld,\n"
            " \"num_hidden_layers\": %lld, \"num_attention_heads\": %lld,\n"
            " \"num_key_value_heads\": %lld, \"head_dim\": %lld, \"intermediate_size\": %lld,\n"
            " \"vocab_size\": %lld, \"max_position_embeddings\": %lld, \"rms_norm_eps\": 1e-5,\n"
            " \"rope_theta\": 10000.0, \"tie_word_embeddings\": %s, \"bos_token_id\": 1,\n"
            " \"eos_token_id\": 2, \"torch_dtype\": \"float32\"}\n",
            p->qkv_bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM", p->qkv_bias ? "qwen2" : "llama",
            (long long)p->D, (long long)p->L, (long long)p->H, (long long)p->KVH,
            (long long)p->HD, (long long)p->F, (long long)p->V, (long long)p->max_pos,
            p->tie ? "true" : "false");
    fclose(f);

    const int cap = 3 + 12 * (int)p->L;
    StOut *outs = calloc((size_t)cap, sizeof *outs);
    float **bufs = calloc((size_t)cap, sizeof *bufs);
    uint64_t s = p->seed;
    const int64_t QD = p->H * p->HD, KD = p->KVH * p->HD;
    const double wd = 1.0 / sqrt((double)p->D), wq = 1.0 / sqrt((double)QD),
                 wf = 1.0 / sqrt((double)p->F);
    int n = 0;
    n = add_tensor(outs, bufs, n, "model.embed_tokens.weight", p->V, p->D, &s, -1, 1);
    n = add_tensor(outs, bufs, n, "model.norm.weight", p->D, 0, &s, 0.8, 1.2);
    if (!p->tie)
        n = add_tensor(outs, bufs, n, "lm_head.weight", p->V, p->D, &s, -2 * wd, 2 * wd);
    char name[256];
#define LAYER_T(fmt, rows, cols, lo, hi)                                                      \
    do {                                                                                      \
        snprintf(name, sizeof name, "model.layers.%lld." fmt, (long long)l);                  \
        n = add_tensor(outs, bufs, n, name, rows, cols, &s, lo, hi);                          \
    } while (0)
    for (int64_t l = 0; l < p->L; l++) {
        LAYER_T("input_layernorm.weight", p->D, 0, 0.8, 1.2);
        LAYER_T("self_attn.q_proj.weight", QD, p->D, -2 * wd, 2 * wd);
        LAYER_T("self_attn.k_proj.weight", KD, p->D, -2 * wd, 2 * wd);
        LAYER_T("self_attn.v_proj.weight", KD, p->D, -wd, wd);
        if (p->qkv_bias) {
            LAYER_T("self_attn.q_proj.bias", QD, 0, -0.2, 0.2);
            LAYER_T("self_attn.k_proj.bias", KD, 0, -0.2, 0.2);
            LAYER_T("self_attn.v_proj.bias", KD, 0, -0.2, 0.2);
        }
        LAYER_T("self_attn.o_proj.weight", p->D, QD, -wq, wq);
        LAYER_T("post_attention_layernorm.weight", p->D, 0, 0.8, 1.2);
        LAYER_T("mlp.gate_proj.weight", p->F, p->D, -2 * wd, 2 * wd);
        LAYER_T("mlp.up_proj.weight", p->F, p->D, -2 * wd, 2 * wd);
        LAYER_T("mlp.down_proj.weight", p->D, p->F, -wf, wf);
    }
#undef LAYER_T
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    Err err = {{0}};
    tu_check_rc(st_write(path, outs, n, NULL, 0, &err), "writing the tiny model", err.msg);
    for (int i = 0; i < n; i++) {
        free((void *)outs[i].name);
        free(bufs[i]);
    }
    free(outs);
    free(bufs);
}

SafeTensors *wt_st_open(const char *path) {
    Err err = {{0}};
    SafeTensors *st = st_open(path, &err);
    if (st == NULL) {
        printf("FAIL: %s\n", err.msg);
        exit(1);
    }
    return st;
}

int wt_has(const SafeTensors *st, const char *name) {
    StTensor t;
    return st_get(st, name, -1, NULL, &t, NULL) == 0;
}

double wt_adapter_err(const Lora *l, const SafeTensors *st, const char *prefix) {
    double worst = 0;
    char key[LORA_KEY_BYTES], name[LORA_KEY_BYTES + 64];
    for (int64_t layer = 0; layer < l->n_layers; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const LoraView *v = lora_view(l, layer, (LoraTarget)t);
            if (v == NULL)
                continue;
            const int64_t na = l->cfg.rank * v->n_in, nb = v->n_out * l->cfg.rank;
            float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4);
            lora_download(l, layer, (LoraTarget)t, 0, a, b);
            for (int is_b = 0; is_b < 2; is_b++) {
                lora_key(key, sizeof key, layer, (LoraTarget)t, is_b);
                snprintf(name, sizeof name, "%s.%s", prefix, key);
                float *want = wt_get_f32(st, name, is_b ? nb : na, NULL);
                const double r = tu_rel_norm_err(is_b ? b : a, want, is_b ? nb : na);
                worst = r > worst || isnan(r) ? r : worst;
                free(want);
            }
            free(a);
            free(b);
        }
    return worst;
}

static StTensor get_or_die(const SafeTensors *st, const char *name, int64_t n, int64_t *n_out) {
    Err err = {{0}};
    StTensor t;
    if (st_get(st, name, -1, NULL, &t, &err) != 0) {
        printf("FAIL: %s\n", err.msg);
        exit(1);
    }
    int64_t count = 1;
    for (int i = 0; i < t.ndim; i++)
        count *= t.shape[i];
    if (n >= 0 && count != n) {
        printf("FAIL: tensor \"%s\" has %lld elements, expected %lld\n", name,
               (long long)count, (long long)n);
        exit(1);
    }
    if (n_out != NULL)
        *n_out = count;
    return t;
}

float *wt_get_f32(const SafeTensors *st, const char *name, int64_t n, int64_t *n_out) {
    int64_t count;
    StTensor t = get_or_die(st, name, n, &count);
    float *x = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    if (t.dtype == DTYPE_F32 || t.dtype == DTYPE_F16 || t.dtype == DTYPE_BF16) {
        dtype_to_f32(x, t.data, t.dtype, count);
    } else {
        printf("FAIL: tensor \"%s\" is %s, expected a float type\n", name, dtype_name(t.dtype));
        exit(1);
    }
    if (n_out != NULL)
        *n_out = count;
    return x;
}

int32_t *wt_get_i32(const SafeTensors *st, const char *name, int64_t n, int64_t *n_out) {
    int64_t count;
    StTensor t = get_or_die(st, name, n, &count);
    int32_t *x = malloc((size_t)(count > 0 ? count : 1) * sizeof(int32_t));
    for (int64_t i = 0; i < count; i++) {
        if (t.dtype == DTYPE_I32) {
            memcpy(&x[i], (const char *)t.data + 4 * i, 4);
        } else if (t.dtype == DTYPE_I64) {
            int64_t v;
            memcpy(&v, (const char *)t.data + 8 * i, 8);
            x[i] = (int32_t)v;
        } else {
            printf("FAIL: tensor \"%s\" is %s, expected I32/I64\n", name, dtype_name(t.dtype));
            exit(1);
        }
    }
    if (n_out != NULL)
        *n_out = count;
    return x;
}

void wt_lora_randomize(Lora *l, uint64_t seed, float s) {
    wt_fill(l->host, l->n_params, &seed, -s, s);
    l->ops->upload_raw(l->params, l->host, (size_t)l->n_params * sizeof(float));
}

void wt_smollm2_gguf(char *path, size_t n) {
    const char *shared = tu_shared_dir();
    if (shared == NULL)
        tu_skip("../shared is absent (SmolLM2-135M-Instruct's GGUF lives there)");
    snprintf(path, n, "%s/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
             shared);
}
