/* io/convert/gguf_convert.c -- gguf_convert: one GGUF file into a Hugging Face directory, in
 * the order that keeps an interrupted run visibly incomplete: an old config.json removed
 * first, then weights, tokenizer, generation_config.json, and config.json last. */
#include "io/convert/gguf_convert.h"

#include "io/convert/convert_util.h"

int gguf_convert(const char *gguf_path, const char *out_dir, DType dtype, GgufModel *m,
                 GgufWeightStats *stats, Err *err) {
    Gguf *g = gguf_open(gguf_path, err);
    if (g == NULL)
        return -1;
    GgufModel local;
    if (m == NULL)
        m = &local;
    int rc = gguf_model_read(g, m, err);
    if (rc == 0)
        rc = conv_make_dirs(out_dir, err);
    if (rc == 0)
        rc = conv_remove_config(out_dir, err);
    if (rc == 0)
        rc = gguf_write_weights(g, m, dtype, out_dir, stats, err);
    if (rc == 0)
        rc = gguf_write_tokenizer(g, out_dir, err);
    if (rc == 0)
        rc = gguf_write_configs(m, dtype, out_dir, err);
    gguf_close(g);
    return rc;
}
