/* worker/loop/ttt_pass.c -- several tasks of one rank trained as one batched pass
 * (ttt.tasks_per_pass > 1, see ttt_impl.h): their adapters in a stack
 * (worker/adapter/lora_stack.h), every step one forward and one backward over the
 * examples of all the tasks still training (model_forward_rows: each token row through
 * its task's adapter), then per task the objective of method ttt (the mean ce of its own
 * examples), its own gradient norm, clip and AdamW step at its own schedule's lr -- what
 * ttt_task_run's engine (worker/loop/ttl_core.c with method ttt) does for one task. */
#include "worker/loop/ttt_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static Comm *tp_comm(const Ttt *t) {
    Comm *c = t->hooks.comm;
    return c != NULL && comm_size(c, COMM_TP) > 1 ? c : NULL;
}

int ttt_pass_open(Ttt *t, Err *err) {
    const int32_t P = (int32_t)t->job->ttt.tasks_per_pass;
    const size_t seqs = (size_t)P * (size_t)t->core.cfg.batch_size;
    const size_t toks = seqs * (size_t)t->core.cfg.max_len;
    TttPassBuf *b = &t->pass;
    b->tok = malloc(toks * sizeof *b->tok);
    b->rows = malloc(toks * sizeof *b->rows);
    b->mask = malloc(toks);
    b->lens = malloc(seqs * sizeof *b->lens);
    b->ce = malloc(seqs * sizeof *b->ce);
    b->dce = malloc(seqs * sizeof *b->dce);
    if (!b->tok || !b->rows || !b->mask || !b->lens || !b->ce || !b->dce)
        return err_set(err, "ttt.tasks_per_pass %d: out of host memory for a pass of %zu "
                       "tokens", P, toks);
    if (lora_stack_alloc(&t->stack, P, &t->lora.cfg, model_config(t->m), t->ops, tp_comm(t),
                         &t->core.cfg.optim, err) != 0)
        return err_prefix(err, "ttt.tasks_per_pass %d: ", P);
    return 0;
}

void ttt_pass_close(Ttt *t) {
    TttPassBuf *b = &t->pass;
    free(b->tok);
    free(b->rows);
    free(b->mask);
    free(b->lens);
    free(b->ce);
    free(b->dce);
    memset(b, 0, sizeof *b);
    lora_stack_free(&t->stack);
}

/* One task of a pass: its examples and where it stands. */
typedef struct PassTask {
    const TfTask *task;
    uint64_t seed;
    TttPacked pk;
    TttStepLog log;
    int64_t n_steps;      /* epochs x steps per epoch: its own lr schedule's length */
    int32_t first, n_seq; /* this step's sequences in the pass */
} PassTask;

/* Step s of every task that still has one, packed: task k's examples of that step (its
 * epoch's slice of batch_size, in order), each token tagged k. Returns the sequences. */
static int32_t pack_step(Ttt *t, PassTask *pt, int32_t n, int64_t s, int64_t *n_tok) {
    TttPassBuf *b = &t->pass;
    const int64_t bs = t->core.cfg.batch_size;
    int32_t q = 0;
    int64_t at = 0;
    for (int32_t k = 0; k < n; k++) {
        PassTask *p = &pt[k];
        p->first = q;
        p->n_seq = 0;
        if (s >= p->n_steps)
            continue; /* finished: out of the pass */
        const int64_t from = (s % p->log.steps_per_epoch) * bs;
        const int64_t to = from + bs < p->pk.n ? from + bs : p->pk.n;
        for (int64_t i = from; i < to; i++) {
            const int32_t len = p->pk.lens[i];
            memcpy(b->tok + at, p->pk.tok + p->pk.off[i], (size_t)len * sizeof *b->tok);
            memcpy(b->mask + at, p->pk.mask + p->pk.off[i], (size_t)len);
            for (int32_t j = 0; j < len; j++)
                b->rows[at + j] = k;
            at += len;
            b->lens[q++] = len;
        }
        p->n_seq = q - p->first;
    }
    *n_tok = at;
    return q;
}

/* Task k's update after the pass's backward: its gradients out of the stack, its norm,
 * clip and AdamW step at its schedule's lr (ttl_core.c's run_step for one task). */
