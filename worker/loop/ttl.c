/* worker/loop/ttl.c -- ttl_run: one job from open to summary (DESIGN §1).
 * Online (the reference's forward_for_online, train/ttl/workflow.py): per stream batch of
 * method.stream_batch samples, (1) generate every answer with the current model,
 * (2) one epoch of update steps over the batch (a new trainer per batch: AdamW moments and
 * the lr schedule restart when optim.reset_per_batch), (3) append predictions and scores.
 * Offline (forward_for_offline): (1) one epoch over the whole stream, selection ce from
 * the base model, cosine schedule with warmup 0.1 by default, (2) generate every answer
 * with the final model, appended chunk by chunk. */
#include "worker/loop/ttl_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/base/log.h"
#include "io/ckpt/ckpt.h"
#include "io/convert/gguf_source.h"
#include "worker/loop/loop_lora.h"
#include "worker/loop/loop_weights.h"
#include "worker/loop/ttl_check.h"
#include "worker/loop/ttl_resume.h"
#include "worker/loop/ttt.h"

/* The model's LoRA workspaces are sized for the job's rank but never below 16, the
 * model's own default max_lora_rank (worker/model/model.h), so a job of rank 8 opens the
 * model as every caller without options does (the golden tests, tlm bench); the extra
 * is (T, 8) floats per target. */
#define TTL_MIN_LORA_RANK 16

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Test hook: TLM_TEST_STEP_DELAY_MS=N sleeps N ms after every update step and every
 * generated stream batch, so that a test can signal the bundled demo inside a phase that
 * a fast machine finishes in milliseconds (tests/worker/loop/test_resume.sh). */
static long test_step_delay_ms(void) {
    const char *v = getenv("TLM_TEST_STEP_DELAY_MS");
    return v != NULL ? strtol(v, NULL, 10) : 0;
}

/* Test hook: TLM_TEST_NAN_SAMPLE=I makes the ce of stream sample I NaN when an update
 * epoch scores it (every time: a resume must leave the variable out to get past it), so
 * a test can stop a run of the bundled demo at a non-finite step at a chosen point. */
static int64_t test_nan_sample(void) {
    const char *v = getenv("TLM_TEST_NAN_SAMPLE");
    return v != NULL && v[0] != '\0' ? strtoll(v, NULL, 10) : -1;
}

