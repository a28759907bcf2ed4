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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Step hook: progress for every step, a metrics line for every update step. */
static void on_step(void *ctx, const TtlStepStats *st) {
    Ttl *t = ctx;
    prog_scored(&t->prog, st->samples, st->selected, st->tokens, st->mean_ce);
    if (st->updated) {
        t->sum.steps++;
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
    const JobSpec *job = t->job;
    LoraConfig lc = {.rank = (int32_t)job->lora.rank, .alpha = (float)job->lora.alpha};
    for (int i = 0; i < job->lora.n_targets; i++) {
        const int tg = lora_target_parse(job->lora.targets[i]);
        if (tg < 0)
            return err_set(err, "lora.targets: unknown projection \"%s\"", job->lora.targets[i]);
        lc.targets |= LORA_BIT(tg);
    }
    if (lora_alloc_tp(&t->lora, &lc, model_config(t->m), t->ops, tp_comm(t), err) != 0)
        return err_prefix(err, "lora: ");
    lora_init(&t->lora, job->seed); /* PEFT's init from our seeded RNG (worker/adapter/lora.h) */
    return 0;
}

/* Opens everything the run needs, sized once for the job's maxima. */
static int ttl_open(Ttl *t, const Method *method, Err *err) {
    const JobSpec *job = t->job;
    const char *mdir = job->model.path;
    if ((t->ops = ops_select(job_backend_name(job->backend), t->hooks.device, err)) == NULL)
        return err_prefix(err, "backend %s: ", job_backend_name(job->backend));
    ModelConfig cfg;
    if (cfg_load(mdir, &cfg, err) != 0)
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
                       .max_lora_rank = (int32_t)(job->lora.rank > 16 ? job->lora.rank : 16),
                       .comm = tp_comm(t)};
    if ((t->m = model_open(mdir, t->ops, &mo, err)) == NULL)
        return -1;
    char path[JOB_PATH_BYTES + 32];
    snprintf(path, sizeof path, "%s/tokenizer.json", mdir);
    if ((t->tok = tok_open(path, err)) == NULL)
        return -1;
    if ((t->tmpl = tmpl_find(job->model.template_name)) == NULL)
        return err_set(err, "model.template: unknown template \"%s\"", job->model.template_name);
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
    t->cap_gen = slots;
    t->cap_gen_tok = (int64_t)slots * L;
    t->b.gen_stride = (int32_t)new_tok;
    t->gen_tok = malloc((size_t)t->cap_gen_tok * sizeof(int32_t));
    t->gen_lens = malloc((size_t)slots * sizeof(int32_t));
    t->gen_out = malloc((size_t)slots * (size_t)new_tok * sizeof(int32_t));
    t->gen_out_lens = malloc((size_t)slots * sizeof(int32_t));
    if (!t->gen_tok || !t->gen_lens || !t->gen_out || !t->gen_out_lens)
        return err_set(err, "out of memory for generation staging of %d slots", slots);

    const MethodParams mp = {.threshold = job->method.threshold, .lamb = job->method.lamb,
                             .offline = job->method.setting == JOB_OFFLINE};
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
    int dr, ds;
    ttl_comm_grid(t->hooks.comm, &dr, &ds, &t->writer);
    /* the outputs: fresh, or cut back to a checkpoint's counts (--resume) */
    if (ttl_ckpt_open(t, err) != 0)
        return -1;
    prog_init(&t->prog, stderr, t->writer && t->hooks.progress, t->expected);
    if (t->sum.samples > 0) /* resumed: the bar starts where the checkpoint stopped */
        prog_scored(&t->prog, t->sum.samples, t->sum.selected, t->sum.input_tokens, 0.0);
    return 0;
}

static void ttl_close(Ttl *t) {
    ttl_ckpt_close(t);
    ttl_out_close(&t->out);
    ttl_core_free(&t->core);
    ttl_batch_free(&t->b);
    free(t->gen_tok);
    free(t->gen_lens);
    free(t->gen_out);
    free(t->gen_out_lens);
    free(t->all_ce);
    gen_close(t->gen);
    ds_close(t->ds);
    lora_free(&t->lora);
    tok_close(t->tok);
    model_close(t->m);
}

