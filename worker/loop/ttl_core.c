/* worker/loop/ttl_core.c -- the update epoch (TtlCore, see ttl_core.h): steps of batch_size
 * samples in stream order; per step this rank scores its samples through the method,
 * the step's statistics are summed over dp (so every rank knows the global selected
 * count before its backward: d loss / d ce = w / n_sel_global, DESIGN §3), the method's
 * backward fills the LoRA gradients, they are summed over dp, clipped at the global norm
 * and applied by AdamW at the scheduled lr. As the reference (HF Trainer +
 * CustomSeq2SeqTrainer), a step with nothing selected still takes its AdamW step with a
 * zero gradient (the step counter advances and the moments decay). Stream order replaces
 * HF's seeded RandomSampler order within a batch: deterministic and the same for any dp. */
#include "worker/loop/ttl_core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/loop/ttl_comm.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ttl_core_init(TtlCore *c, Model *m, Lora *lora, const Method *method,
                  const MethodParams *mp, const TtlCoreConfig *cfg, Comm *comm, Err *err) {
    memset(c, 0, sizeof *c);
    if (cfg->batch_size < 1 || cfg->max_len < 1)
        return err_set(err, "update steps of %lld samples of up to %lld tokens: both must "
                       "be >= 1", (long long)cfg->batch_size, (long long)cfg->max_len);
    if (method->updates && lora == NULL)
        return err_set(err, "method %s trains an adapter but none was given", method->name);
    c->m = m;
    c->lora = method->updates ? lora : NULL;
    c->method = method;
    c->mp = *mp;
    c->cfg = *cfg;
    c->comm = comm;
    int writer;
    ttl_comm_grid(comm, &c->dp_rank, &c->dp_size, &writer);
    optim_init(&c->opt, &cfg->optim);
    const size_t B = (size_t)cfg->batch_size;
    c->tok = malloc(B * (size_t)cfg->max_len * sizeof *c->tok);
    c->mask = malloc(B * (size_t)cfg->max_len);
    c->lens = malloc(B * sizeof *c->lens);
    c->idx = malloc(B * sizeof *c->idx);
    c->ce = calloc(B, sizeof *c->ce);
    c->weight = calloc(B, sizeof *c->weight);
    c->dce = calloc(B, sizeof *c->dce);
    c->sel = calloc(B, sizeof *c->sel);
    c->ce_alt = calloc(B, sizeof *c->ce_alt);
    if (!c->tok || !c->mask || !c->ce_alt || !c->lens || !c->idx || !c->ce || !c->weight || !c->dce || !c->sel) {
        ttl_core_free(c);
        return err_set(err, "out of memory for steps of %lld samples x %lld tokens",
                       (long long)cfg->batch_size, (long long)cfg->max_len);
    }
    if (method->open != NULL &&
        method->open(&c->method_state, m, c->lora, &c->mp, (int32_t)cfg->batch_size,
                     cfg->max_len, err) != 0) {
        ttl_core_free(c);
        return err_prefix(err, "method %s: ", method->name);
    }
    return 0;
}

void ttl_core_free(TtlCore *c) {
    if (c->method != NULL && c->method->close != NULL)
        c->method->close(c->method_state);
    c->method_state = NULL;
    free(c->tok);
    free(c->mask);
    free(c->ce_alt);
    free(c->lens);
    free(c->idx);
    free(c->ce);
    free(c->weight);
    free(c->dce);
    free(c->sel);
    c->tok = c->lens = c->idx = NULL;
    c->ce = c->weight = c->dce = NULL;
    c->sel = NULL;
}

void ttl_core_begin(TtlCore *c, int64_t n_steps, int reset_moments) {
    c->sched_step = 0;
    c->sched_steps = n_steps;
    if (reset_moments && c->lora != NULL)
        optim_reset(&c->opt, c->lora);
}

void ttl_core_schedule(TtlCore *c, int64_t n_steps) { c->sched_steps = n_steps; }

/* HF's schedules as LLaMA-Factory builds them: constant, or cosine with linear warmup
 * over ceil(warmup_ratio * steps) steps (transformers get_cosine_schedule_with_warmup;
 * the first step runs at lr_lambda(0), i.e. lr 0 when there is a warmup). A constant
 * schedule with a warmup ratio is HF's constant_with_warmup. The lr at position pos. */