static void test_delay(const Ttl *t) {
    if (t->test_step_delay_ms > 0) {
        const long ms = t->test_step_delay_ms;
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Step hook: progress for every step, a metrics line for every update step. */
static void on_step(void *ctx, const TtlStepStats *st) {
    Ttl *t = ctx;
    test_delay(t);
    prog_scored(&t->prog, st->samples, st->selected, st->tokens, st->mean_ce);
    if (st->updated) {
        ttl_totals_updated(&t->tot, 1);
        if (t->writer)
            ttl_out_metrics(&t->out, st, st->seconds > 0 ? st->tokens / st->seconds : 0);
    }
}

/* Stop ids: the template's (tokenizer EOS + stop words, Template.get_stop_token_ids) and
 * generation_config.json's eos_token_id, without duplicates. */
static void collect_stop_ids(Ttl *t) {
    t->n_stop = tmpl_stop_ids(t->tmpl, t->tok, t->stop_ids, TTL_MAX_STOP);
    const ModelConfig *cfg = model_config(t->m);
    for (int i = 0; i < cfg->n_eos && t->n_stop < TTL_MAX_STOP; i++) {
        int dup = 0;
        for (int j = 0; j < t->n_stop; j++)
            dup |= t->stop_ids[j] == cfg->eos_ids[i];
        if (!dup && cfg->eos_ids[i] >= 0)
            t->stop_ids[t->n_stop++] = (int32_t)cfg->eos_ids[i];
    }
}

/* The Comm whose tp group shards model and adapter, or NULL when tp = 1. */
static Comm *tp_comm(const Ttl *t) {
    Comm *c = t->hooks.comm;
    return c != NULL && comm_size(c, COMM_TP) > 1 ? c : NULL;
}

static int open_adapter(Ttl *t, Err *err) {
    if (loop_lora_open(&t->lora, t->job, t->m, t->ops, tp_comm(t), err) != 0)
        return -1;
    /* PEFT's init from our seeded RNG (worker/adapter/lora.h) */
    lora_init(&t->lora, t->job->seed);
    return 0;
}

/* The checkpoint state and the outputs: fresh (the files truncated), or restored from a
 * checkpoint with --resume (the files cut back to its counts); then the progress line,
 * starting where a checkpoint stopped. */
static int open_outputs(Ttl *t, Err *err) {
    const char *dir = t->job->output.dir;
    if (ttl_ckpt_open(&t->ck, t->core.lora, t->writer, err) != 0)
        return -1;
    int fresh = 1;
    if (t->hooks.resume != NULL && t->hooks.resume[0] != '\0' && ttl_resume(t, &fresh, err))
        return -1;
    if (fresh && t->writer && ttl_out_open(&t->out, dir, err) != 0)
        return -1;
    const int n_temps = t->writer ? ckpt_remove_temps(dir) : 0;
    if (n_temps > 0)
        log_info("removed %d unfinished checkpoint temp file%s in %s", n_temps,
                 n_temps > 1 ? "s" : "", dir);
    prog_init(&t->prog, stderr, t->writer && t->hooks.progress, t->expected);
    if (t->tot.samples > 0)
        prog_resumed(&t->prog, t->tot.samples, t->tot.selected, t->tot.ce);
    return 0;
}

/* Opens everything the run needs, sized once for the job's maxima. */
/* Takes output.dir before anything is loaded, so a second run is refused at once. */
static int open_ledger(Ttl *t, Err *err) {
    int dr, ds;
    ttl_comm_grid(t->hooks.comm, &dr, &ds, &t->writer);
    if (!t->writer)
        return 0;
    const int resume = t->hooks.resume != NULL && t->hooks.resume[0] != '\0';
    const TtlLedgerMode mode = resume ? TTL_LEDGER_RESUME
                               : t->hooks.overwrite ? TTL_LEDGER_OVERWRITE : TTL_LEDGER_FRESH;
    return ttl_ledger_open(&t->ledger, t->job->output.dir, mode, err);
}

static int ttl_open(Ttl *t, const Method *method, Err *err) {
    const JobSpec *job = t->job;
    const char *mdir = job->model.path;
    if (open_ledger(t, err) != 0)
        return -1;
    if ((t->ops = ops_select(job_backend_name(job->backend), t->hooks.device, err)) == NULL)
        return err_prefix(err, "backend %s: ", job_backend_name(job->backend));
    ModelConfig cfg;
    if (model_src_config(mdir, &cfg, err) != 0)
        return -1;
    /* the longest sample, and room for its answer in the rope tables and KV cache */
    const int64_t L = job->data.cutoff_len, new_tok = job->generate.max_new_tokens;
    const int64_t bs = job->optim.batch_size;
    const int32_t slots = (int32_t)(job->method.stream_batch < TTL_GEN_SLOTS
                                        ? job->method.stream_batch : TTL_GEN_SLOTS);
    ModelOptions mo = {.max_tokens = bs * L > slots ? bs * L : slots,
                       .max_train_tokens =
                           method->updates ? bs * (L + method->gen_tokens) : -1,
                       .max_seqs = (int32_t)(bs > slots ? bs : slots),
                       .max_pos = L + new_tok,
                       .max_lora_rank = (int32_t)(job->lora.rank > TTL_MIN_LORA_RANK
                                                      ? job->lora.rank : TTL_MIN_LORA_RANK),
                       .comm = tp_comm(t), .est_lora_targets = loop_lora_targets(job),
                       .full_logits = method->needs_logits,
                       .gradient_checkpointing = job->optim.gradient_checkpointing,
                       .est_kv_slots = slots, .est_kv_ctx = L + new_tok};
    loop_weight_format(job, &mo);
    const int tp = tp_comm(t) != NULL ? comm_size(tp_comm(t), COMM_TP) : 1;
    if ((method->updates && ttl_check_rank(job, &cfg, err) != 0) ||
        ttl_check_memory(job, &cfg, &mo, t->ops, tp, err) != 0)
        return -1;
    if ((t->m = model_open(mdir, t->ops, &mo, err)) == NULL)
        return -1;
    if ((t->tok = model_src_tokenizer(mdir, err)) == NULL || ttl_check_vocab(&cfg, t->tok, mdir, err) != 0)
        return -1;
    /* "auto" here only for library callers: tlm run resolves it before the job is logged */
    if (tmpl_resolve(job->model.template_name, t->tok, &t->tmpl, err) != 0)
        return err_prefix(err, "model.template: ");
    collect_stop_ids(t);
    if (method->updates && open_adapter(t, err) != 0)
        return -1;
    DsConfig dc;
    job_dataset_config(job, &dc);
    if ((t->ds = ds_open(&dc, err)) == NULL)
        return -1;
    t->expected = ds_total(t->ds);
    if ((t->gen = gen_open(t->m, slots, L + new_tok, err)) == NULL)
        return err_prefix(err, "generation (cutoff_len %lld + max_new_tokens %lld): ",
                          (long long)L, (long long)new_tok);
    if (ttl_batch_init(&t->b, slots, L, (int32_t)new_tok, err) != 0)
        return -1;

    const MethodParams mp = {.threshold = job->method.threshold, .lamb = job->method.lamb,
                             .offline = job->method.setting == JOB_OFFLINE,
                             .params = job->method.params};
    TtlCoreConfig cc = {.batch_size = bs, .max_len = L, .lr = job->optim.lr,
                        .cosine = job->optim.schedule == JOB_COSINE,
                        .warmup_ratio = job->optim.warmup_ratio, .optim = optim_defaults()};
    cc.optim.beta1 = job->optim.beta1;
    cc.optim.beta2 = job->optim.beta2;
    cc.optim.eps = job->optim.eps;
    cc.optim.weight_decay = job->optim.weight_decay;
    cc.optim.max_grad_norm = job->optim.max_grad_norm;
    if (ttl_core_init(&t->core, t->m, method->updates ? &t->lora : NULL, method, &mp, &cc,
                      t->hooks.comm, err) != 0)
        return -1;
    t->core.on_step = on_step;
    t->core.hook_ctx = t;
    t->test_step_delay_ms = test_step_delay_ms();
    t->test_nan_sample = test_nan_sample();
    return open_outputs(t, err);
}

static void ttl_close(Ttl *t) {
    ttl_ckpt_close(&t->ck);
    ttl_out_close(&t->out);
    ttl_core_free(&t->core);
    ttl_batch_free(&t->b);
    ttl_totals_free(&t->tot);
    gen_close(t->gen);
    ds_close(t->ds);
    lora_free(&t->lora);
    tok_close(t->tok);
    model_close(t->m);
    ttl_ledger_close(&t->ledger);
}

static TtlSamples samples_of(const Ttl *t, int with_gen) {
    const TtlBatch *b = &t->b;
    const int content_loss = t->job->method.loss_tokens == JOB_LOSS_CONTENT;
    const int64_t nan_at = t->test_nan_sample - b->first;
    return (TtlSamples){.n = b->n, .tokens = b->tokens, .off = b->off, .lens = b->lens,
                        .mask = b->mask, .content_loss = content_loss,
                        .gen = with_gen ? b->gen : NULL,
                        .gen_lens = with_gen ? b->gen_lens : NULL, .gen_stride = b->gen_stride,
                        .first = b->first,
                        .test_nan = nan_at >= 0 && nan_at < b->n ? (int32_t)nan_at + 1 : 0};
}

/* Collective: every rank gets the same answer (worker/loop/ttl_comm.c). */
static int stop_requested(const Ttl *t) {
    return ttl_comm_stop(t->hooks.comm, t->hooks.stop != NULL && *t->hooks.stop);
}

/* After an epoch over samples [from, to) of the batch: their scores into the totals and
 * the checkpoint's score table. */
static int account(Ttl *t, int32_t from, int32_t to, Err *err) {
    if (ttl_totals_add(&t->tot, t->b.scores + from, to - from, err) != 0)
        return -1;
    return ttl_ckpt_scores(t->ck, &t->b, from, to, err);
}

/* A stream batch's wall time and its share inside collectives, into the run's totals. */
static void count_generation(Ttl *t, double t0, double comm0) {
    test_delay(t);
    t->t_generate += now_s() - t0;
    t->t_comm_generate += comm_busy_seconds(t->hooks.comm) - comm0;
}

/* Online, after a step of the stream batch of n samples from t->tot.samples on had a
 * non-finite ce, loss or gradient norm (err says which): the batch's answers, scores and
 * metrics are dropped (the files end at the batch before) and the state after that batch
 * (ttl_ckpt_hold's) is checkpointed, so --resume continues from it; returns -1 with err
 * naming the batch and the checkpoint. */
static int keep_last_batch(Ttl *t, int32_t n, Err *err) {
    const long long first = (long long)t->tot.samples, last = first + n - 1;
    const char *dir = t->job->output.dir;
    Err e2 = {{0}};
    int64_t step = -1;
    const int rc = ttl_ckpt_write_held(t, &step, &e2);
    ttl_comm_meet(t->hooks.comm); /* the writer is done before any rank aborts */
    if (rc != 0)
        return err_prefix(err, "online, the stream batch of samples %lld..%lld (the last good "
                          "state, after sample %lld, could not be saved: %s): ", first, last,
                          first - 1, e2.msg);
    if (step >= 0)
        return err_prefix(err, "online, the stream batch of samples %lld..%lld (not written): "
                          "%s/ckpt-%lld.h5 holds the state after the %lld samples before it "
                          "(--resume auto continues there): ", first, last, dir,
                          (long long)step, first);
    return err_prefix(err, "online, the stream batch of samples %lld..%lld (not written; %s): ",
                      first, last, first == 0 ? "the first batch: no good state beyond the "
                      "fresh start to keep" : t->core.lora == NULL ? "this method trains no "
                      "adapter" : "no checkpoint kept: output.checkpoint_every is 0");
}

static int run_online(Ttl *t, Err *err) {
    const JobSpec *job = t->job;
    const int64_t bs = job->optim.batch_size;
    int64_t answered0;
    /* Without reset_per_batch one schedule and one AdamW state span the whole stream:
     * begun here, or continued from the checkpoint's position on a resume. */
    if (!job->optim.reset_per_batch) {
        if (ttl_ckpt_resumed(t->ck, &answered0))
            ttl_core_schedule(&t->core, (t->expected + bs - 1) / bs);
        else
            ttl_core_begin(&t->core, (t->expected + bs - 1) / bs, 1);
    }
    for (int64_t k = 0;; k++) {
        if (stop_requested(t)) {
            t->interrupted = 1;
            return ttl_ckpt_maybe(t, 1, t->tot.samples, err);
        }
        int32_t n;
        prog_phase(&t->prog, "read");
        const int32_t max_n = (int32_t)job->method.stream_batch;
        if (ttl_batch_load(t, max_n, t->tot.samples, &n, err) != 0)
            return -1;
        if (n == 0) /* the end: a last checkpoint holds the final adapter */
            return ttl_ckpt_maybe(t, 1, t->tot.samples, err);
        const double t0 = now_s(), comm0 = comm_busy_seconds(t->hooks.comm);
        prog_phase(&t->prog, "generate");
        if (ttl_batch_generate(t, 0, n, err) != 0)
            return -1;
        count_generation(t, t0, comm0);
        /* A new trainer per batch (the reference): its schedule covers this batch. */
        if (job->optim.reset_per_batch)
            ttl_core_begin(&t->core, (n + bs - 1) / bs, 1);
        prog_phase(&t->prog, "update");
        if (ttl_ckpt_hold(t, t->tot.samples, err) != 0) /* the last good state, in case */
            return -1;
        const TtlSamples s = samples_of(t, 1);
        if (ttl_core_epoch(&t->core, &s, t->b.scores, err) != 0)
            return t->core.nonfinite ? keep_last_batch(t, n, err) : -1;
        if (ttl_comm_gather(t->hooks.comm, &t->b, 0, n, 1, 1, err) != 0 ||
            account(t, 0, n, err) != 0)
            return -1;
        if (t->writer && ttl_out_batch(&t->out, &t->b, t->tok, 0, n, 1, 1, err) != 0)
            return -1;
        /* a consistent point: the batch's outputs are on disk (ttl_ckpt.h) */
        if (ttl_ckpt_maybe(t, 0, t->tot.samples, err) != 0)
            return -1;
    }
}

/* Offline, after a step with a non-finite ce, loss or gradient norm (err says which): the
 * samples [from, next) before it are written and the last good state checkpointed
 * mid-epoch, as a stop would; returns -1 with err naming the step, the sample and the
 * checkpoint. */
static int keep_last_good(Ttl *t, int32_t from, int32_t next, Err *err) {
    Err e2 = {{0}};
    const int rc = ttl_comm_gather(t->hooks.comm, &t->b, from, next, 0, 1, &e2) != 0 ||
                   account(t, from, next, &e2) != 0 ||
                   (t->writer &&
                    ttl_out_batch(&t->out, &t->b, t->tok, from, next, 0, 1, &e2) != 0) ||
                   ttl_ckpt_maybe(t, 1, 0, &e2) != 0;
    ttl_comm_meet(t->hooks.comm); /* the writer is done before any rank aborts */
    if (rc)
        return err_prefix(err, "(the last good state could not be saved: %s) ", e2.msg);
    const int64_t step = ttl_ckpt_last_step(t->ck);
    if (step >= 0 && step == t->core.step)
        err_prefix(err, "offline epoch, stream sample %d on: %s/ckpt-%lld.h5 holds the state "
                   "before it: ", next, t->job->output.dir, (long long)step);
    else
        err_prefix(err, "offline epoch, stream sample %d on: ", next);
    return -1;
}

/* The epoch's stop check, before every update step (collective: every rank asks). */
static int epoch_stop(void *ctx) { return stop_requested(ctx); }

/* The offline update epoch over the n samples of the stream from sample `from` on (0, or
 * where a mid-epoch checkpoint left it: its schedule position, moments and counters are
 * restored). A stop request ends it at the next step: the scores so far are written and
 * a checkpoint taken (adapter, moments, schedule position, samples_done = the position in
 * the epoch). Returns 1 when stopped, 0 at the epoch's end, -1 on errors. */
static int offline_epoch(Ttl *t, int32_t n, int32_t from, Err *err) {
    const int64_t bs = t->job->optim.batch_size;
    if (from == 0)
        ttl_core_begin(&t->core, (n + bs - 1) / bs, 1);
    else
        ttl_core_schedule(&t->core, (n + bs - 1) / bs);
    prog_phase(&t->prog, "update");
    const TtlSamples s = samples_of(t, 0);
    int32_t next;
    if (ttl_core_epoch_part(&t->core, &s, t->b.scores, from, epoch_stop, t, &next, err) != 0)
        return t->core.nonfinite ? keep_last_good(t, from, next, err) : -1;
    if (ttl_comm_gather(t->hooks.comm, &t->b, from, next, 0, 1, err) != 0 ||
        account(t, from, next, err) != 0)
        return -1;
    if (t->writer && ttl_out_batch(&t->out, &t->b, t->tok, from, next, 0, 1, err) != 0)
        return -1;
    if (ttl_ckpt_maybe(t, 1, 0, err) != 0)
        return -1;
    t->interrupted = next < n;
    return next < n;
}

static int run_offline(Ttl *t, Err *err) {
    const JobSpec *job = t->job;
    int32_t n;
    prog_phase(&t->prog, "read");
    if (ttl_batch_load(t, INT32_MAX, 0, &n, err) != 0) /* the whole stream */
        return -1;
    /* A resumed run continues the epoch where its checkpoint stopped it (samples_done <
     * n), or after it, at `answered` predictions. */
    int64_t answered = 0;
    ttl_ckpt_resumed(t->ck, &answered);
    if (t->tot.samples < n) {
        const int rc = offline_epoch(t, n, (int32_t)t->tot.samples, err);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    /* Answers with the final model, appended one stream batch at a time. */
    const int32_t chunk = (int32_t)job->method.stream_batch;
    for (int32_t from = (int32_t)answered; from < n; from += chunk) {
        if (stop_requested(t)) {
            t->interrupted = 1;
            return ttl_ckpt_maybe(t, 1, from, err);
        }
        const int32_t to = from + chunk < n ? from + chunk : n;
        const double t0 = now_s(), comm0 = comm_busy_seconds(t->hooks.comm);
        prog_phase(&t->prog, "generate");
        if (ttl_batch_generate(t, from, to, err) != 0 ||
            ttl_comm_gather(t->hooks.comm, &t->b, from, to, 1, 0, err) != 0)
            return -1;
        count_generation(t, t0, comm0);
        if (t->writer && ttl_out_batch(&t->out, &t->b, t->tok, from, to, 1, 0, err) != 0)
            return -1;
    }
    return ttl_ckpt_maybe(t, 1, n, err);
}

/* The run's summary from its parts. */
static void summarize(const Ttl *t, double t_start, TtlSummary *s) {
    memset(s, 0, sizeof *s);
    ttl_totals_summary(&t->tot, s);
    s->skipped = t->ds != NULL ? ds_skipped(t->ds) : 0;
    for (int64_t i = 0; i < t->tot.samples; i++)
        s->above_threshold += t->tot.ce[i] > t->job->method.threshold;
    s->t_generate = t->t_generate;
    s->t_comm_generate = t->t_comm_generate;
    s->t_score = t->core.t_score;
    s->t_update = t->core.t_update;
    s->t_comm_steps = t->core.t_comm;
    s->t_total = now_s() - t_start;
    s->interrupted = t->interrupted;
    s->ckpt_step = ttl_ckpt_last_step(t->ck);
}

static void print_summary(const Ttl *t, const TtlSummary *s) {
    const double other = s->t_total - s->t_generate - s->t_score - s->t_update;
    const double pct = s->samples > 0 ? 100.0 / (double)s->samples : 0.0;
    if (!t->core.method->updates) /* it selects none; say what the threshold would */
        log_info("tlm run: method %s trains nothing; %lld of %lld samples (%.1f%%) have ce "
                 "above method.threshold %g and would be selected by tlm",
                 t->core.method->name, (long long)s->above_threshold, (long long)s->samples,
                 pct * (double)s->above_threshold, t->job->method.threshold);
    log_info("tlm run: %s%lld samples, %lld selected (%.1f%%), %lld update steps, %lld "
             "skipped records",
             s->interrupted ? "interrupted after " : "", (long long)s->samples,
             (long long)s->selected,
             s->samples > 0 ? 100.0 * (double)s->selected / (double)s->samples : 0.0,
             (long long)s->steps, (long long)s->skipped);
    log_info("tlm run: mean input ppl: first 10%% (%lld samples) %.4g -> last 10%% (%lld "
             "samples) %.4g", (long long)s->n_first, s->ppl_first, (long long)s->n_last,
             s->ppl_last);
    log_info("tlm run: time %.2f s: generate %.2f s (%lld tokens), score %.2f s, update "
             "%.2f s, other %.2f s", s->t_total, s->t_generate, (long long)s->gen_tokens,
             s->t_score, s->t_update, other > 0 ? other : 0.0);
    if (t->hooks.comm != NULL) {
        const double steps = s->t_score + s->t_update;
        log_info("tlm run: collectives (rank 0): %.3f s of the update steps' %.2f s (%.1f%%), "
                 "%.3f s of generation's %.2f s (%.1f%%)", s->t_comm_steps, steps,
                 steps > 0 ? 100.0 * s->t_comm_steps / steps : 0.0, s->t_comm_generate,
                 s->t_generate, s->t_generate > 0 ? 100.0 * s->t_comm_generate / s->t_generate
                                                   : 0.0);
    }
    log_info("tlm run: outputs in %s/: %s %s %s %s", t->job->output.dir,
             ttl_out_name(TTL_OUT_PREDICTIONS), ttl_out_name(TTL_OUT_SCORES),
             ttl_out_name(TTL_OUT_METRICS), ttl_out_name(TTL_OUT_SUMMARY));
}

int ttl_run(const JobSpec *job, const TtlHooks *hooks, TtlSummary *summary, Err *err) {
    if (job->method.name == JOB_TTT) /* per-task adapters: their own loop */
        return ttt_run(job, hooks, summary, err);
    const double t_start = now_s();
    const Method *method = method_of(job->method.name);
    if (method == NULL) { /* a JobSpec not made by job_load */
        char names[256];
        job_method_names(", ", names, sizeof names);
        return err_set(err, "method.name: %d is not a method (available: %s)",
                       (int)job->method.name, names);
    }
    Ttl *t = calloc(1, sizeof *t);
    if (t == NULL)
        return err_set(err, "out of memory");
    t->job = job;
    if (hooks != NULL)
        t->hooks = *hooks;
    int rc = ttl_open(t, method, err);
    if (rc == 0)
        rc = job->method.setting == JOB_OFFLINE ? run_offline(t, err) : run_online(t, err);
    if (rc == 0 && !t->interrupted && t->tot.samples == 0 && ds_skipped(t->ds) > 0)
        rc = err_set(err, "%s: every one of its %lld records was bad and skipped "
                     "(data.on_error: skip): nothing to run; the first error is in the log "
                     "above, data.on_error: fail stops at it", job->data.path,
                     (long long)ds_skipped(t->ds));
    prog_finish(&t->prog);
    TtlSummary sum;
    summarize(t, t_start, &sum);
    if (rc == 0 && t->writer) { /* output.dir's lock is still held (ttl_close drops it) */
        rc = job_save_resolved(job, err);
        if (rc == 0 && !t->interrupted && job->output.reference_layout)
            rc = ttl_out_reference_layout(job, err);
        if (rc == 0)
            rc = ttl_out_summary(&t->out, &sum, job, t->ops->name, err);
        if (rc == 0)
            print_summary(t, &sum);
    }
    if (summary != NULL)
        *summary = sum;
    ttl_close(t);
    free(t);
    return rc;
}