static int update(Ttt *t, PassTask *p, int32_t k, int64_t s, Err *err) {
    LoraStack *st = &t->stack;
    double loss = 0; /* as method ttt's loss_sum: the ce of its examples, in order */
    for (int32_t j = 0; j < p->n_seq; j++)
        loss += t->pass.ce[p->first + j];
    loss /= (double)p->n_seq;
    lora_stack_unpack_grads(st, k);
    double sumsq = 0;
    if (optim_grad_sumsq_tp(&st->one[k], &sumsq, err) != 0)
        return -1;
    const double norm = sqrt(sumsq);
    if (!isfinite(loss) || !isfinite(norm))
        return err_set(err, "task %s, update step %lld: loss %g, gradient norm %g; stopped "
                       "before the step changed its adapter", p->task->id, (long long)s + 1,
                       loss, norm);
    optim_apply(&st->opt[k], &st->one[k], norm,
                ttl_core_lr_at(&t->core.cfg, s, p->n_steps));
    ttt_log_step(&p->log, loss);
    return 0;
}

/* Step s of the pass: one forward and backward over every training task's examples. */
static int step(Ttt *t, PassTask *pt, int32_t n, int64_t s, Err *err) {
    TttPassBuf *b = &t->pass;
    int64_t n_tok = 0;
    const int32_t q = pack_step(t, pt, n, s, &n_tok);
    for (int32_t k = 0; k < n; k++)
        for (int32_t j = 0; j < pt[k].n_seq; j++) /* d loss_k / d ce: its mean */
            b->dce[pt[k].first + j] = 1.0f / (float)pt[k].n_seq;
    lora_stack_pack(&t->stack); /* the adapters' params in, the stack's grads zeroed */
    if (model_forward_rows(t->m, &t->stack.rows, b->rows, b->tok, b->lens, q,
                           t->sh.loss_all ? NULL : b->mask, 1, b->ce, err) != 0 ||
        model_backward(t->m, &t->stack.rows, b->dce, err) != 0)
        return err_prefix(err, "update step %lld of a pass of %d tasks: ", (long long)s + 1,
                          n);
    for (int32_t k = 0; k < n; k++)
        if (pt[k].n_seq > 0 && update(t, &pt[k], k, s, err) != 0)
            return -1;
    return 0;
}

/* Each task's fresh adapter and its examples; returns the pass's steps (the longest
 * task's). */
static int prepare(Ttt *t, const TfTask *tasks, int32_t n, PassTask *pt, int64_t *n_steps,
                   Err *err) {
    const int64_t bs = t->core.cfg.batch_size;
    *n_steps = 0;
    for (int32_t k = 0; k < n; k++) {
        PassTask *p = &pt[k];
        p->task = &tasks[k];
        p->seed = ttt_task_seed(t->job->seed, tasks[k].id);
        lora_stack_init(&t->stack, k, p->seed); /* grads, moments, AdamW step zeroed */
        if (ttt_pack_examples(t, p->task, p->seed, &p->pk, err) != 0)
            return err_prefix(err, "task %s (%s:%lld): training: ", tasks[k].id,
                              tf_path(t->tf), (long long)tasks[k].line);
        for (int64_t i = 0; i < p->pk.n; i++)
            if (p->pk.lens[i] > t->core.cfg.max_len)
                return err_set(err, "task %s: example %lld has %d tokens; steps were sized "
                               "for %lld", tasks[k].id, (long long)i, p->pk.lens[i],
                               (long long)t->core.cfg.max_len);
        p->log = (TttStepLog){.steps_per_epoch = (p->pk.n + bs - 1) / bs};
        p->n_steps = p->pk.n > 0 ? t->job->ttt.epochs * p->log.steps_per_epoch : 0;
        *n_steps = p->n_steps > *n_steps ? p->n_steps : *n_steps;
    }
    return 0;
}

int ttt_pass_run(Ttt *t, const TfTask *tasks, int32_t n, Err *err) {
    if (n < 1 || n > t->stack.n)
        return err_set(err, "a pass of %d tasks; the stack holds %d", n, t->stack.n);
    const double t0 = now_s();
    PassTask *pt = calloc((size_t)n, sizeof *pt);
    if (pt == NULL)
        return err_set(err, "out of memory");
    int64_t n_steps = 0;
    int rc = prepare(t, tasks, n, pt, &n_steps, err);
    for (int64_t s = 0; s < n_steps && rc == 0; s++)
        rc = step(t, pt, n, s, err);
    /* the training's wall time shared evenly: the tasks trained together */
    const double train_s = (now_s() - t0) / (double)n;
    for (int32_t k = 0; k < n && rc == 0; k++) {
        t->round[TTT_STEPS] += (double)pt[k].log.steps;
        rc = ttt_task_finish(t, pt[k].task, pt[k].seed, &t->stack.one[k], &pt[k].log, train_s,
                             err);
    }
    for (int32_t k = 0; k < n; k++)
        ttt_packed_free(&pt[k].pk);
    free(pt);
    return rc;
}