/* After an epoch: the batch's scores into the run's totals and the ce history. */
static int account(Ttl *t, int32_t from, int32_t to, Err *err) {
    if (t->n_all + (to - from) > t->cap_all) {
        int64_t c = t->cap_all > 0 ? t->cap_all : 256;
        while (c < t->n_all + (to - from))
            c *= 2;
        float *p = realloc(t->all_ce, (size_t)c * sizeof *p);
        if (p == NULL)
            return err_set(err, "out of memory for the scores of %lld samples", (long long)c);
        t->all_ce = p;
        t->cap_all = c;
    }
    for (int32_t i = from; i < to; i++) {
        t->all_ce[t->n_all++] = t->b.scores[i].ce;
        t->sum.selected += t->b.scores[i].selected;
        t->sum.input_tokens += t->b.lens[i];
    }
    t->sum.samples += to - from;
    return 0;
}

static TtlSamples samples_of(const TtlBatch *b, int with_gen) {
    return (TtlSamples){.n = b->n, .tokens = b->tokens, .off = b->off, .lens = b->lens,
                        .gen = with_gen ? b->gen : NULL,
                        .gen_lens = with_gen ? b->gen_lens : NULL, .gen_stride = b->gen_stride};
}

/* Collective: every rank gets the same answer (worker/loop/ttl_ckpt.c). */
static int stop_requested(Ttl *t) { return ttl_ckpt_stop(t); }

static int run_online(Ttl *t, Err *err) {
    const JobSpec *job = t->job;
    const int64_t bs = job->optim.batch_size;
    for (int64_t k = 0;; k++) {
        if (stop_requested(t)) {
            t->sum.interrupted = 1;
            return ttl_ckpt_maybe(t, 1, t->sum.samples, err);
        }
        int32_t n;
        prog_phase(&t->prog, "read");
        if (ttl_batch_load(t, (int32_t)job->method.stream_batch, &n, err) != 0)
            return -1;
        if (n == 0) /* the end: a last checkpoint holds the final adapter */
            return ttl_ckpt_maybe(t, 1, t->sum.samples, err);
        double t0 = now_s(), comm0 = comm_busy_seconds(t->hooks.comm);
        prog_phase(&t->prog, "generate");
        if (ttl_batch_generate(t, 0, n, err) != 0)
            return -1;
        t->sum.t_generate += now_s() - t0;
        t->sum.t_comm_generate += comm_busy_seconds(t->hooks.comm) - comm0;
        /* A new trainer per batch (the reference): its schedule covers this batch. Without
         * reset_per_batch one schedule and one AdamW state span the whole stream. */
        if (job->optim.reset_per_batch)
            ttl_core_begin(&t->core, (n + bs - 1) / bs, 1);
        else if (t->b.first == 0) /* not on resume: the checkpoint restored it */
            ttl_core_begin(&t->core, (t->expected + bs - 1) / bs, 1);
        prog_phase(&t->prog, "update");
        const TtlSamples s = samples_of(&t->b, 1);
        if (ttl_core_epoch(&t->core, &s, t->b.scores, err) != 0 ||
            ttl_comm_gather(t->hooks.comm, &t->b, 0, n, 1, 1, err) != 0 ||
            account(t, 0, n, err) != 0 || ttl_ckpt_scores(t, 0, n, err) != 0)
            return -1;
        if (t->writer && ttl_out_batch(&t->out, t, 0, n, 1, 1, err) != 0)
            return -1;
        /* a consistent point: the batch's outputs are on disk (ttl_impl.h) */
        if (ttl_ckpt_maybe(t, 0, t->sum.samples, err) != 0)
            return -1;
    }
}