double ttl_core_lr_at(const TtlCoreConfig *cfg, int64_t pos, int64_t n_steps) {
    const double cur = (double)pos, total = (double)n_steps;
    const double warm = ceil(cfg->warmup_ratio * total);
    if (cur < warm)
        return cfg->lr * cur / (warm > 1 ? warm : 1);
    if (!cfg->cosine)
        return cfg->lr;
    const double span = total - warm > 1 ? total - warm : 1;
    const double progress = (cur - warm) / span;
    const double f = 0.5 * (1.0 + cos(M_PI * 2.0 * 0.5 * progress));
    return cfg->lr * (f > 0 ? f : 0);
}

static double lr_at(const TtlCore *c, int64_t pos) {
    return ttl_core_lr_at(&c->cfg, pos, c->sched_steps);
}

double ttl_core_lr(const TtlCore *c) { return lr_at(c, c->sched_step); }

void ttl_core_get_state(const TtlCore *c, TtlCoreState *st) {
    *st = (TtlCoreState){.step = c->step, .optim_step = c->opt.step,
                         .sched_pos = c->sched_step,
                         .last_lr = c->sched_step > 0 ? lr_at(c, c->sched_step - 1) : 0.0};
}

void ttl_core_set_state(TtlCore *c, const TtlCoreState *st) {
    c->step = st->step;
    optim_set_step(&c->opt, st->optim_step);
    c->sched_step = st->sched_pos;
}

/* Packs this rank's samples of batch positions [from, to) into the step buffers. */
static int32_t pack_step(TtlCore *c, const TtlSamples *b, int32_t from, int32_t to) {
    int32_t n = 0;
    int64_t t = 0;
    for (int32_t i = from; i < to; i++) {
        if (i % c->dp_size != c->dp_rank)
            continue;
        memcpy(c->tok + t, b->tokens + b->off[i], (size_t)b->lens[i] * sizeof *c->tok);
        if (b->mask != NULL)
            memcpy(c->mask + t, b->mask + b->off[i], (size_t)b->lens[i]);
        t += b->lens[i];
        c->lens[n] = b->lens[i];
        c->idx[n++] = i;
    }
    return n;
}

/* A step whose numbers are not finite: undone (the counters as before it; the adapter and
 * moments are untouched yet) and reported with the sample when this rank has it. */
static int nonfinite_step(TtlCore *c, int64_t first, int32_t from, int32_t to, int32_t n,
                          const char *what, double v, Err *err) {
    c->step--;
    c->nonfinite = 1;
    for (int32_t j = 0; j < n; j++)
        if (!isfinite(c->ce[j]) || !isfinite(c->weight[j]))
            return err_set(err, "update step %lld: the %s is %g: stream sample %lld (%d of "
                           "the batch) has ce %g, weight %g (dp rank %d); stopped before the "
                           "step changed the adapter", (long long)c->step + 1, what, v,
                           (long long)(first + c->idx[j]), c->idx[j], (double)c->ce[j],
                           (double)c->weight[j], c->dp_rank);
    return err_set(err, "update step %lld (stream samples %lld..%lld): the %s is %g; stopped "
                   "before the step changed the adapter", (long long)c->step + 1,
                   (long long)(first + from), (long long)(first + to - 1), what, v);
}

