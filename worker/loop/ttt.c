/* worker/loop/ttt.c -- ttt_run (see ttt.h): open the model, tokenizer, template, task
 * file, one adapter (re-initialised per task) and the update engine with method ttt (and,
 * with ttt.tasks_per_pass > 1, the stack of a batched pass), then the tasks in rounds of
 * dp: rank d takes task k * dp + d of round k (with tasks_per_pass P: rounds of dp x P,
 * rank d the d-th block, one pass), the round's lines go to the writer, the progress
 * record moves past the round. */
#include "worker/loop/ttt_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/base/log.h"
#include "io/convert/gguf_source.h"
#include "worker/loop/loop_lora.h"
#include "worker/loop/loop_weights.h"
#include "worker/loop/ttl_check.h"
#include "worker/loop/ttl_comm.h"
#include "worker/loop/ttl_out.h"

/* Generation slots: the queries and orders of one task go through in waves of these. */
#define TTT_GEN_SLOTS 16
/* As ttl.c: the model's LoRA workspaces never below rank 16, the model's default. */
#define TTT_MIN_LORA_RANK 16

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static Comm *tp_comm(const Ttt *t) {
    Comm *c = t->hooks.comm;
    return c != NULL && comm_size(c, COMM_TP) > 1 ? c : NULL;
}

/* The template's stop ids and generation_config.json's EOS ids, without duplicates. */
static void collect_stop_ids(Ttt *t) {
    t->n_stop = tmpl_stop_ids(t->tmpl, t->tok, t->stop_ids, TTT_MAX_STOP);
    const ModelConfig *cfg = model_config(t->m);
    for (int i = 0; i < cfg->n_eos && t->n_stop < TTT_MAX_STOP; i++) {
        int dup = cfg->eos_ids[i] < 0;
        for (int j = 0; j < t->n_stop; j++)
            dup |= t->stop_ids[j] == cfg->eos_ids[i];
        if (!dup)
            t->stop_ids[t->n_stop++] = (int32_t)cfg->eos_ids[i];
    }
}

static int open_model(Ttt *t, Err *err) {
    const JobSpec *job = t->job;
    /* a pass trains up to tasks_per_pass tasks' steps together (ttt_pass.c) */
    const int64_t L = job->data.cutoff_len;
    const int64_t bs = job->optim.batch_size * job->ttt.tasks_per_pass;
    const int64_t new_tok = job->generate.max_new_tokens;
    ModelOptions mo = {.max_tokens = bs * L > TTT_GEN_SLOTS ? bs * L : TTT_GEN_SLOTS,
                       .max_train_tokens = bs * L,
                       .max_seqs = (int32_t)(bs > TTT_GEN_SLOTS ? bs : TTT_GEN_SLOTS),
                       .max_pos = L + new_tok,
                       .max_lora_rank = (int32_t)(job->lora.rank > TTT_MIN_LORA_RANK
                                                      ? job->lora.rank : TTT_MIN_LORA_RANK),
                       .comm = tp_comm(t),
                       .gradient_checkpointing = job->optim.gradient_checkpointing};
    ModelConfig cfg;
    if (model_src_config(job->model.path, &cfg, err) != 0)
        return -1;
    loop_weight_format(job, &mo);
    mo.est_lora_targets = loop_lora_targets(job);
    mo.est_lora_stack = job->ttt.tasks_per_pass > 1 ? (int32_t)job->ttt.tasks_per_pass : 0;
    mo.est_kv_slots = TTT_GEN_SLOTS;
    mo.est_kv_ctx = L + new_tok;
    const int tp = tp_comm(t) != NULL ? comm_size(tp_comm(t), COMM_TP) : 1;
    if (ttl_check_rank(job, &cfg, err) != 0 ||
        ttl_check_memory(job, &cfg, &mo, t->ops, tp, err) != 0)
        return -1;
    if ((t->m = model_open(job->model.path, t->ops, &mo, err)) == NULL)
        return -1;
    if ((t->tok = model_src_tokenizer(job->model.path, err)) == NULL ||
        ttl_check_vocab(&cfg, t->tok, job->model.path, err) != 0)
        return -1;
    if (tmpl_resolve(job->model.template_name, t->tok, &t->tmpl, err) != 0)
        return err_prefix(err, "model.template: ");
    collect_stop_ids(t);
    if ((t->gen = gen_open(t->m, TTT_GEN_SLOTS, L + new_tok, err)) == NULL)
        return err_prefix(err, "generation (cutoff_len %lld + max_new_tokens %lld): ",
                          (long long)L, (long long)new_tok);
    return loop_lora_open(&t->lora, t->job, t->m, t->ops, tp_comm(t), err);
}

