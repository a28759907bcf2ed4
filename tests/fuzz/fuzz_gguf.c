/* tests/fuzz/fuzz_gguf.c -- the GGUF reader and converter over arbitrary bytes: gguf_open's
 * checks, then, for an accepted file, every metadata value read, every tensor's bytes
 * touched, and the whole conversion (weights, tokenizer, configs) into a directory; a
 * converted directory must load again through config.json and tokenizer.json. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "io/convert/gguf.h"
#include "io/convert/gguf_convert.h"
#include "io/model/model_config.h"
#include "io/text/tokenizer.h"

static const char *const out_files[] = {"model.safetensors", "config.json",
                                        "generation_config.json", "tokenizer.json",
                                        "tokenizer_config.json", NULL};

static void clear_out(void) {
    for (int i = 0; out_files[i] != NULL; i++) {
        char name[64];
        snprintf(name, sizeof name, "out/%s", out_files[i]);
        fuzz_remove(name);
    }
}

static void touch_tensors(const Gguf *g) {
    unsigned sum = 0;
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const GgufTensor *t = gguf_tensor(g, i);
        FUZZ_CHECK(gguf_find_tensor(g, t->name) != NULL);
        for (size_t b = 0; b < t->n_bytes; b += 61)
            sum += t->data[b];
        if (t->n_bytes > 0)
            sum += t->data[t->n_bytes - 1];
    }
    (void)sum;
}

/* The converted directory loads back (what tlm run would read next). */
static void reload(const char *out) {
    Err err = {0};
    ModelConfig cfg;
    FUZZ_CHECK(cfg_load(out, &cfg, &err) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", out);
    Tokenizer *tok = tok_open(path, &err);
    if (tok != NULL) {
        int32_t *ids = NULL;
        int64_t n = 0;
        if (tok_encode(tok, "ab a xy", 7, 1, &ids, &n, &err) == 0)
            free(ids);
        tok_close(tok);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err = {0};
    Gguf *g = gguf_open(fuzz_write("model.gguf", data, size), &err);
    if (g == NULL) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    touch_tensors(g);
    char out[512];
    snprintf(out, sizeof out, "%s/out", fuzz_dir());
    mkdir(out, 0700);
    clear_out();
    GgufModel m;
    /* Conversion writes every tensor dequantized: bound the work a 4 KiB input can ask
     * for (a valid header may describe many elements of a tiny quantized type). */
    int64_t elems = 0;
    for (int64_t i = 0; i < gguf_n_tensors(g); i++)
        elems += gguf_tensor(g, i)->n_elems;
    if (elems <= (1 << 20) && gguf_convert(gguf_path(g), out, DTYPE_F32, &m, NULL, &err) == 0)
        reload(out);
    else if (elems <= (1 << 20))
        FUZZ_CHECK(err.msg[0] != '\0');
    clear_out();
    gguf_close(g);
    return 0;
}
