/* io/ckpt/ckpt_export.c -- a checkpoint's adapter as a PEFT directory: adapter_model.safetensors
 * (the LoRA tensors under PEFT's saved keys, F32, metadata {"format": "pt"} as
 * safetensors.torch.save_file writes) and adapter_config.json holding only the LoraConfig
 * keys every consumer accepts: PEFT 0.12 (the TLM reference's pin) and later, whose
 * LoraConfig(**config) refuses a key it does not know, and vLLM's LoRA loader. The values
 * are those PEFT save_pretrained writes for a plain LoRA on a causal LM (see
 * tests/data/peft/, written by PEFT 0.12 and 0.21 themselves). Both files atomic. */
#include "io/ckpt/ckpt.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/atomic_file.h"
#include "io/model/safetensors.h"

/* mkdir -p dir. */
static int make_dirs(const char *dir, Err *err) {
    char buf[CKPT_PATH_BYTES];
    if ((size_t)snprintf(buf, sizeof buf, "%s", dir) >= sizeof buf)
        return err_set(err, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(err, "%s: cannot create folder %s: %s", dir, buf, strerror(errno));
        if (c == '\0')
            break;
        *p = c;
    }
    struct stat s;
    if (stat(dir, &s) != 0 || !S_ISDIR(s.st_mode))
        return err_set(err, "%s: not a folder", dir);
    return 0;
}

static int set(json_t *o, const char *key, json_t *v) {
    return v == NULL ? -1 : json_object_set_new(o, key, v);
}

/* LoraConfig(r, lora_alpha, lora_dropout=0, target_modules, bias="none",
 * task_type="CAUSAL_LM") as PEFT writes it, restricted to the keys PEFT 0.12 knows (newer
 * PEFTs add keys, alora_invocation_tokens, lora_bias, ..., that 0.12 refuses, and take
 * their defaults when absent) and vLLM reads. */
static json_t *config_json(const CkptState *st, const char *base_model) {
    json_t *o = json_object(), *targets = json_array();
    if (o == NULL || targets == NULL) {
        json_decref(o);
        json_decref(targets);
        return NULL;
    }
    int bad = set(o, "target_modules", targets);
    for (int i = 0; i < st->n_targets; i++)
        bad |= json_array_append_new(targets, json_string(st->targets[i]));
    const char *nulls[] = {"layers_pattern", "layers_to_transform", "modules_to_save",
                           "revision"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        bad |= set(o, nulls[i], json_null());
    const char *falses[] = {"fan_in_fan_out", "use_dora", "use_rslora"};
    for (size_t i = 0; i < sizeof falses / sizeof falses[0]; i++)
        bad |= set(o, falses[i], json_false());
    bad |= set(o, "alpha_pattern", json_object());
    bad |= set(o, "rank_pattern", json_object());
    bad |= set(o, "base_model_name_or_path", json_string(base_model));
    bad |= set(o, "bias", json_string("none"));
    bad |= set(o, "inference_mode", json_true());
    bad |= set(o, "init_lora_weights", json_true());
    /* PEFT keeps lora_alpha as the user gave it: an int for 16, a float for 16.5. */
    double a = st->lora_alpha;
    bad |= set(o, "lora_alpha", (a == floor(a) && fabs(a) < 1e15) ? json_integer((json_int_t)a)
                                                                   : json_real(a));
    bad |= set(o, "lora_dropout", json_real(0.0));
    bad |= set(o, "peft_type", json_string("LORA"));
    bad |= set(o, "r", json_integer(st->lora_rank));
    bad |= set(o, "task_type", json_string("CAUSAL_LM"));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int write_config(const CkptState *st, const char *dir, const char *base_model,
                        Err *err) {
    char path[CKPT_PATH_BYTES + 32];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    json_t *o = config_json(st, base_model);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))
                   : NULL;
    json_decref(o);
    if (text == NULL)
        return err_set(err, "%s: out of memory building the JSON", path);
    int rc = af_write_line(path, text, err);
    free(text);
    return rc;
}

static int write_tensors(const CkptState *st, const char *dir, Err *err) {
    char path[CKPT_PATH_BYTES + 32];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    StOut *out = calloc((size_t)st->n_tensors, sizeof *out);
    if (out == NULL)
        return err_set(err, "%s: out of memory", path);
    for (int i = 0; i < st->n_tensors; i++) {
        const CkptTensor *t = &st->tensors[i];
        out[i] = (StOut){.name = t->name, .dtype = DTYPE_F32, .ndim = 2,
                         .shape = {t->n_rows, t->n_cols}, .data = t->param};
    }
    const char *meta[] = {"format", "pt"};
    int rc = st_write(path, out, st->n_tensors, meta, 1, err);
    free(out);
    return rc;
}

/* The checkpoint's model directory (as the job gave it, so maybe relative to where the job
 * ran) made absolute from the working directory: AutoPeftModelForCausalLM loads the base
 * from base_model_name_or_path wherever the adapter is read from. */
static int absolute_model_dir(const CkptState *st, char *out, Err *err) {
    if (realpath(st->model_dir, out) != NULL)
        return 0;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        snprintf(cwd, sizeof cwd, "?");
    return err_set(err, "base_model_name_or_path: the checkpoint's model directory \"%s\" "
                   "(as the job gave it) is not found from %s: %s; run tlm export where the "
                   "job ran, or give the base model with --base MODEL", st->model_dir, cwd,
                   strerror(errno));
}

int ckpt_export_peft(const CkptState *st, const char *dir, const char *base_model, Err *err) {
    if (st->n_tensors < 1 || st->n_targets < 1 || st->lora_rank < 1)
        return err_set(err, "%s: nothing to export (%d tensors, %d targets, rank %d)", dir,
                       st->n_tensors, st->n_targets, st->lora_rank);
    char abs_dir[PATH_MAX];
    if (base_model == NULL) {
        if (absolute_model_dir(st, abs_dir, err) != 0)
            return err_prefix(err, "exporting to PEFT folder %s: ", dir);
        base_model = abs_dir;
    }
    if (make_dirs(dir, err) < 0 || write_tensors(st, dir, err) < 0 ||
        write_config(st, dir, base_model, err) < 0)
        return err_prefix(err, "exporting to PEFT folder %s: ", dir);
    return 0;
}
