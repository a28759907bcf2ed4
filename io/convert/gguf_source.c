/* io/convert/gguf_source.c -- model.path resolved to its config and tokenizer
 * (io/convert/gguf_source.h): a directory through the file readers, a .gguf file
 * through the converter's in-memory builders and the readers' in-memory entry points
 * (cfg_parse_json, tok_open_json). */
#include "io/convert/gguf_source.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/convert/gguf_convert.h"
#include "io/text/tok_json.h"

int model_src_is_gguf(const char *path) {
    const size_t n = strlen(path);
    if (n < 5 || strcasecmp(path + n - 5, ".gguf") != 0)
        return 0;
    struct stat sb;
    return stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode); /* a missing file: gguf_open says */
}

int gguf_model_config(const Gguf *g, ModelConfig *cfg, Err *err) {
    GgufModel gm;
    json_t *c = NULL, *gen = NULL;
    if (gguf_model_read(g, &gm, err) != 0 || gguf_config_json(&gm, DTYPE_F32, &c, &gen, err))
        return -1;
    char path[4200], gen_path[4200];
    snprintf(path, sizeof path, "%s (config.json from its metadata)", gguf_path(g));
    snprintf(gen_path, sizeof gen_path, "%s (generation_config.json from its metadata)",
             gguf_path(g));
    const int rc = cfg_parse_json(path, c, gen_path, gen, cfg, err);
    json_decref(c);
    json_decref(gen);
    return rc;
}

int model_src_config(const char *path, ModelConfig *cfg, Err *err) {
    if (!model_src_is_gguf(path))
        return cfg_load(path, cfg, err);
    Gguf *g = gguf_open(path, err);
    if (g == NULL)
        return -1;
    const int rc = gguf_model_config(g, cfg, err);
    gguf_close(g);
    return rc;
}

Tokenizer *model_src_tokenizer(const char *path, Err *err) {
    if (!model_src_is_gguf(path)) {
        char file[4200];
        snprintf(file, sizeof file, "%s/tokenizer.json", path);
        return tok_open(file, err);
    }
    Gguf *g = gguf_open(path, err);
    if (g == NULL)
        return NULL;
    json_t *root = NULL, *tc = NULL;
    Tokenizer *tok = NULL;
    if (gguf_tokenizer_json(g, &root, &tc, err) == 0)
        tok = tok_open_json(path, root, tc, err);
    json_decref(root);
    json_decref(tc);
    gguf_close(g);
    return tok;
}
