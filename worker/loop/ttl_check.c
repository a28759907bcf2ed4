/* worker/loop/ttl_check.c -- the checks before loading (see ttl_check.h). */
#include "worker/loop/ttl_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/log.h"
#include "io/base/sysmem.h"
#include "worker/adapter/lora.h"

static const char *job_name(const JobSpec *job) {
    return job->source[0] != '\0' ? job->source : "job";
}

int ttl_check_rank(const JobSpec *job, const ModelConfig *cfg, Err *err) {
    for (int i = 0; i < job->lora.n_targets; i++) {
        const int tg = lora_target_parse(job->lora.targets[i]);
        if (tg < 0)
            continue; /* open_adapter names it */
        int64_t n_in, n_out;
        lora_target_dims(cfg, (LoraTarget)tg, &n_in, &n_out);
        const int64_t cap = n_in < n_out ? n_in : n_out;
        if (job->lora.rank > cap)
            return err_set(err, "%s: lora.rank: %lld exceeds %s's smaller dimension: the "
                           "model's %s maps %lld to %lld features, so the rank can be at "
                           "most %lld", job_name(job), (long long)job->lora.rank,
                           job->lora.targets[i], job->lora.targets[i], (long long)n_in,
                           (long long)n_out, (long long)cap);
    }
    return 0;
}

static double gib(int64_t bytes) { return (double)bytes / (1024.0 * 1024.0 * 1024.0); }

/* A byte count for a message: GiB from 1 GiB up, else MiB or KiB, so a small estimate
 * against a small room does not read "0.00 GiB needs, 0.00 GiB free". */
typedef struct SizeText {
    char s[32];
} SizeText;

static SizeText size_text(size_t bytes) {
    SizeText t;
    const double b = (double)bytes;
    if (b >= 1024.0 * 1024.0 * 1024.0)
        snprintf(t.s, sizeof t.s, "%.2f GiB", b / (1024.0 * 1024.0 * 1024.0));
    else if (b >= 1024.0 * 1024.0)
        snprintf(t.s, sizeof t.s, "%.1f MiB", b / (1024.0 * 1024.0));
    else
        snprintf(t.s, sizeof t.s, "%.1f KiB", b / 1024.0);
    return t;
}

/* Where the backend's room comes from, for the refusal: /proc/meminfo and the cgroup on
 * CPU, the device's own line (ops->describe) on CUDA, the test hook when it decided. */
static void room_source(const Ops *ops, int faked, char *buf, size_t n_bytes) {
    if (faked) {
        snprintf(buf, n_bytes, "TLM_TEST_DEVICE_FREE=%s, a test hook, in place of %s",
                 getenv("TLM_TEST_DEVICE_FREE"),
                 strcmp(ops->name, "cpu") == 0 ? "MemAvailable" : "cudaMemGetInfo");
        return;
    }
    if (strcmp(ops->name, "cpu") != 0) {
        char dev[200];
        ops->describe(dev, sizeof dev);
        snprintf(buf, n_bytes, "cudaMemGetInfo; %s", dev);
        return;
    }
    SysMem sm;
    sysmem_read(&sm);
    int len = snprintf(buf, n_bytes, "MemAvailable %.2f GiB in /proc/meminfo",
                       gib(sm.mem_available));
    if (sm.cgroup_limit >= 0 && len > 0 && (size_t)len < n_bytes)
        snprintf(buf + len, n_bytes - (size_t)len, "; cgroup limit %.2f GiB (%s), %.2f GiB of "
                 "it in use", gib(sm.cgroup_limit), sm.cgroup_file, gib(sm.cgroup_usage));
}

/* A .gguf read with its own types: e's weights sized tensor by tensor (the estimate's
 * formula knows only the file's main type), and the log says which tensors widen. */
