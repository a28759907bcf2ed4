/* io/convert/llama2c.c -- mapping and validating a legacy llama2.c checkpoint.
 * Layout (llama2.c run.c, memory_map_weights): 7 int32 header, then fp32 tensors back to
 * back; the two freq_cis tables sit between rms_final and the optional wcls. The file
 * must end exactly after the last tensor: anything else means another format. */
#include "io/convert/llama2c.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/mapped_file.h"

/* llama2.c's newer export versions start with this magic ("ak42" little-endian). */
#define L2C_MAGIC 0x616b3432
#define L2C_MAX_DIM (1 << 20)
/* The legacy header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len. */
#define L2C_HEADER_FIELDS 7
#define L2C_HEADER_BYTES (L2C_HEADER_FIELDS * sizeof(int32_t))

struct L2cModel {
    char *path;
    const unsigned char *map;
    size_t map_bytes;
    L2cConfig cfg;
    L2cWeights w;
};

static int read_header(L2cModel *m, Err *err) {
    int32_t h[L2C_HEADER_FIELDS];
    memcpy(h, m->map, sizeof h);
    if ((uint32_t)h[0] == L2C_MAGIC)
        return err_set(err, "%s: llama2.c export version %d (magic \"ak42\") is not supported; "
                       "export with --version 0 (the legacy fp32 format)", m->path, h[1]);
    L2cConfig *c = &m->cfg;
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->vocab_size = h[5] < 0 ? -(int64_t)h[5] : h[5];
    c->shared_classifier = h[5] > 0;
    c->seq_len = h[6];
    static const char *names[L2C_HEADER_FIELDS] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                                   "vocab_size", "seq_len"};
    /* The cap keeps every size product below 2^62 bytes, so carve() cannot overflow. */
    for (int i = 0; i < L2C_HEADER_FIELDS; i++)
        if (h[i] == 0 || (h[i] < 0 && i != 5) || h[i] < -L2C_MAX_DIM || h[i] > L2C_MAX_DIM)
            return err_set(err, "%s: header field %s = %d, expected a positive integer up to "
                           "%d (not a llama2.c checkpoint?)", m->path, names[i], h[i],
                           L2C_MAX_DIM);
    if (c->dim % c->n_heads != 0 || c->n_heads % c->n_kv_heads != 0)
        return err_set(err, "%s: header: n_heads %lld must divide dim %lld and n_kv_heads %lld "
                       "must divide n_heads", m->path, (long long)c->n_heads,
                       (long long)c->dim, (long long)c->n_kv_heads);
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim % 2 != 0)
        return err_set(err, "%s: header: head size %lld is odd (RoPE rotates pairs)", m->path,
                       (long long)c->head_dim);
    return 0;
}

/* Carves the next n_elems floats; errors name the tensor that runs past the end. */
static int take(L2cModel *m, size_t *off, const char *name, int64_t n_elems, const float **out,
                Err *err) {
    size_t n_bytes = (size_t)n_elems * sizeof(float);
    if (*off > m->map_bytes || n_bytes > m->map_bytes - *off)
        return err_set(err, "%s: tensor %s (%lld floats at byte %zu) runs past the end of the "
                       "%zu-byte file (truncated?)", m->path, name, (long long)n_elems, *off,
                       m->map_bytes);
    *out = (const float *)(m->map + *off);
    *off += n_bytes;
    return 0;
}

static int carve(L2cModel *m, Err *err) {
    const L2cConfig *c = &m->cfg;
    const int64_t D = c->dim, F = c->hidden_dim, L = c->n_layers, V = c->vocab_size,
                  HD = c->head_dim, KV = c->n_kv_heads * c->head_dim, Q = c->n_heads * HD;
    L2cWeights *w = &m->w;
    const float *freq_real, *freq_imag;
    size_t off = L2C_HEADER_BYTES;
    if (take(m, &off, "token_embedding", V * D, &w->token_embedding, err) ||
        take(m, &off, "rms_att_weight", L * D, &w->rms_att, err) ||
        take(m, &off, "wq", L * Q * D, &w->wq, err) ||
        take(m, &off, "wk", L * KV * D, &w->wk, err) ||
        take(m, &off, "wv", L * KV * D, &w->wv, err) ||
        take(m, &off, "wo", L * D * Q, &w->wo, err) ||
        take(m, &off, "rms_ffn_weight", L * D, &w->rms_ffn, err) ||
        take(m, &off, "w1", L * F * D, &w->w1, err) ||
        take(m, &off, "w2", L * D * F, &w->w2, err) ||
        take(m, &off, "w3", L * F * D, &w->w3, err) ||
        take(m, &off, "rms_final_weight", D, &w->rms_final, err) ||
        take(m, &off, "freq_cis_real", c->seq_len * HD / 2, &freq_real, err) ||
        take(m, &off, "freq_cis_imag", c->seq_len * HD / 2, &freq_imag, err))
        return -1;
    w->wcls = w->token_embedding;
    if (!c->shared_classifier && take(m, &off, "wcls", V * D, &w->wcls, err))
        return -1;
    if (off != m->map_bytes)
        return err_set(err, "%s: %zu bytes after the last tensor (%s); the header describes a "
                       "%zu-byte file: not a legacy llama2.c checkpoint of these dimensions",
                       m->path, m->map_bytes - off, c->shared_classifier ? "freq_cis_imag" : "wcls",
                       off);
    return 0;
}

L2cModel *l2c_open(const char *path, Err *err) {
    L2cModel *m = calloc(1, sizeof *m);
    if (m == NULL || (m->path = strdup(path)) == NULL) {
        free(m);
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    MappedFile mf;
    if (mf_map(path, L2C_HEADER_BYTES, "the 28-byte llama2.c header", &mf, err) != 0)
        goto fail;
    m->map = mf.data;
    m->map_bytes = mf.n_bytes;
    if (read_header(m, err) != 0 || carve(m, err) != 0)
        goto fail;
    return m;
fail:
    l2c_close(m);
    return NULL;
}

void l2c_close(L2cModel *m) {
    if (m == NULL)
        return;
    mf_unmap(&(MappedFile){.data = m->map, .n_bytes = m->map_bytes});
    free(m->path);
    free(m);
}

const L2cConfig *l2c_config(const L2cModel *m) { return &m->cfg; }
const L2cWeights *l2c_weights(const L2cModel *m) { return &m->w; }