static int run_offline(Ttl *t, Err *err) {
    const JobSpec *job = t->job;
    const int64_t bs = job->optim.batch_size;
    int32_t n;
    prog_phase(&t->prog, "read");
    if (ttl_batch_load(t, INT32_MAX, &n, err) != 0)
        return -1;
    /* A resumed offline run restarts after the epoch: checkpoints are taken only after
     * it (the scores are in the file, the totals restored), at `answered` predictions. */
    int64_t answered = 0;
    const int resumed = ttl_ckpt_resumed(t, &answered);
    t->b.first = 0;
    if (!resumed) {
        ttl_core_begin(&t->core, (n + bs - 1) / bs, 1);
        prog_phase(&t->prog, "update");
        const TtlSamples s = samples_of(&t->b, 0);
        if (ttl_core_epoch(&t->core, &s, t->b.scores, err) != 0 ||
            ttl_comm_gather(t->hooks.comm, &t->b, 0, n, 0, 1, err) != 0 ||
            account(t, 0, n, err) || ttl_ckpt_scores(t, 0, n, err) != 0)
            return -1;
        if (t->writer && ttl_out_batch(&t->out, t, 0, n, 0, 1, err) != 0)
            return -1;
        if (ttl_ckpt_maybe(t, 1, 0, err) != 0)
            return -1;
    }
    /* Answers with the final model, appended one stream batch at a time. */
    const int32_t chunk = (int32_t)job->method.stream_batch;
    for (int32_t from = (int32_t)answered; from < n; from += chunk) {
        if (stop_requested(t)) {
            t->sum.interrupted = 1;
            return ttl_ckpt_maybe(t, 1, from, err);
        }
        const int32_t to = from + chunk < n ? from + chunk : n;
        double t0 = now_s(), comm0 = comm_busy_seconds(t->hooks.comm);
        prog_phase(&t->prog, "generate");
        if (ttl_batch_generate(t, from, to, err) != 0 ||
            ttl_comm_gather(t->hooks.comm, &t->b, from, to, 1, 0, err) != 0)
            return -1;
        t->sum.t_generate += now_s() - t0;
        t->sum.t_comm_generate += comm_busy_seconds(t->hooks.comm) - comm0;
        if (t->writer && ttl_out_batch(&t->out, t, from, to, 1, 0, err) != 0)
            return -1;
    }
    return ttl_ckpt_maybe(t, 1, n, err);
}

/* Mean of exp(ce) over [from, to) of the history. */
static double mean_ppl(const float *ce, int64_t from, int64_t to) {
    double s = 0;
    for (int64_t i = from; i < to; i++)
        s += exp((double)ce[i]);
    return to > from ? s / (double)(to - from) : 0.0;
}

static void finish_summary(Ttl *t, double t_start) {
    TtlSummary *s = &t->sum;
    const int64_t n = t->n_all, tenth = (n + 9) / 10;
    s->n_first = s->n_last = tenth;
    s->ppl_first = mean_ppl(t->all_ce, 0, tenth);
    s->ppl_last = mean_ppl(t->all_ce, n - tenth, n);
    s->skipped = t->ds != NULL ? ds_skipped(t->ds) : 0;
    s->t_score = t->core.t_score;
    s->t_update = t->core.t_update;
    s->t_comm_steps = t->core.t_comm;
    s->t_total = now_s() - t_start;
}

static void print_summary(const Ttl *t) {
    const TtlSummary *s = &t->sum;
    const double other = s->t_total - s->t_generate - s->t_score - s->t_update;
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
    log_info("tlm run: outputs in %s/: generated_predictions.jsonl scores.jsonl "
             "metrics.jsonl summary.json", t->job->output.dir);
}

int ttl_run(const JobSpec *job, const TtlHooks *hooks, TtlSummary *summary, Err *err) {
    const double t_start = now_s();
    const Method *method = method_find(job_method_name(job->method.name));
    if (method == NULL)
        return err_set(err, "method.name: %s is not implemented (available: tlm, none, "
                       "tent, eata, come)",
                       job_method_name(job->method.name));
    Ttl *t = calloc(1, sizeof *t);
    if (t == NULL)
        return err_set(err, "out of memory");
    t->job = job;
    if (hooks != NULL)
        t->hooks = *hooks;
    int rc = ttl_open(t, method, err);
    if (rc == 0)
        rc = job->method.setting == JOB_OFFLINE ? run_offline(t, err) : run_online(t, err);
    prog_finish(&t->prog);
    finish_summary(t, t_start);
    if (rc == 0 && t->writer) {
        rc = ttl_out_summary(&t->out, t, err);
        if (rc == 0)
            print_summary(t);
    }
    if (summary != NULL)
        *summary = t->sum;
    ttl_close(t);
    free(t);
    return rc;
}
