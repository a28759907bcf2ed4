/* io/model/model_config_rope.c -- RoPE parameters from config.json, the cos/sin tables and
 * the config hash. The tables are built with transformers' float32 arithmetic, one
 * rounding per torch op in the same order (modeling_rope_utils.py,
 * _compute_llama3_parameters and LlamaRotaryEmbedding.compute_default_rope_parameters),
 * so positions agree to the last bit or one ulp (torch's vectorised pow/cos). */
#include "io/model/model_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/model/model_config_json.h"
#include "io/model/model_config_rope.h"

/* rope_theta when absent: the original RoPE base (all three config classes). */
#define CFG_DEFAULT_ROPE_THETA 10000.0

static int read_llama3(const char *path, const char *where, const json_t *p, ModelConfig *cfg,
                       Err *err) {
    double factor, lo, hi;
    int64_t old;
    char k[4][64]; /* "rope_scaling.factor": errors name the nested key */
    snprintf(k[0], sizeof k[0], "%s.factor", where);
    snprintf(k[1], sizeof k[1], "%s.low_freq_factor", where);
    snprintf(k[2], sizeof k[2], "%s.high_freq_factor", where);
    snprintf(k[3], sizeof k[3], "%s.original_max_position_embeddings", where);
    if (cfg_json_num(path, p, "factor", k[0], 1, 0, &factor, err) ||
        cfg_json_num(path, p, "low_freq_factor", k[1], 1, 0, &lo, err) ||
        cfg_json_num(path, p, "high_freq_factor", k[2], 1, 0, &hi, err) ||
        cfg_json_int(path, p, "original_max_position_embeddings", k[3], 0, cfg->max_pos, &old,
                     err))
        return -1;
    if (!(factor >= 1) || !(lo > 0) || !(hi > lo) || old <= 0)
        return err_set(err, "%s: key \"%s\": llama3 scaling needs factor >= 1, 0 < "
                       "low_freq_factor < high_freq_factor and original_max_position_embeddings "
                       "> 0 (got %g, %g, %g, %lld)", path, where, factor, lo, hi, (long long)old);
    cfg->rope_scaling = ROPE_LLAMA3;
    cfg->rope_factor = (float)factor;
    cfg->rope_low_freq_factor = (float)lo;
    cfg->rope_high_freq_factor = (float)hi;
    cfg->rope_original_max_pos = old;
    return 0;
}

int cfg_read_rope(const char *path, const json_t *root, ModelConfig *cfg, Err *err) {
    /* transformers: rope_parameters = rope_scaling or rope_parameters; values inside it win
     * over the top-level rope_theta. */
    const json_t *rs = json_object_get(root, "rope_scaling");
    const json_t *rp = json_object_get(root, "rope_parameters");
    const char *where = "rope_scaling";
    const json_t *p = rs;
    if (p == NULL || json_is_null(p) || (json_is_object(p) && json_object_size(p) == 0)) {
        p = rp;
        where = "rope_parameters";
    }
    if (p != NULL && json_is_null(p))
        p = NULL;
    if (p != NULL && !json_is_object(p))
        return err_set(err, "%s: key \"%s\": expected an object or null", path, where);
    double theta = CFG_DEFAULT_ROPE_THETA;
    char label[64];
    snprintf(label, sizeof label, "%s.rope_theta", where);
    if (cfg_json_num(path, root, "rope_theta", NULL, 0, theta, &theta, err) ||
        (json_is_object(rp) &&
         cfg_json_num(path, rp, "rope_theta", "rope_parameters.rope_theta", 0, theta, &theta,
                      err)) ||
        (p != NULL && cfg_json_num(path, p, "rope_theta", label, 0, theta, &theta, err)))
        return -1;
    if (!(theta > 0))
        return err_set(err, "%s: key \"rope_theta\": %g, expected a positive number", path,
                       theta);
    cfg->rope_theta = (float)theta;
    cfg->rope_scaling = ROPE_NONE;
    double partial = 1.0;
    snprintf(label, sizeof label, "%s.partial_rotary_factor", where);
    if (cfg_json_num(path, root, "partial_rotary_factor", NULL, 0, 1.0, &partial, err) ||
        (p != NULL &&
         cfg_json_num(path, p, "partial_rotary_factor", label, 0, partial, &partial, err)))
        return -1;
    if (partial != 1.0)
        return err_set(err, "%s: key \"partial_rotary_factor\": %g is not supported (only 1.0)",
                       path, partial);
    if (p == NULL)
        return 0;
    const json_t *type = json_object_get(p, "rope_type");
    if (type == NULL)
        type = json_object_get(p, "type");
    if (type != NULL && !json_is_string(type))
        return err_set(err, "%s: key \"%s.rope_type\": expected a string", path, where);
    const char *name = type != NULL ? json_string_value(type) : "default";
    if (strcmp(name, "default") == 0)
        return 0;
    if (strcmp(name, "llama3") == 0)
        return read_llama3(path, where, p, cfg, err);
    return err_set(err, "%s: key \"%s.rope_type\": \"%s\" is not supported (tlm implements "
                   "default and llama3)", path, where, name);
}

