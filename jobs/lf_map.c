/* jobs/lf_map.c -- the keys of a LLaMA-Factory ttl job and what each becomes in a JobSpec
 * (see lf_map.h). Meanings and defaults are the TLM reference's (Fhujinwu/TLM:
 * src/llamafactory/hparams/{finetuning,data,generating}_args.py, HF TrainingArguments,
 * train/ttl/workflow.py); where a default of the reference differs from tlm's own, the
 * reference's applies and a note says so. */
#include "jobs/lf_map.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jobs/job_schema.h"

typedef struct Ctx {
    const char *name; /* the file, for messages */
    const LfEntries *entries;
    JobSpec *spec;
    LfNotes *notes;
    Err *err;
} Ctx;

typedef int (*MapFn)(Ctx *c, const LfEntry *e, const char *arg);

typedef struct LfKey {
    const char *key;
    MapFn map;
    const char *arg; /* the native key, or the reason a key is ignored */
} LfKey;

/* "file:line:col: key" or "file: key (command line)". */
static void where(const Ctx *c, const LfEntry *e, char *out, size_t out_bytes) {
    if (e->line > 0)
        snprintf(out, out_bytes, "%s:%d:%d: %s", c->name, e->line, e->col, e->key);
    else
        snprintf(out, out_bytes, "%s: %s (command line)", c->name, e->key);
}

static int refuse(Ctx *c, const LfEntry *e, const char *why) {
    char at[JOB_PATH_BYTES + 96];
    where(c, e, at, sizeof at);
    return err_set(c->err, "%s: %s: %s", at, e->value, why);
}

static void note(Ctx *c, const char *key, const char *what) {
    if (c->notes->n_notes == LF_MAX_NOTES)
        return;
    char *out = c->notes->notes[c->notes->n_notes++];
    if (snprintf(out, LF_NOTE_BYTES, "%s: %s", key, what) >= LF_NOTE_BYTES)
        strcpy(out + LF_NOTE_BYTES - 4, "...");
}

static const LfEntry *find(const Ctx *c, const char *key) {
    for (int i = 0; i < c->entries->n; i++)
        if (strcmp(c->entries->e[i].key, key) == 0)
            return &c->entries->e[i];
    return NULL;
}

/* Sets native key from text, recording where the flat key was given. */
static int set_native(Ctx *c, const LfEntry *e, const char *native, const char *text, int plain) {
    const JobField *f = jf_find(native);
    char why[400];
    if (f == NULL || jf_set_scalar(f, c->spec, text, plain, why, sizeof why) != 0) {
        char at[JOB_PATH_BYTES + 96];
        where(c, e, at, sizeof at);
        return err_set(c->err, "%s: %s", at, f == NULL ? "no native key" : why);
    }
    c->spec->given_line[jf_index(f)] = e->line;
    c->spec->given_col[jf_index(f)] = e->col;
    return 0;
}

static int map_native(Ctx *c, const LfEntry *e, const char *native) {
    return set_native(c, e, native, e->value, e->plain);
}

static int map_ignored(Ctx *c, const LfEntry *e, const char *why) {
    char text[LF_NOTE_BYTES];
    snprintf(text, sizeof text, "ignored: %s", why);
    note(c, e->key, text);
    return 0;
}

/* PyYAML's booleans (LLaMA-Factory reads its files with yaml.safe_load). */
static int as_bool(const LfEntry *e, int *v) {
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off"};
    for (size_t i = 0; e->plain && i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(e->value, yes[i]) == 0)
            return *v = 1, 0;
        if (strcmp(e->value, no[i]) == 0)
            return *v = 0, 0;
    }
    return -1;
}

static int as_real(const LfEntry *e, double *v) {
    char *end;
    *v = strtod(e->value, &end);
    return e->plain && e->value[0] != '\0' && *end == '\0' && isfinite(*v) ? 0 : -1;
}

static int is_null(const LfEntry *e) {
    return e->plain && (e->value[0] == '\0' || strcmp(e->value, "null") == 0 ||
                        strcmp(e->value, "~") == 0);
}

