/* launcher/cmd_convert.c -- `tlm convert llama2c MODEL.bin TOKENIZER.bin OUTDIR` and
 * `tlm convert gguf MODEL.gguf OUTDIR [--dtype f32|bf16]`.
 * Turns a llama2.c checkpoint and tokenizer, or a llama.cpp GGUF file (llama, qwen2),
 * into a Hugging Face directory. Each file is written atomically and config.json comes
 * last, so an interrupted conversion never leaves a directory that looks loadable. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "io/base/err.h"
#include "io/base/quant.h"
#include "io/convert/convert_util.h"
#include "io/convert/gguf_convert.h"
#include "io/convert/llama2c.h"
#include "io/convert/llama2c_tokenizer.h"
#include "launcher/commands.h"

static const char USAGE[] =
    "usage: tlm convert llama2c MODEL.bin TOKENIZER.bin OUTDIR\n"
    "       tlm convert gguf MODEL.gguf OUTDIR [--dtype f32|bf16]\n"
    "\n"
    "llama2c: a llama2.c checkpoint (legacy fp32 .bin) and its tokenizer.bin.\n"
    "gguf:    a llama.cpp GGUF file (v2/v3; architectures llama and qwen2; tensors F32,\n"
    "         F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K, dequantized exactly as the\n"
    "         gguf Python package does; llama's q/k rows put back in Hugging Face order;\n"
    "         the vocabulary, special tokens, pre-tokenizer and chat template carried over).\n"
    "         --dtype bf16 halves model.safetensors (default f32: the exact values).\n"
    "\n"
    "Both write a Hugging Face directory: model.safetensors, config.json,\n"
    "generation_config.json, tokenizer.json, tokenizer_config.json. OUTDIR is created when\n"
    "missing; files in it with those names are replaced.\n";

static int convert_llama2c(const char *model_path, const char *tok_path, const char *out_dir,
                           Err *err) {
    L2cModel *m = l2c_open(model_path, err);
    if (m == NULL)
        return -1;
    const L2cConfig *c = l2c_config(m);
    int rc = conv_make_dirs(out_dir, err);
    if (rc == 0)
        rc = conv_remove_config(out_dir, err);
    if (rc == 0)
        rc = l2c_write_safetensors(m, out_dir, err);
    if (rc == 0)
        rc = l2c_tokenizer_convert(tok_path, c->vocab_size, out_dir, err);
    if (rc == 0)
        rc = l2c_write_configs(m, out_dir, err);
    if (rc == 0)
        printf("converted %s (D %lld, L %lld, H %lld, KVH %lld, V %lld, %s classifier) and %s "
               "into %s\n", model_path, (long long)c->dim, (long long)c->n_layers,
               (long long)c->n_heads, (long long)c->n_kv_heads, (long long)c->vocab_size,
               c->shared_classifier ? "tied" : "untied", tok_path, out_dir);
    l2c_close(m);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int convert_gguf(const char *path, const char *out_dir, DType dtype, Err *err) {
    GgufModel m;
    GgufWeightStats st;
    const double t0 = now_s();
    if (gguf_convert(path, out_dir, dtype, &m, &st, err) != 0)
        return -1;
    char types[256] = "";
    for (uint32_t t = 0; t < 40; t++)
        if (st.n_tensors[t] > 0)
            snprintf(types + strlen(types), sizeof types - strlen(types), "%s%lld %s",
                     types[0] ? ", " : "", (long long)st.n_tensors[t],
                     quant_type_name(t) ? quant_type_name(t) : "?");
    printf("converted %s (%s: D %lld, L %lld, H %lld, KVH %lld, V %lld, %s; tensors %s) into "
           "%s as %s in %.1f s\n", path, m.arch_name, (long long)m.dim, (long long)m.n_layers,
           (long long)m.n_heads, (long long)m.n_kv_heads, (long long)m.vocab_size,
           m.tied ? "tied" : "untied", types, out_dir, dtype_name(dtype), now_s() - t0);
    return 0;
}

/* `convert gguf MODEL.gguf OUTDIR [--dtype f32|bf16]`: 2 exit status on a usage error. */
static int cmd_gguf(int argc, char **argv, Err *err) {
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0;
    DType dtype = DTYPE_F32;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--dtype=", 8) == 0)
            v = argv[i] + 8;
        if (v != NULL) {
            if (strcmp(v, "f32") != 0 && strcmp(v, "bf16") != 0) {
                fprintf(stderr, "tlm convert gguf: --dtype %s: expected f32 or bf16\n", v);
                return 2;
            }
            dtype = strcmp(v, "bf16") == 0 ? DTYPE_BF16 : DTYPE_F32;
        } else if (argv[i][0] == '-' || n_pos == 2) {
            fprintf(stderr, "tlm convert gguf: unexpected argument \"%s\"\n\n%s", argv[i], USAGE);
            return 2;
        } else {
            pos[n_pos++] = argv[i];
        }
    }
    if (n_pos != 2) {
        fprintf(stderr, "tlm convert gguf: expected MODEL.gguf and OUTDIR\n\n%s", USAGE);
        return 2;
    }
    return convert_gguf(pos[0], pos[1], dtype, err) != 0 ? 1 : 0;
}

int cmd_convert(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
    Err err = {{0}};
    int rc;
    if (argc >= 2 && strcmp(argv[1], "gguf") == 0) {
        rc = cmd_gguf(argc, argv, &err);
    } else if (argc >= 2 && strcmp(argv[1], "llama2c") == 0) {
        if (argc != 5) {
            fprintf(stderr, "tlm convert llama2c: expected 3 arguments, got %d\n\n%s", argc - 2,
                    USAGE);
            return 2;
        }
        rc = convert_llama2c(argv[2], argv[3], argv[4], &err) != 0 ? 1 : 0;
    } else {
        if (argc >= 2)
            fprintf(stderr, "tlm convert: unknown source format \"%s\" (llama2c or gguf)\n\n",
                    argv[1]);
        else
            fprintf(stderr, "tlm convert: expected a source format (llama2c or gguf)\n\n");
        fputs(USAGE, stderr);
        return 2;
    }
    if (rc == 1)
        fprintf(stderr, "tlm convert: %s\n", err.msg);
    return rc;
}