/* One rounding per torch op: inv_freq = 1 / base ** (arange(0, dim, 2).float() / dim).
 * pow is evaluated in double and rounded once (torch's is within an ulp of that). */
static float inv_freq_default(float base, int64_t i, int64_t dim) {
    float e = (float)(2 * i) / (float)dim;
    float p = (float)pow((double)base, (double)e);
    return 1.0f / p;
}

/* transformers _compute_llama3_parameters, op by op in float32. `2 * pi / t` in torch is
 * reciprocal(t) * (float)(2 * pi); `t / scalar` is a true division. */
static float inv_freq_llama3(const ModelConfig *cfg, float inv) {
    const float factor = cfg->rope_factor, lo = cfg->rope_low_freq_factor,
                hi = cfg->rope_high_freq_factor, old = (float)cfg->rope_original_max_pos;
    const float low_wavelen = old / lo, high_wavelen = old / hi;
    const float wavelen = (1.0f / inv) * (float)(2.0 * M_PI);
    float scaled = wavelen > low_wavelen ? inv / factor : inv;
    if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
        float smooth = ((1.0f / wavelen) * old - lo) / (hi - lo);
        float a = (1.0f - smooth) * scaled;
        scaled = a / factor + smooth * scaled;
    }
    return scaled;
}

void cfg_rope_tables(const ModelConfig *cfg, int64_t max_pos, float *cos_out, float *sin_out) {
    const int64_t half = cfg->head_dim / 2;
    float inv[half > 0 ? half : 1]; /* (HD/2); HD is at most a few hundred */
    for (int64_t i = 0; i < half; i++) {
        inv[i] = inv_freq_default(cfg->rope_theta, i, cfg->head_dim);
        if (cfg->rope_scaling == ROPE_LLAMA3)
            inv[i] = inv_freq_llama3(cfg, inv[i]);
    }
    for (int64_t p = 0; p < max_pos; p++)
        for (int64_t i = 0; i < half; i++) {
            float f = (float)p * inv[i]; /* position_ids.float() * inv_freq, in fp32 */
            cos_out[p * half + i] = (float)cos((double)f);
            sin_out[p * half + i] = (float)sin((double)f);
        }
}

static uint64_t fnv_i64(uint64_t h, int64_t v) {
    for (int i = 0; i < 8; i++) { /* little-endian bytes: the same hash on every host */
        h ^= (uint64_t)((uint64_t)v >> (8 * i)) & 0xFFu;
        h *= 0x100000001B3ull;
    }
    return h;
}

static uint64_t fnv_f32(uint64_t h, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return fnv_i64(h, (int64_t)u);
}

uint64_t cfg_hash(const ModelConfig *cfg) {
    uint64_t h = 0xCBF29CE484222325ull;
    const int64_t ints[] = {cfg->arch,      cfg->n_layers,   cfg->dim,
                            cfg->n_heads,   cfg->n_kv_heads, cfg->head_dim,
                            cfg->ffn_dim,   cfg->vocab_size, cfg->max_pos,
                            cfg->rope_scaling, cfg->rope_original_max_pos,
                            cfg->tie_embeddings, cfg->qkv_bias};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        h = fnv_i64(h, ints[i]);
    const float floats[] = {cfg->rms_eps, cfg->rope_theta, cfg->rope_factor,
                            cfg->rope_low_freq_factor, cfg->rope_high_freq_factor};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        h = fnv_f32(h, floats[i]);
    return h;
}