static int open_engine(Ttt *t, Err *err) {
    const JobSpec *job = t->job;
    const MethodParams mp = {.params = job->method.params};
    TtlCoreConfig cc = {.batch_size = job->optim.batch_size, .max_len = job->data.cutoff_len,
                        .lr = job->optim.lr, .cosine = job->optim.schedule == JOB_COSINE,
                        .warmup_ratio = job->optim.warmup_ratio, .optim = optim_defaults()};
    cc.optim.beta1 = job->optim.beta1;
    cc.optim.beta2 = job->optim.beta2;
    cc.optim.eps = job->optim.eps;
    cc.optim.weight_decay = job->optim.weight_decay;
    cc.optim.max_grad_norm = job->optim.max_grad_norm;
    /* comm NULL: no dp sum; a tp-sharded adapter still sums its norm over tp */
    if (ttl_core_init(&t->core, t->m, &t->lora, method_of(JOB_TTT), &mp, &cc, NULL, err))
        return -1;
    t->core.on_step = ttt_task_on_step;
    t->core.hook_ctx = t;
    return 0;
}

static int ttt_open(Ttt *t, Err *err) {
    const JobSpec *job = t->job;
    t->sh = ttt_shape(job);
    ttl_comm_grid(t->hooks.comm, &t->dp_rank, &t->dp_size, &t->writer);
    /* output.dir before anything is loaded: a second run is refused at once */
    const int resume = t->hooks.resume != NULL && t->hooks.resume[0] != '\0';
    const TtlLedgerMode mode = resume ? TTL_LEDGER_RESUME
                               : t->hooks.overwrite ? TTL_LEDGER_OVERWRITE : TTL_LEDGER_FRESH;
    if (t->writer && ttl_ledger_open(&t->ledger, job->output.dir, mode, err) != 0)
        return -1;
    if ((t->ops = ops_select(job_backend_name(job->backend), t->hooks.device, err)) == NULL)
        return err_prefix(err, "backend %s: ", job_backend_name(job->backend));
    const TfConfig tc = {.path = job->data.path, .max_tasks = job->data.max_samples,
                         .fields = {.id = job->ttt.fields.id, .train = job->ttt.fields.train,
                                    .test = job->ttt.fields.test,
                                    .input = job->ttt.fields.input,
                                    .output = job->ttt.fields.output}};
    if ((t->tf = tf_open(&tc, err)) == NULL)
        return err_prefix(err, "data.path: ");
    if (open_model(t, err) != 0 || open_engine(t, err) != 0 ||
        (job->ttt.tasks_per_pass > 1 && ttt_pass_open(t, err) != 0))
        return -1;
    return ttt_out_open(t, err);
}

static void ttt_close(Ttt *t) {
    ttt_out_close(&t->out);
    strbuf_free(&t->pred_lines);
    strbuf_free(&t->task_lines);
    ttt_pass_close(t);
    ttl_core_free(&t->core);
    gen_close(t->gen);
    lora_free(&t->lora);
    tok_close(t->tok);
    model_close(t->m);
    tf_close(t->tf);
    ttl_ledger_close(&t->ledger);
}

/* Whether task i of the round [first, first + n) is this rank's: i mod dp one task at a
 * time; with tasks_per_pass P > 1 (rounds of dp x P tasks) rank d takes the d-th block
 * of ceil(n / dp) tasks, so the ranks' lines, gathered in rank order, stay in task
 * order. */
static int is_mine(const Ttt *t, int64_t first, int64_t n, int64_t i) {
    if (t->job->ttt.tasks_per_pass == 1)
        return (int)(i % t->dp_size) == t->dp_rank;
    const int64_t chunk = (n + t->dp_size - 1) / t->dp_size;
    return (i - first) / chunk == t->dp_rank;
}

/* A round of tasks_per_pass > 1: this rank's block of tasks trained in one pass. */
static int run_pass_round(Ttt *t, int64_t first, int64_t n, Err *err) {
    TfTask *mine = calloc((size_t)t->job->ttt.tasks_per_pass, sizeof *mine);
    if (mine == NULL)
        return err_set(err, "out of memory");
    int32_t n_mine = 0;
    int rc = 0;
    for (int64_t i = first; i < first + n && rc == 0; i++) {
        TfTask task;
        const int trc = tf_next(t->tf, &task, err);
        if (trc <= 0) {
            rc = trc < 0 ? -1 : err_set(err, "%s: ended before task %lld", tf_path(t->tf),
                                        (long long)i);
            break;
        }
        if (is_mine(t, first, n, i))
            mine[n_mine++] = task;
        else
            tf_task_free(&task);
    }
    if (rc == 0 && n_mine > 0)
        rc = ttt_pass_run(t, mine, n_mine, err);
    for (int32_t k = 0; k < n_mine; k++)
        tf_task_free(&mine[k]);
    free(mine);
    return rc != 0 ? -1 : ttt_out_round(t, n, err);
}