static int file_weights(const JobSpec *job, const ModelConfig *cfg, const ModelOptions *mo,
                        const Ops *ops, int tp, ModelMemory *e, Err *err) {
    ModelFileWeights fw;
    if (model_file_weights(job->model.path, cfg, mo, tp, ops->elem_bytes, &fw, err) != 0)
        return -1;
    e->total_bytes = e->total_bytes - e->weights_bytes + fw.weights_bytes;
    e->weights_bytes = fw.weights_bytes;
    e->matrix_bytes = fw.matrix_bytes;
    e->dense_bytes = fw.dense_bytes;
    const double mib = 1024.0 * 1024.0;
    log_info("memory check: %s's weights sized tensor by tensor: %.1f MiB per rank (the "
             "file's tensors %.1f MiB; widened to %s: %d tensor(s), %.1f MiB in the file -> "
             "%.1f%s%s)", job->model.path, (double)fw.weights_bytes / mib,
             (double)fw.file_bytes / mib, dtype_name(ops->elem), fw.n_widened,
             (double)fw.widened_file_bytes / mib, (double)fw.widened_bytes / mib,
             fw.n_widened > 0 ? ": " : "", fw.widened);
    return 0;
}

int ttl_check_memory(const JobSpec *job, const ModelConfig *cfg, const ModelOptions *mo,
                     const Ops *ops, int tp, Err *err) {
    ModelMemory e = model_memory_estimate(cfg, mo, tp, ops->elem_bytes);
    if (mo->weight_file_types && file_weights(job, cfg, mo, ops, tp, &e, err) != 0)
        return -1;
    size_t room = 0, total = 0;
    int faked = 0;
    Err why = {{0}};
    if (ops_mem_room(ops, &room, &total, &faked, &why) != 0) {
        if (faked) /* a malformed test hook */
            return err_set(err, "%s", why.msg);
        log_debug("memory check skipped: %s", why.msg); /* nothing to compare with */
        return 0;
    }
    if (e.total_bytes <= room)
        return 0;
    const int cpu = strcmp(ops->name, "cpu") == 0;
    char src[600];
    room_source(ops, faked, src, sizeof src);
    return err_set(err, "%s: the job needs an estimated %s per rank (weights %s, LoRA+AdamW "
                   "%s, KV cache %s, activations %s: lora.rank, data.cutoff_len, "
                   "optim.batch_size, generate.max_new_tokens and %s set "
                   "them) but %s has %s free of %s (%s)", job_name(job),
                   size_text(e.total_bytes).s, size_text(e.weights_bytes).s,
                   size_text(e.lora_bytes).s, size_text(e.kv_bytes).s,
                   size_text(e.act_bytes).s,
                   job->method.name == JOB_TTT ? "ttt.tasks_per_pass" : "method.stream_batch",
                   cpu ? "this host" : "the GPU",
                   size_text(room).s, size_text(total).s, src);
}

/* A special id of the model's config files. */
static int check_id(const ModelConfig *cfg, const char *model_dir, const char *key,
                    int64_t id, Err *err) {
    if (id < cfg->vocab_size)
        return 0;
    return err_set(err, "%s: %s %lld (config.json or generation_config.json) is not below "
                   "the model's vocab_size %lld (config.json)", model_dir, key,
                   (long long)id, (long long)cfg->vocab_size);
}

int ttl_check_vocab(const ModelConfig *cfg, const Tokenizer *tok, const char *model_dir,
                    Err *err) {
    /* ids run from 0 to the largest (holes have no token): any with a token above V */
    for (int64_t id = tok_vocab_size(tok) - 1; id >= cfg->vocab_size; id--) {
        const char *piece = tok_piece(tok, (int32_t)id);
        if (piece == NULL)
            continue;
        const char *role = id == tok_bos_id(tok)   ? " (the bos token)"
                           : id == tok_eos_id(tok) ? " (the eos token)" : "";
        return err_set(err, "%s: token \"%s\"%s has id %lld, but the model's vocab_size is "
                       "%lld (%s/config.json): the embedding has no row for it", tok_file(tok),
                       piece, role, (long long)id, (long long)cfg->vocab_size, model_dir);
    }
    if (check_id(cfg, model_dir, "bos_token_id", cfg->bos_id, err) != 0 ||
        check_id(cfg, model_dir, "pad_token_id", cfg->pad_id, err) != 0)
        return -1;
    for (int i = 0; i < cfg->n_eos; i++)
        if (check_id(cfg, model_dir, "eos_token_id", cfg->eos_ids[i], err) != 0)
            return -1;
    return 0;
}
