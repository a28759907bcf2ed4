/* io/model/model_config.c -- config.json (+ generation_config.json) into a ModelConfig.
 * Defaults follow the installed transformers 5.23 config classes (LlamaConfig,
 * Qwen2Config, MistralConfig): a key missing from the file means what transformers would
 * make of it, so both engines build the same model. Shape keys have no sane default and
 * are required. RoPE parsing lives in model_config_rope.c, the typed JSON getters both use
 * in model_config_json.c. */
#include "io/model/model_config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/base/log.h"
#include "io/model/model_config_json.h"
#include "io/model/model_config_rope.h"

static int json_flag(const char *path, const json_t *obj, const char *key, int dflt, int *out,
                     Err *err) {
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v))
        return err_set(err, "%s: key \"%s\": expected true or false, got %s", path, key,
                       cfg_json_kind(v));
    *out = json_is_true(v);
    return 0;
}

static int json_positive(const char *path, const json_t *obj, const char *key, int64_t *out,
                         Err *err) {
    if (cfg_json_int(path, obj, key, NULL, 1, 0, out, err) != 0)
        return -1;
    if (*out <= 0)
        return err_set(err, "%s: key \"%s\": %lld, expected a positive integer", path, key,
                       (long long)*out);
    return 0;
}

/* eos_token_id: an integer, a list of integers, or null (none in config.json; in
 * generation_config.json null means "not set here" and keeps config.json's). */
static int read_eos(const char *path, const json_t *obj, int null_clears, ModelConfig *cfg,
                    Err *err) {
    const json_t *v = json_object_get(obj, "eos_token_id");
    if (v == NULL || (json_is_null(v) && !null_clears))
        return 0; /* keep what the caller set */
    cfg->n_eos = 0;
    if (json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        cfg->eos_ids[cfg->n_eos++] = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_array(v))
        return err_set(err, "%s: key \"eos_token_id\": expected an integer or a list of "
                       "integers, got %s", path, cfg_json_kind(v));
    if (json_array_size(v) > CFG_MAX_EOS)
        return err_set(err, "%s: key \"eos_token_id\": %zu ids, at most %d supported", path,
                       json_array_size(v), CFG_MAX_EOS);
    size_t i;
    const json_t *id;
    json_array_foreach(v, i, id) {
        if (!json_is_integer(id))
            return err_set(err, "%s: key \"eos_token_id\"[%zu]: expected an integer, got %s",
                           path, i, cfg_json_kind(id));
        cfg->eos_ids[cfg->n_eos++] = (int64_t)json_integer_value(id);
    }
    return 0;
}

/* What each supported class makes of keys a config.json leaves out (transformers 5.23:
 * LlamaConfig, Qwen2Config, MistralConfig), indexed by ModelArch. */
typedef struct ArchInfo {
    const char *name;    /* the "architectures" entry */
    int64_t kv_heads;    /* num_key_value_heads; 0: num_attention_heads */
    int64_t max_pos;     /* max_position_embeddings */
    int64_t bos_id;      /* bos_token_id; -1: none */
    int64_t eos_id;      /* eos_token_id; -1: none */
} ArchInfo;

static const ArchInfo k_archs[] = {
    [ARCH_LLAMA] = {"LlamaForCausalLM", 0, 2048, 1, 2},
    [ARCH_QWEN2] = {"Qwen2ForCausalLM", 32, 32768, -1, -1},
    [ARCH_MISTRAL] = {"MistralForCausalLM", 8, 4096 * 32, 1, 2},
};

/* rms_norm_eps when absent: the same in all three classes. */
#define CFG_DEFAULT_RMS_EPS 1e-6

static int read_arch(const char *path, const json_t *root, ModelConfig *cfg, Err *err) {
    const json_t *a = json_object_get(root, "architectures");
    if (!json_is_array(a) || json_array_size(a) == 0 || !json_is_string(json_array_get(a, 0)))
        return err_set(err, "%s: key \"architectures\": expected a list naming the model class "
                       "(LlamaForCausalLM, Qwen2ForCausalLM or MistralForCausalLM)", path);
    const char *name = json_string_value(json_array_get(a, 0));
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (strcmp(name, k_archs[i].name) == 0) {
            cfg->arch = (ModelArch)i;
            snprintf(cfg->arch_name, sizeof cfg->arch_name, "%s", name);
            return 0;
        }
    return err_set(err, "%s: architecture \"%s\" is not supported (tlm runs LlamaForCausalLM, "
                   "Qwen2ForCausalLM and MistralForCausalLM)", path, name);
}