/* One step over batch positions [from, to). */
static int run_step(TtlCore *c, const TtlSamples *b, int32_t from, int32_t to,
                    TtlScore *scores, Err *err) {
    const double t0 = now_s(), comm0 = comm_busy_seconds(c->comm);
    const int32_t n = pack_step(c, b, from, to);
    MethodStep s = {.m = c->m, .lora = c->lora, .p = &c->mp, .n = n, .tokens = c->tok,
                    .lens = c->lens,
                    .loss_mask = b->mask != NULL && b->content_loss ? c->mask : NULL,
                    .alt_mask = b->mask != NULL && !b->content_loss ? c->mask : NULL,
                    .ce_alt = b->mask != NULL ? c->ce_alt : NULL,
                    .gen = NULL, .gen_lens = NULL,
                    .gen_stride = b->gen_stride, .ce = c->ce, .selected = c->sel,
                    .weight = c->weight, .dce = c->dce, .state = c->method_state,
                    .dp_rank = c->dp_rank};
    /* The method reads generated rows by step position; without a staging copy that is
     * only possible for one sample per step, which is what tent/eata will use. */
    if (b->gen != NULL && n == 1) {
        s.gen = b->gen + (int64_t)c->idx[0] * b->gen_stride;
        s.gen_lens = b->gen_lens + c->idx[0];
    }
    if (c->method->score(&s, err) != 0)
        return err_prefix(err, "scoring samples %d..%d of the batch: ", from, to - 1);
    for (int32_t j = 0; j < n && b->test_nan > from; j++)
        if (c->idx[j] == b->test_nan - 1)
            c->ce[j] = NAN;
    c->step++;
    /* stats, summed over dp: n_sel, loss_sum, ce_sum, samples, tokens */
    double st[5] = {0, s.loss_sum, 0, (double)n, 0};
    for (int32_t j = 0; j < n; j++) {
        TtlScore *sc = &scores[c->idx[j]];
        const float alt = b->mask != NULL ? c->ce_alt[j] : -1.0f;
        *sc = (TtlScore){.step = c->step, .ce = c->ce[j],
                         .ce_all = b->content_loss ? alt : c->ce[j],
                         .ce_content = b->content_loss ? c->ce[j] : alt,
                         .weight = c->weight[j],
                         .tokens = c->lens[j], .rank = c->dp_rank, .selected = c->sel[j]};
        st[0] += c->sel[j];
        st[2] += c->ce[j];
        st[4] += c->lens[j];
    }
    if (ttl_comm_sum(c->comm, st, 5, err) != 0)
        return -1;
    if (!isfinite(st[2]))
        return nonfinite_step(c, b->first, from, to, n, "sum of the step's ce", st[2], err);
    if (!isfinite(st[1]))
        return nonfinite_step(c, b->first, from, to, n, "loss", st[1], err);
    const double t1 = now_s();
    c->t_score += t1 - t0;
    const int64_t n_sel = (int64_t)llround(st[0]);
    TtlStepStats ss = {.step = c->step, .loss = n_sel > 0 ? st[1] / (double)n_sel : 0.0,
                       .mean_ce = st[3] > 0 ? st[2] / st[3] : 0.0, .selected = n_sel,
                       .samples = (int64_t)llround(st[3]), .tokens = (int64_t)llround(st[4])};
    if (!c->method->updates) { /* scored only: no gradient, no optimizer step */
        ss.seconds = t1 - t0;
        c->t_comm += comm_busy_seconds(c->comm) - comm0;
        if (c->on_step != NULL)
            c->on_step(c->hook_ctx, &ss);
        return 0;
    }

    lora_zero_grads(c->lora);
    if (n_sel > 0 && c->method->backward(&s, n_sel, err) != 0)
        return err_prefix(err, "backward of samples %d..%d of the batch: ", from, to - 1);
    double sumsq = 0;
    if (ttl_comm_sum_grads(c->comm, c->lora, err) != 0 ||
        ttl_comm_grad_sumsq(c->comm, c->lora, &sumsq, err) != 0)
        return -1;
    ss.grad_norm = sqrt(sumsq);
    if (!isfinite(ss.grad_norm))
        return nonfinite_step(c, b->first, from, to, n, "gradient norm", ss.grad_norm, err);
    ss.lr = ttl_core_lr(c);
    optim_apply(&c->opt, c->lora, ss.grad_norm, ss.lr);
    c->sched_step++;
    const double t2 = now_s();
    c->t_update += t2 - t1;
    c->t_comm += comm_busy_seconds(c->comm) - comm0;
    ss.seconds = t2 - t0;
    ss.updated = 1;
    if (c->on_step != NULL)
        c->on_step(c->hook_ctx, &ss);
    return 0;
}

int ttl_core_epoch(TtlCore *c, const TtlSamples *b, TtlScore *scores, Err *err) {
    int32_t next;
    return ttl_core_epoch_part(c, b, scores, 0, NULL, NULL, &next, err);
}

int ttl_core_epoch_part(TtlCore *c, const TtlSamples *b, TtlScore *scores, int32_t start,
                        TtlStopFn stop, void *ctx, int32_t *next, Err *err) {
    const int32_t bs = (int32_t)c->cfg.batch_size;
    *next = start;
    c->nonfinite = 0;
    for (int32_t from = start; from < b->n; from += bs) {
        if (stop != NULL && stop(ctx))
            return 0;
        const int32_t to = from + bs < b->n ? from + bs : b->n;
        for (int32_t i = from; i < to; i++)
            if (b->lens[i] > c->cfg.max_len)
                return err_set(err, "sample %d of the batch has %d tokens; steps were sized "
                               "for %lld", i, b->lens[i], (long long)c->cfg.max_len);
        if (run_step(c, b, from, to, scores, err) != 0)
            return -1;
        *next = to;
    }
    return 0;
}
