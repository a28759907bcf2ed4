/* launcher/cmd_convert.c -- `tlm convert llama2c MODEL.bin TOKENIZER.bin OUTDIR`.
 * Turns a llama2.c checkpoint and tokenizer into a Hugging Face Llama directory. Each
 * file is written atomically and config.json comes last, so an interrupted conversion
 * never leaves a directory that looks loadable. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/err.h"
#include "io/convert/llama2c.h"
#include "io/convert/llama2c_tokenizer.h"
#include "launcher/commands.h"

static const char USAGE[] =
    "usage: tlm convert llama2c MODEL.bin TOKENIZER.bin OUTDIR\n"
    "\n"
    "Converts a llama2.c checkpoint (legacy fp32 .bin) and its tokenizer.bin into a Hugging\n"
    "Face Llama directory: model.safetensors (F32), config.json, generation_config.json,\n"
    "tokenizer.json, tokenizer_config.json. OUTDIR is created when missing; files in it\n"
    "with those names are replaced.\n";

/* mkdir -p: every missing component of dir, mode 0777 & ~umask. */
static int make_dirs(const char *dir, Err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return err_set(err, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(err, "%s: cannot create %s: %s", dir, buf, strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return err_set(err, "%s: exists and is not a directory", dir);
    return 0;
}

static int convert_llama2c(const char *model_path, const char *tok_path, const char *out_dir,
                           Err *err) {
    L2cModel *m = l2c_open(model_path, err);
    if (m == NULL)
        return -1;
    const L2cConfig *c = l2c_config(m);
    int rc = make_dirs(out_dir, err);
    /* A config.json from an earlier conversion would make a half-rewritten directory look
     * complete; it goes first and comes back last. */
    char config[4096];
    snprintf(config, sizeof config, "%s/config.json", out_dir);
    if (rc == 0 && unlink(config) != 0 && errno != ENOENT)
        rc = err_set(err, "%s: cannot remove the old config.json: %s", out_dir, strerror(errno));
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

int cmd_convert(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
    if (argc != 5 || strcmp(argv[1], "llama2c") != 0) {
        if (argc >= 2 && strcmp(argv[1], "llama2c") != 0)
            fprintf(stderr, "tlm convert: unknown source format \"%s\" (only llama2c)\n\n",
                    argv[1]);
        else
            fprintf(stderr, "tlm convert: expected 4 arguments, got %d\n\n", argc - 1);
        fputs(USAGE, stderr);
        return 2;
    }
    Err err = {{0}};
    if (convert_llama2c(argv[2], argv[3], argv[4], &err) != 0) {
        fprintf(stderr, "tlm convert: %s\n", err.msg);
        return 1;
    }
    return 0;
}