static int read_shapes(const char *path, const json_t *root, ModelConfig *cfg, Err *err) {
    if (json_positive(path, root, "hidden_size", &cfg->dim, err) ||
        json_positive(path, root, "num_hidden_layers", &cfg->n_layers, err) ||
        json_positive(path, root, "num_attention_heads", &cfg->n_heads, err) ||
        json_positive(path, root, "intermediate_size", &cfg->ffn_dim, err) ||
        json_positive(path, root, "vocab_size", &cfg->vocab_size, err))
        return -1;
    /* A missing key gets the config class's default; null means "same as heads" in all
     * three. */
    const ArchInfo *info = &k_archs[cfg->arch];
    int64_t kv_default = info->kv_heads > 0 ? info->kv_heads : cfg->n_heads;
    if (json_object_get(root, "num_key_value_heads") != NULL &&
        json_is_null(json_object_get(root, "num_key_value_heads")))
        kv_default = cfg->n_heads;
    if (cfg_json_int(path, root, "num_key_value_heads", NULL, 0, kv_default, &cfg->n_kv_heads, err))
        return -1;
    if (cfg->n_kv_heads <= 0 || cfg->n_heads % cfg->n_kv_heads != 0)
        return err_set(err, "%s: key \"num_key_value_heads\": %lld does not divide "
                       "num_attention_heads %lld", path, (long long)cfg->n_kv_heads,
                       (long long)cfg->n_heads);
    if (cfg_json_int(path, root, "head_dim", NULL, 0, 0, &cfg->head_dim, err))
        return -1;
    if (cfg->head_dim == 0) {
        if (cfg->dim % cfg->n_heads != 0)
            return err_set(err, "%s: key \"num_attention_heads\": %lld does not divide "
                           "hidden_size %lld (and no head_dim given)", path,
                           (long long)cfg->n_heads, (long long)cfg->dim);
        cfg->head_dim = cfg->dim / cfg->n_heads;
    }
    if (cfg->head_dim <= 0 || cfg->head_dim % 2 != 0)
        return err_set(err, "%s: key \"head_dim\": %lld, expected a positive even integer "
                       "(RoPE rotates pairs)", path, (long long)cfg->head_dim);
    if (cfg_json_int(path, root, "max_position_embeddings", NULL, 0, info->max_pos,
                     &cfg->max_pos, err))
        return -1;
    if (cfg->max_pos <= 0)
        return err_set(err, "%s: key \"max_position_embeddings\": %lld, expected a positive "
                       "integer", path, (long long)cfg->max_pos);
    double eps;
    if (cfg_json_num(path, root, "rms_norm_eps", NULL, 0, CFG_DEFAULT_RMS_EPS, &eps, err))
        return -1;
    if (!(eps > 0))
        return err_set(err, "%s: key \"rms_norm_eps\": %g, expected a positive number", path,
                       eps);
    cfg->rms_eps = (float)eps;
    return 0;
}

/* Biases and options tlm's kernels do not implement are refused, never ignored. */
static int read_flags(const char *path, const json_t *root, ModelConfig *cfg, Err *err) {
    if (json_flag(path, root, "tie_word_embeddings", 0, &cfg->tie_embeddings, err))
        return -1;
    int attn_bias = 0, mlp_bias = 0, sliding = 0;
    if (json_flag(path, root, "attention_bias", 0, &attn_bias, err) ||
        json_flag(path, root, "mlp_bias", 0, &mlp_bias, err) ||
        json_flag(path, root, "use_sliding_window", 0, &sliding, err))
        return -1;
    cfg->qkv_bias = cfg->arch == ARCH_QWEN2; /* Qwen2 attention: q/k/v bias, o without */
    if (cfg->arch == ARCH_LLAMA && attn_bias)
        return err_set(err, "%s: key \"attention_bias\": true (a bias on q, k, v and o_proj) "
                       "is not supported for %s", path, cfg->arch_name);
    if (cfg->arch == ARCH_LLAMA && mlp_bias)
        return err_set(err, "%s: key \"mlp_bias\": true is not supported", path);
    if (cfg->arch == ARCH_QWEN2 && sliding)
        return err_set(err, "%s: key \"use_sliding_window\": true is not supported (full "
                       "attention only)", path);
    /* Mistral 7B v0.1 has a 4096-token window; up to that length full attention is the
     * same computation, so the model is accepted and the limit stated. */
    const json_t *win = json_object_get(root, "sliding_window");
    if (cfg->arch == ARCH_MISTRAL && json_is_integer(win) &&
        json_integer_value(win) < cfg->max_pos)
        log_warn("%s: sliding_window %lld: tlm attends to the full context, so sequences "
                 "longer than %lld tokens differ from transformers", path,
                 (long long)json_integer_value(win), (long long)json_integer_value(win));
    return 0;
}