/* Round k: this rank's task (k * dp + dp_rank), when the file has it. Every rank reads
 * every task line (parsing is cheap next to training), so each knows where it stands. */
static int run_round(Ttt *t, int64_t first, int64_t n, Err *err) {
    if (t->job->ttt.tasks_per_pass > 1)
        return run_pass_round(t, first, n, err);
    for (int64_t i = first; i < first + n; i++) {
        TfTask task;
        const int rc = tf_next(t->tf, &task, err);
        if (rc <= 0)
            return rc < 0 ? -1 : err_set(err, "%s: ended before task %lld", tf_path(t->tf),
                                         (long long)i);
        const int mine = is_mine(t, first, n, i);
        const int trc = mine ? ttt_task_run(t, &task, err) : 0;
        tf_task_free(&task);
        if (trc != 0)
            return -1;
    }
    return ttt_out_round(t, n, err);
}

static int run_tasks(Ttt *t, Err *err) {
    const int64_t total = tf_total(t->tf);
    if (tf_skip(t->tf, t->tasks_done, err) != 0)
        return err_prefix(err, "resume: ");
    while (t->tasks_done < total) {
        if (ttl_comm_stop(t->hooks.comm, t->hooks.stop != NULL && *t->hooks.stop)) {
            t->interrupted = 1;
            return 0;
        }
        const int64_t round = t->dp_size * t->job->ttt.tasks_per_pass;
        const int64_t n = total - t->tasks_done < round ? total - t->tasks_done : round;
        if (run_round(t, t->tasks_done, n, err) != 0)
            return -1;
        if (t->writer && t->hooks.progress)
            log_info("ttt: %lld/%lld tasks", (long long)t->tasks_done, (long long)total);
    }
    return 0;
}

static void summarize(const Ttt *t, double seconds, TtlSummary *s) {
    memset(s, 0, sizeof *s);
    s->samples = (int64_t)t->totals[TTT_QUERIES];
    s->steps = (int64_t)t->totals[TTT_STEPS];
    s->gen_tokens = (int64_t)t->totals[TTT_GEN_TOKENS];
    s->t_update = t->totals[TTT_T_TRAIN];
    s->t_generate = t->totals[TTT_T_PREDICT];
    s->t_total = seconds;
    s->interrupted = t->interrupted;
    s->ckpt_step = -1;
}

int ttt_run(const JobSpec *job, const TtlHooks *hooks, TtlSummary *summary, Err *err) {
    const double t0 = now_s();
    Ttt *t = calloc(1, sizeof *t);
    if (t == NULL)
        return err_set(err, "out of memory");
    t->job = job;
    if (hooks != NULL)
        t->hooks = *hooks;
    int rc = ttt_open(t, err);
    if (rc == 0)
        rc = run_tasks(t, err);
    const double seconds = now_s() - t0;
    if (rc == 0 && t->writer) { /* output.dir's lock is still held (ttt_close drops it) */
        rc = job_save_resolved(t->job, err);
        if (rc == 0 && !t->interrupted && t->job->output.reference_layout)
            rc = ttl_out_reference_layout(t->job, err);
        if (rc == 0)
            rc = ttt_out_summary(t, seconds, err);
        const double *v = t->totals;
        if (rc == 0)
            log_info("ttt: %s%.0f tasks, %.0f queries (%.0f labelled): label ce %.4f (base "
                     "%.4f), exact match %.3f; %.2f s per task (train %.2f, answer %.2f)",
                     t->interrupted ? "interrupted after " : "", v[TTT_TASKS], v[TTT_QUERIES],
                     v[TTT_LABELED], v[TTT_LABELED] > 0 ? v[TTT_CE_SUM] / v[TTT_LABELED] : 0,
                     v[TTT_LABELED] > 0 ? v[TTT_CE_BASE_SUM] / v[TTT_LABELED] : 0,
                     v[TTT_LABELED] > 0 ? v[TTT_CORRECT] / v[TTT_LABELED] : 0,
                     v[TTT_TASKS] > 0 ? (v[TTT_T_TRAIN] + v[TTT_T_PREDICT]) / v[TTT_TASKS] : 0,
                     v[TTT_TASKS] > 0 ? v[TTT_T_TRAIN] / v[TTT_TASKS] : 0,
                     v[TTT_TASKS] > 0 ? v[TTT_T_PREDICT] / v[TTT_TASKS] : 0);
    }
    if (summary != NULL)
        summarize(t, seconds, summary);
    ttt_close(t);
    free(t);
    return rc;
}
