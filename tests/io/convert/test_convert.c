/* tests/io/convert/test_convert.c -- the bundled stories260K llama2.c checkpoint converted to a
 * Hugging Face directory through io/llama2c (not the CLI, so it runs before the launcher
 * links): config values, every tensor's name and shape, q_proj/k_proj rows as the RoPE
 * permutation of wq/wk, the rest copied verbatim. Needs ../shared (label shared). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "io/convert/llama2c.h"
#include "io/model/model_config.h"
#include "io/model/safetensors.h"
#include "tests/testutil.h"

/* stories260K README: dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads, vocab 512. */
enum { D = 64, F = 172, L = 5, H = 8, KVH = 4, V = 512, S = 512, HD = 8 };

static void test_stories260k(void **state) {
    const char *bin = tu_path(tu_shared_dir(), "models/stories260K/stories260K.bin");
    const char *dir = tu_path(tu_tmp_dir(), "convert_stories260K");
    mkdir(dir, 0777);
    Err err = {{0}};
    L2cModel *m = l2c_open(bin, &err);
    if (m == NULL)
        printf("  %s\n", err.msg);
    assert_non_null(m);
    assert_int_equal(l2c_write_safetensors(m, dir, &err), 0);
    assert_int_equal(l2c_write_configs(m, dir, &err), 0);

    ModelConfig cfg;
    if (cfg_load(dir, &cfg, &err) != 0)
        printf("  %s\n", err.msg);
    assert_int_equal(cfg.arch, ARCH_LLAMA);
    assert_int_equal(cfg.dim, D);
    assert_int_equal(cfg.ffn_dim, F);
    assert_int_equal(cfg.n_layers, L);
    assert_int_equal(cfg.n_heads, H);
    assert_int_equal(cfg.n_kv_heads, KVH);
    assert_int_equal(cfg.head_dim, HD);
    assert_int_equal(cfg.vocab_size, V);
    assert_int_equal(cfg.max_pos, S);
    assert_true(cfg.rms_eps == 1e-5f);
    assert_true(cfg.rope_theta == 10000.0f);
    assert_int_equal(cfg.rope_scaling, ROPE_NONE);
    assert_int_equal(cfg.tie_embeddings, 1);
    assert_int_equal(cfg.bos_id, 1);
    assert_int_equal(cfg.n_eos, 1);
    assert_int_equal(cfg.eos_ids[0], 2);
    assert_string_equal(cfg.torch_dtype, "float32");

    StDir *sd = st_dir_open(dir, &err);
    assert_non_null(sd);
    assert_int_equal(st_count(st_dir_file(sd, 0)), 2 + 9 * L); /* no lm_head: tied */
    assert_int_equal(st_dir_has(sd, "lm_head.weight"), 0);
    const L2cWeights *w = l2c_weights(m);
    StTensor t;
    int64_t vd[2] = {V, D}, dd[1] = {D};
    assert_int_equal(st_dir_get(sd, "model.embed_tokens.weight", 2, vd, &t, &err), 0);
    assert_int_equal(t.dtype, DTYPE_F32);
    assert_memory_equal(t.data, w->token_embedding, sizeof(float) * V * D);
    assert_int_equal(st_dir_get(sd, "model.norm.weight", 1, dd, &t, &err), 0);
    assert_memory_equal(t.data, w->rms_final, sizeof(float) * D);

    static const struct { const char *name; int64_t rows, cols; } SHAPES[] = {
        {"self_attn.q_proj.weight", H * HD, D},  {"self_attn.k_proj.weight", KVH * HD, D},
        {"self_attn.v_proj.weight", KVH * HD, D}, {"self_attn.o_proj.weight", D, H * HD},
        {"mlp.gate_proj.weight", F, D},          {"mlp.up_proj.weight", F, D},
        {"mlp.down_proj.weight", D, F},          {"input_layernorm.weight", D, 0},
        {"post_attention_layernorm.weight", D, 0},
    };
    for (int l = 0; l < L; l++)
        for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%d.%s", l, SHAPES[s].name);
            int64_t shape[2] = {SHAPES[s].rows, SHAPES[s].cols};
            if (st_dir_get(sd, name, SHAPES[s].cols ? 2 : 1, shape, &t, &err) != 0)
                printf("  %s\n", err.msg);
            assert_string_equal(t.name, name);
        }

    for (int l = 0; l < L; l++) {
        char name[128];
        const float *q, *k;
        snprintf(name, sizeof name, "model.layers.%d.self_attn.q_proj.weight", l);
        assert_int_equal(st_dir_get(sd, name, -1, NULL, &t, &err), 0);
        q = t.data;
        snprintf(name, sizeof name, "model.layers.%d.self_attn.k_proj.weight", l);
        assert_int_equal(st_dir_get(sd, name, -1, NULL, &t, &err), 0);
        k = t.data;
        const float *wq = w->wq + (size_t)l * H * HD * D, *wk = w->wk + (size_t)l * KVH * HD * D;
        /* HF row h*HD + i = llama2.c row h*HD + 2i; HF row h*HD + HD/2 + i = row h*HD + 2i+1 */
        for (int h = 0; h < H; h++)
            for (int i = 0; i < HD / 2; i++) {
                assert_memory_equal(q + (h * HD + i) * D, wq + (h * HD + 2 * i) * D, 4 * D);
                assert_memory_equal(q + (h * HD + HD / 2 + i) * D, wq + (h * HD + 2 * i + 1) * D,
                                    4 * D);
                if (h < KVH) {
                    assert_memory_equal(k + (h * HD + i) * D, wk + (h * HD + 2 * i) * D, 4 * D);
                    assert_memory_equal(k + (h * HD + HD / 2 + i) * D,
                                        wk + (h * HD + 2 * i + 1) * D, 4 * D);
                }
            }
        snprintf(name, sizeof name, "model.layers.%d.mlp.down_proj.weight", l);
        assert_int_equal(st_dir_get(sd, name, -1, NULL, &t, &err), 0);
        assert_memory_equal(t.data, w->w2 + (size_t)l * D * F, sizeof(float) * D * F);
        snprintf(name, sizeof name, "model.layers.%d.mlp.up_proj.weight", l);
        assert_int_equal(st_dir_get(sd, name, -1, NULL, &t, &err), 0);
        assert_memory_equal(t.data, w->w3 + (size_t)l * F * D, sizeof(float) * F * D);
    }
    st_dir_close(sd);
    l2c_close(m);
}

int main(void) {
    if (tu_shared_dir() == NULL)
        tu_skip("../shared (models/stories260K) is not present");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