static int read_tokens(const char *path, const json_t *root, int null_clears, ModelConfig *cfg,
                       Err *err) {
    if (cfg_json_int(path, root, "bos_token_id", NULL, 0, cfg->bos_id, &cfg->bos_id, err))
        return -1;
    if (null_clears && json_is_null(json_object_get(root, "bos_token_id")))
        cfg->bos_id = -1;
    if (cfg_json_int(path, root, "pad_token_id", NULL, 0, cfg->pad_id, &cfg->pad_id, err))
        return -1;
    return read_eos(path, root, null_clears, cfg, err);
}

static int read_dtype(const char *path, const json_t *root, ModelConfig *cfg, Err *err) {
    const char *keys[] = {"torch_dtype", "dtype"};
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(root, keys[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof cfg->torch_dtype)
            return err_set(err, "%s: key \"%s\": expected a dtype name such as \"bfloat16\"",
                           path, keys[i]);
        snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s", json_string_value(v));
        return 0;
    }
    return 0;
}

static json_t *load_json(const char *path, Err *err) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL && je.line < 0) /* not opened: jansson's text repeats the path */
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
    else if (root == NULL)
        err_set(err, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
    else if (!json_is_object(root)) {
        json_decref(root);
        root = NULL;
        err_set(err, "%s: expected a JSON object", path);
    }
    return root;
}

/* generation_config.json: what generate() stops on; overrides config.json's ids. */
static int read_generation(const char *dir, ModelConfig *cfg, Err *err) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 0;
    json_t *root = load_json(path, err);
    if (root == NULL)
        return -1;
    int rc = read_tokens(path, root, 0, cfg, err);
    json_decref(root);
    return rc;
}

int cfg_parse_json(const char *path, const json_t *root, const char *gen_path,
                   const json_t *gen, ModelConfig *cfg, Err *err) {
    memset(cfg, 0, sizeof *cfg);
    if (!json_is_object(root))
        return err_set(err, "%s: expected a JSON object at the top level", path);
    int rc = read_arch(path, root, cfg, err);
    const ArchInfo *info = &k_archs[cfg->arch];
    cfg->bos_id = info->bos_id;
    cfg->pad_id = -1;
    if (info->eos_id >= 0)
        cfg->eos_ids[cfg->n_eos++] = info->eos_id;
    if (rc == 0)
        rc = read_shapes(path, root, cfg, err);
    if (rc == 0)
        rc = read_flags(path, root, cfg, err);
    if (rc == 0)
        rc = cfg_read_rope(path, root, cfg, err);
    if (rc == 0)
        rc = read_tokens(path, root, 1, cfg, err);
    if (rc == 0)
        rc = read_dtype(path, root, cfg, err);
    if (rc == 0 && gen != NULL)
        rc = read_tokens(gen_path, gen, 0, cfg, err);
    return rc;
}

int cfg_load(const char *dir, ModelConfig *cfg, Err *err) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config.json", dir);
    memset(cfg, 0, sizeof *cfg);
    struct stat sb;
    const char *wrong = stat(dir, &sb) != 0 ? (errno == ENOENT ? "no such directory" : strerror(errno))
                        : !S_ISDIR(sb.st_mode) ? "not a directory" : NULL;
    if (wrong != NULL)
        return err_set(err, "%s: %s, expected a Hugging Face model directory (config.json, "
                            "tokenizer.json, *.safetensors) or a .gguf file", dir, wrong);
    json_t *root = load_json(path, err);
    if (root == NULL)
        return -1;
    int rc = cfg_parse_json(path, root, NULL, NULL, cfg, err);
    json_decref(root);
    if (rc == 0)
        rc = read_generation(dir, cfg, err);
    return rc;
}