static int map_stage(Ctx *c, const LfEntry *e, const char *arg) {
    (void)arg;
    if (strcmp(e->value, "ttl") != 0)
        return refuse(c, e, "tlm runs the ttl stage only (test-time learning); write stage: ttl");
    return 0;
}

static int map_finetuning(Ctx *c, const LfEntry *e, const char *arg) {
    (void)arg;
    if (strcmp(e->value, "lora") != 0)
        return refuse(c, e, "tlm trains LoRA adapters only; write finetuning_type: lora");
    note(c, e->key, "lora: accepted (tlm trains LoRA adapters only)");
    return 0;
}

static int map_model(Ctx *c, const LfEntry *e, const char *arg) {
    struct stat st;
    if (stat(e->value, &st) != 0 || !S_ISDIR(st.st_mode))
        return refuse(c, e, "not a local directory; tlm downloads nothing from the Hugging "
                      "Face hub: give the path of a local model directory (config.json, "
                      "model.safetensors, tokenizer.json)");
    return map_native(c, e, arg);
}

/* LLaMA-Factory's template names and tlm's (io/text/chat_template.h). */
static int map_template(Ctx *c, const LfEntry *e, const char *arg) {
    static const char *const same[] = {"llama3", "llama2", "qwen", "chatml", "mistral"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        if (strcmp(e->value, same[i]) == 0)
            return set_native(c, e, arg, e->value, 0);
    if (strcmp(e->value, "empty") == 0)
        return set_native(c, e, arg, "none", 0);
    return refuse(c, e, "not a template tlm has; it has llama3, llama2, qwen, chatml, mistral "
                  "and empty (or leave template out: the model's own chat template)");
}

static int map_dataset(Ctx *c, const LfEntry *e, const char *arg) {
    const LfEntry *dir = find(c, "dataset_dir");
    const char *d = dir != NULL && !is_null(dir) ? dir->value : "data";
    if (strcmp(d, "ONLINE") == 0 || strncmp(d, "REMOTE:", 7) == 0)
        return refuse(c, dir, "tlm downloads nothing from a hub: give a local folder holding "
                      "dataset_info.json");
    char info[JOB_PATH_BYTES + 32];
    snprintf(info, sizeof info, "%s/dataset_info.json", d);
    if (set_native(c, e, arg, e->value, 0) != 0)
        return -1;
    return set_native(c, dir != NULL ? dir : e, "data.dataset_info", info, 0);
}

/* The reference predicts on eval_dataset after adapting on dataset; tlm answers the very
 * prompts it adapts on, so the two must name the same datasets. */
static int map_eval_dataset(Ctx *c, const LfEntry *e, const char *arg) {
    (void)arg;
    JobSpec scratch = *c->spec;
    const JobField *f = jf_find("data.dataset");
    char why[400], a[LF_VALUE_BYTES], b[LF_VALUE_BYTES];
    const LfEntry *ds = find(c, "dataset");
    if (is_null(e) || ds == NULL)
        return 0;
    if (jf_set_scalar(f, &scratch, e->value, 0, why, sizeof why) != 0)
        return refuse(c, e, why);
    jf_format(f, &scratch, a, sizeof a);
    if (jf_set_scalar(f, &scratch, ds->value, 0, why, sizeof why) != 0)
        return 0; /* dataset's own mapping names the problem */
    jf_format(f, &scratch, b, sizeof b);
    if (strcmp(a, b) != 0)
        return refuse(c, e, "must name the same datasets as dataset: tlm answers the prompts "
                      "it adapts on (test-time learning has no separate training set)");
    return 0;
}

static int map_setting(Ctx *c, const LfEntry *e, const char *arg) {
    if (strcmp(e->value, "online_ttl") == 0)
        return set_native(c, e, arg, "online", 1);
    if (strcmp(e->value, "offline_ttl") == 0)
        return set_native(c, e, arg, "offline", 1);
    return refuse(c, e, "expected online_ttl or offline_ttl");
}

static int map_targets(Ctx *c, const LfEntry *e, const char *arg) {
    const char *all = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";
    return set_native(c, e, arg, strcmp(e->value, "all") == 0 ? all : e->value, 0);
}

static int map_zero(Ctx *c, const LfEntry *e, const char *why) {
    double v;
    if (as_real(e, &v) != 0 || v != 0.0)
        return refuse(c, e, why);
    return 0;
}

static int map_one(Ctx *c, const LfEntry *e, const char *why) {
    double v;
    if (as_real(e, &v) != 0 || v != 1.0)
        return refuse(c, e, why);
    return 0;
}

static int map_do_sample(Ctx *c, const LfEntry *e, const char *arg) {
    (void)arg;
    int v;
    if (as_bool(e, &v) != 0 || v)
        return refuse(c, e, "tlm decodes greedily only (as the paper's runs); write do_sample: false");
    return 0;
}

static int map_bool_note(Ctx *c, const LfEntry *e, const char *why) {
    int v;
    if (as_bool(e, &v) != 0)
        return refuse(c, e, "expected true or false");
    return map_ignored(c, e, why);
}

static int map_number_note(Ctx *c, const LfEntry *e, const char *why) {
    double v;
    if (!is_null(e) && as_real(e, &v) != 0)
        return refuse(c, e, "expected a number");
    return map_ignored(c, e, why);
}

/* LLaMA-Factory turns HF's gradient checkpointing on for training unless
 * disable_gradient_checkpointing (model/model_utils/checkpointing.py); tlm's recompute
 * gives the same numbers bit for bit, so only memory and time follow the key. */
static int map_disable_ckpt(Ctx *c, const LfEntry *e, const char *arg) {
    int v;
    if (as_bool(e, &v) != 0)
        return refuse(c, e, "expected true or false");
    return set_native(c, e, arg, v ? "false" : "true", 1);
}

/* HF refuses an output_dir holding results unless overwrite_output_dir; tlm run does the
 * same, and --overwrite moves the earlier results aside rather than over-writing them. */
static int map_overwrite(Ctx *c, const LfEntry *e, const char *arg) {
    (void)arg;
    int v;
    if (as_bool(e, &v) != 0)
        return refuse(c, e, "expected true or false");
    c->notes->overwrite_output_dir = v;
    note(c, e->key, v ? "true: as tlm run --overwrite (an earlier run's results in output_dir "
                        "move to output_dir/previous-<time>/; nothing is deleted)"
                      : "false: an output_dir holding an earlier run's results is refused");
    return 0;
}

/* HF's schedules: constant has no warmup even with warmup_ratio (get_constant_schedule);
 * constant_with_warmup and cosine warm up over ceil(warmup_ratio * steps) steps. */
static int map_schedule(Ctx *c, const LfEntry *e, const char *arg) {
    const LfEntry *w = find(c, "warmup_ratio");
    double ratio = 0;
    if (strcmp(e->value, "constant") == 0 || strcmp(e->value, "constant_with_warmup") == 0) {
        if (set_native(c, e, arg, "constant", 1) != 0)
            return -1;
        if (strcmp(e->value, "constant") == 0 && w != NULL && as_real(w, &ratio) == 0 && ratio > 0) {
            note(c, "warmup_ratio", "ignored with lr_scheduler_type constant (HF's constant "
                 "schedule has no warmup; constant_with_warmup has)");
            return set_native(c, w, "optim.warmup_ratio", "0.0", 1);
        }
        return 0;
    }
    if (strcmp(e->value, "cosine") == 0)
        return set_native(c, e, arg, "cosine", 1);
    return refuse(c, e, "tlm has the constant, constant_with_warmup and cosine schedules");
}

static int map_temperature(Ctx *c, const LfEntry *e, const char *arg) {
    (void)arg;
    double v;
    if (as_real(e, &v) != 0 || v != 0.0)
        return refuse(c, e, "tlm decodes greedily only; write temperature: 0.0 (with do_sample: false)");
    return 0;
}

static const LfKey keys[] = {
    {"stage", map_stage, NULL},
    {"model_name_or_path", map_model, "model.path"},
    {"template", map_template, "model.template"},
    {"dataset", map_dataset, "data.dataset"},
    {"eval_dataset", map_eval_dataset, NULL},
    {"dataset_dir", NULL, NULL}, /* read by dataset */
    {"cutoff_len", map_native, "data.cutoff_len"},
    {"max_samples", map_native, "data.max_samples"},
    {"setting", map_setting, "method.setting"},
    {"threshold", map_native, "method.threshold"},
    {"lamb", map_native, "method.lamb"},
    {"streaming_batch_size", map_native, "method.stream_batch"},
    {"finetuning_type", map_finetuning, NULL},
    {"lora_target", map_targets, "lora.targets"},
    {"lora_rank", map_native, "lora.rank"},
    {"lora_alpha", map_native, "lora.alpha"},
    {"lora_dropout", map_zero, "tlm's LoRA has no dropout (DESIGN §1: dropout 0, as the paper); "
                               "write lora_dropout: 0"},
    {"learning_rate", map_native, "optim.lr"},
    {"lr_scheduler_type", map_schedule, "optim.schedule"},
    {"warmup_ratio", map_native, "optim.warmup_ratio"},
    {"per_device_train_batch_size", map_native, "optim.batch_size"},
    {"gradient_accumulation_steps", map_one, "tlm averages a step's loss over its selected "
                                             "samples, which accumulation would not; use "
                                             "per_device_train_batch_size instead"},
    {"num_train_epochs", map_one, "tlm takes one pass over the test stream (each prompt is "
                                  "seen once); write num_train_epochs: 1"},
    {"max_grad_norm", map_native, "optim.max_grad_norm"},
    {"disable_gradient_checkpointing", map_disable_ckpt, "optim.gradient_checkpointing"},
    {"seed", map_native, "seed"},
    {"output_dir", map_native, "output.dir"},
    {"save_steps", map_native, "output.checkpoint_every"},
    {"max_new_tokens", map_native, "generate.max_new_tokens"},
    {"temperature", map_temperature, NULL},
    {"do_sample", map_do_sample, NULL},
    {"bf16", map_bool_note, "tlm's precision is fixed (CUDA: bf16 weights, fp32 accumulation "
                            "and LoRA; CPU: fp32)"},
    {"ddp_timeout", map_number_note, "tlm's collectives keep their own timeouts"},
    {"trust_remote_code", map_ignored, "tlm runs no code from a model directory"},
    {"overwrite_cache", map_ignored, "tlm keeps no dataset cache (it tokenizes as it reads)"},
    {"preprocessing_num_workers", map_ignored, "tlm tokenizes each sample as it reads it"},
    {"report_to", map_ignored, "tlm writes metrics.jsonl and contacts no tracker"},
    {"plot_loss", map_ignored, "tlm report OUT_DIR draws the loss and more"},
    {"logging_steps", map_ignored, "metrics.jsonl has a line for every update step"},
    {"do_eval", map_ignored, "score the answers with tlm eval after the run"},
    {"overwrite_output_dir", map_overwrite, NULL},
    {"do_train", map_ignored, "a ttl run always adapts"},
    {"do_predict", map_ignored, "a ttl run always answers every prompt"},
    {"predict_with_generate", map_ignored, "tlm always generates the answers"},
    {"per_device_eval_batch_size", map_ignored, "tlm generates each answer on its own; greedy "
                                                "answers do not depend on the batch"},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static int unknown_key(Ctx *c, const LfEntry *e) {
    char at[JOB_PATH_BYTES + 96], hint[160] = "";
    where(c, e, at, sizeof at);
    int best = 4;
    for (int i = 0; i < N_KEYS; i++) {
        const int d = jf_edit_distance(e->key, keys[i].key);
        if (d < best) {
            best = d;
            snprintf(hint, sizeof hint, " (did you mean %s?)", keys[i].key);
        }
    }
    return err_set(c->err, "%s: unknown key for a ttl job%s", at,
                   hint[0] != '\0' ? hint : " (the ttl stage's keys are listed in README.md)");
}

/* A key the file leaves out whose reference default tlm cannot honour: refused, with the
 * line to add. */
static int require(Ctx *c, const char *key, const char *why) {
    if (find(c, key) != NULL)
        return 0;
    return err_set(c->err, "%s: %s: missing: %s", c->name, key, why);
}

/* A key the file leaves out: the reference's default, noted where it is not tlm's own. */
static void default_to(Ctx *c, const char *key, const char *native, const char *value,
                       const char *what) {
    if (find(c, key) != NULL)
        return;
    const JobField *f = jf_find(native);
    char why[400], was[64];
    jf_format(f, c->spec, was, sizeof was);
    if (jf_set_scalar(f, c->spec, value, 1, why, sizeof why) == 0 && strcmp(was, value) != 0) {
        char text[LF_NOTE_BYTES];
        snprintf(text, sizeof text, "not given: the reference's default %s%s (tlm's own: %s)",
                 value, what, was);
        note(c, key, text);
    }
}

/* The keys without which the job means something else, then the reference's defaults. */
static int finish(Ctx *c) {
    if (require(c, "stage", "write stage: ttl") != 0 ||
        require(c, "model_name_or_path", "the local model directory") != 0 ||
        require(c, "dataset", "the dataset names of dataset_dir/dataset_info.json") != 0 ||
        require(c, "do_sample", "the reference samples by default (do_sample true, "
                "temperature 0.95); tlm decodes greedily: write do_sample: false") != 0 ||
        require(c, "lr_scheduler_type", "HF Trainer's default is linear, which tlm does "
                "not have: write lr_scheduler_type: constant or cosine") != 0 ||
        require(c, "num_train_epochs", "HF Trainer's default is 3 epochs; tlm takes one "
                "pass over the test stream: write num_train_epochs: 1") != 0)
        return -1;
    default_to(c, "setting", "method.setting", "offline", " (offline_ttl)");
    default_to(c, "threshold", "method.threshold", "2.0", "");
    default_to(c, "cutoff_len", "data.cutoff_len", "2048", "");
    default_to(c, "max_new_tokens", "generate.max_new_tokens", "1024", "");
    default_to(c, "per_device_train_batch_size", "optim.batch_size", "8", "");
    default_to(c, "disable_gradient_checkpointing", "optim.gradient_checkpointing", "true",
               " (disable_gradient_checkpointing false: activations recomputed in the "
               "backward, the same numbers, less memory, more time)");
    if (find(c, "lora_target") == NULL) {
        LfEntry all = {.key = "lora_target", .value = "all", .line = 0};
        map_targets(c, &all, "lora.targets");
        note(c, "lora_target", "not given: the reference's default all (every projection; "
             "tlm's own: q_proj, v_proj)");
    }
    if (find(c, "lora_alpha") == NULL) { /* LLaMA-Factory: lora_rank * 2 */
        char alpha[32];
        snprintf(alpha, sizeof alpha, "%lld.0", (long long)(2 * c->spec->lora.rank));
        default_to(c, "lora_alpha", "lora.alpha", alpha, " (2 x lora_rank)");
    }
    if (find(c, "template") == NULL)
        note(c, "template", "not given: the model's own chat template (model.template auto)");
    c->spec->output.reference_layout = 1;
    return 0;
}

int lf_map(const LfEntries *entries, const char *name, JobSpec *spec, LfNotes *notes,
           Err *err) {
    job_defaults(spec);
    snprintf(spec->source, sizeof spec->source, "%s", name);
    Ctx c = {.name = name, .entries = entries, .spec = spec, .notes = notes, .err = err};
    for (int i = 0; i < entries->n; i++) {
        const LfEntry *e = &entries->e[i];
        const LfKey *k = NULL;
        for (int j = 0; j < N_KEYS && k == NULL; j++)
            if (strcmp(keys[j].key, e->key) == 0)
                k = &keys[j];
        if (k == NULL)
            return unknown_key(&c, e);
        if (k->map != NULL && k->map(&c, e, k->arg) != 0)
            return -1;
    }
    if (finish(&c) != 0)
        return -1;
    return job_validate(spec, err);
}
