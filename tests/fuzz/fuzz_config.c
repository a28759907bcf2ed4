/* tests/fuzz/fuzz_config.c -- cfg_load on an arbitrary config.json. An accepted config
 * must hold shapes the engine can use: positive sizes that divide as it assumes. */
#include <stdint.h>

#include "fuzz_util.h"
#include "io/model/model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_write("config.json", data, size);
    Err err = {0};
    ModelConfig cfg;
    if (cfg_load(fuzz_dir(), &cfg, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(cfg.n_layers > 0 && cfg.dim > 0 && cfg.n_heads > 0 && cfg.n_kv_heads > 0);
    FUZZ_CHECK(cfg.head_dim > 0 && cfg.ffn_dim > 0 && cfg.vocab_size > 0);
    FUZZ_CHECK(cfg.n_heads % cfg.n_kv_heads == 0);
    FUZZ_CHECK(cfg.n_eos >= 0 && cfg.n_eos <= CFG_MAX_EOS);
    (void)cfg_hash(&cfg);
    if (cfg.head_dim % 2 == 0 && cfg.head_dim <= 1024) { /* the rope tables of 4 positions */
        float cos_t[4 * 512], sin_t[4 * 512];
        cfg_rope_tables(&cfg, 4, cos_t, sin_t);
    }
    return 0;
}
