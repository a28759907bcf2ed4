/* worker/loop/ttt_task.c -- one task on this rank (ttt_task_run, see ttt_impl.h): the
 * adapter and AdamW start fresh from the task's own seed, ttt.epochs passes of update
 * steps (optim.batch_size examples each, in the plan's order) over its training examples
 * train them, the queries are answered greedily with the trained adapter (every
 * demonstration order when ttt.permutations > 1, then a vote: the most frequent answer,
 * the earliest order on a tie), and each labelled query gets the mean -log p of its label
 * tokens under the trained adapter and under the base model (the answer likelihood). */
#include "worker/loop/ttt_impl.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include "io/base/vec.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ttt_packed_free(TttPacked *p) {
    free(p->tok);
    free(p->mask);
    free(p->off);
    free(p->lens);
    memset(p, 0, sizeof *p);
}

static int pack_add(TttPacked *p, const int32_t *ids, int64_t n, const uint8_t *mask, Err *err) {
    if (VEC_RESERVE2(p->off, p->lens, p->cap, p->n + 1, err) != 0)
        return -1;
    p->off[p->n] = p->n_tok;
    p->lens[p->n++] = (int32_t)n;
    if (VEC_APPEND(p->tok, p->n_tok, p->cap_tok, ids, n, err) != 0)
        return -1;
    return mask != NULL ? VEC_APPEND(p->mask, p->n_mask, p->cap_mask, mask, n, err) : 0;
}

void ttt_log_step(TttStepLog *log, double loss) {
    if (log->steps == 0)
        log->first_loss = loss;
    if (log->steps++ % log->steps_per_epoch == 0) { /* a new epoch */
        log->epoch_steps = 0;
        log->epoch_loss = 0;
    }
    log->epoch_steps++;
    log->epoch_loss += loss;
}

void ttt_task_on_step(void *ctx, const TtlStepStats *st) {
    ttt_log_step(&((Ttt *)ctx)->log, st->loss);
}

int ttt_train(TtlCore *core, const TtlSamples *s, int64_t epochs, Err *err) {
    const int64_t bs = core->cfg.batch_size;
    ttl_core_begin(core, epochs * ((s->n + bs - 1) / bs), 1); /* fresh AdamW, schedule */
    TtlScore *scores = calloc((size_t)(s->n > 0 ? s->n : 1), sizeof *scores);
    if (scores == NULL)
        return err_set(err, "out of memory");
    int rc = 0;
    for (int64_t e = 0; rc == 0 && e < epochs; e++)
        rc = ttl_core_epoch(core, s, scores, err);
    free(scores);
    return rc;
}

int ttt_pack_examples(Ttt *t, const TfTask *task, uint64_t seed, TttPacked *pk, Err *err) {
    TttPlan pl;
    if (ttt_plan(task, &t->sh, seed, 1, &pl, err) != 0)
        return -1;
    int rc = 0;
    for (int32_t i = 0; i < pl.n && rc == 0; i++) {
        const TfPair *q = &task->train[pl.p[i].query];
        int32_t *ids = NULL, used = 0;
        uint8_t *mask = NULL;
        int64_t n = 0;
        rc = ttt_encode(task, &pl.p[i], q, q->output, &t->sh, t->tmpl, t->tok,
                        tf_path(t->tf), &ids, &n, &mask, &used, err);
        if (rc == 0)
            rc = pack_add(pk, ids, n, mask, err);
        free(ids);
        free(mask);
    }
    ttt_plan_free(&pl);
    return rc;
}

/* A fresh adapter and optimizer, then ttt.epochs passes over the examples. */
static int train(Ttt *t, const TfTask *task, uint64_t seed, Err *err) {
    TttPacked pk = {0};
    lora_init(&t->lora, seed); /* grads and moments zeroed too */
    int rc = ttt_pack_examples(t, task, seed, &pk, err);
    const int64_t bs = t->core.cfg.batch_size;
    t->log = (TttStepLog){.steps_per_epoch = (pk.n + bs - 1) / bs};
    const TtlSamples s = {.n = (int32_t)pk.n, .tokens = pk.tok, .off = pk.off, .lens = pk.lens,
                          .mask = t->sh.loss_all ? NULL : pk.mask,
                          .content_loss = !t->sh.loss_all};
    if (rc == 0)
        rc = ttt_train(&t->core, &s, t->job->ttt.epochs, err);
    t->round[TTT_STEPS] += (double)t->log.steps;
    ttt_packed_free(&pk);
    return rc != 0 ? err_prefix(err, "task %s (%s:%lld): training: ", task->id,
                                tf_path(t->tf), (long long)task->line) : 0;
}

/* Mean -log p of q's output tokens after its prompt p, with lora (NULL: the base model). */
static int label_ce(Ttt *t, const TfTask *task, const TttPrompt *p, const TfPair *q,
                    const Lora *lora, float *ce, Err *err) {
    TttShape sh = t->sh;
    sh.loss_all = 0; /* the answer's likelihood: its own tokens */
    int32_t *ids = NULL, used = 0;
    uint8_t *mask = NULL;
    int64_t n = 0;
    int rc = ttt_encode(task, p, q, q->output, &sh, t->tmpl, t->tok, tf_path(t->tf), &ids, &n,
                        &mask, &used, err);
    const int32_t len = (int32_t)n;
    if (rc == 0)
        rc = model_forward_masked(t->m, lora, ids, &len, 1, mask, 0, ce, err);
    free(ids);
    free(mask);
    return rc;
}

static int same_text(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* The voted answer among texts[0..n): the most frequent, the earliest on a tie. */
static int32_t vote(char *const *texts, int32_t n, int32_t *votes) {
    int32_t best = 0, best_n = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t c = 0;
        for (int32_t j = 0; j < n; j++)
            c += same_text(texts[i], texts[j]);
        if (c > best_n) {
            best = i;
            best_n = c;
        }
    }
    *votes = best_n;
    return best;
}

/* Compares with surrounding white space ignored (an exact-match count for the summary). */
static int matches(const char *pred, const char *label) {
    while (*pred == ' ' || *pred == '\n')
        pred++;
    while (*label == ' ' || *label == '\n')
        label++;
    size_t np = strlen(pred), nl = strlen(label);
    while (np > 0 && (pred[np - 1] == ' ' || pred[np - 1] == '\n'))
        np--;
    while (nl > 0 && (label[nl - 1] == ' ' || label[nl - 1] == '\n'))
        nl--;
    return np == nl && strncmp(pred, label, np) == 0;
}

static int put_json(StrBuf *b, json_t *obj, Err *err) {
    char *s = obj != NULL ? json_dumps(obj, JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (s == NULL)
        return err_set(err, "out of memory writing a JSON line");
    const int rc = strbuf_append(b, s, strlen(s), err) || strbuf_append(b, "\n", 1, err);
    free(s);
    return rc;
}

/* One query's line: the first order's prompt, label, the voted answer, its numbers. */
static int query_line(Ttt *t, const TfTask *task, const Lora *lora, const TttPrompt *p0,
                      int32_t q, char *const *answers, Err *err) {
    const TfPair *query = &task->test[q];
    const int32_t n_perm = (int32_t)t->sh.permutations;
    int32_t votes = 1;
    const int32_t win = vote(answers, n_perm, &votes);
    StrBuf prompt = {0};
    if (ttt_render(task, p0, p0->n_ctx, query, &t->sh, &prompt, err) != 0)
        return -1;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i}", "prompt", prompt.data, "label",
                          query->output, "predict", answers[win], "task", task->id, "query",
                          (int)q);
    strbuf_free(&prompt);
    if (j != NULL && n_perm > 1)
        json_object_set_new(j, "votes", json_pack("[i, i]", (int)votes, (int)n_perm));
    t->round[TTT_QUERIES] += 1;
    if (query->has_output && j != NULL) {
        float ce = 0, ce_base = 0;
        if (label_ce(t, task, p0, query, lora, &ce, err) != 0 ||
            label_ce(t, task, p0, query, NULL, &ce_base, err) != 0) {
            json_decref(j);
            return -1;
        }
        json_object_set_new(j, "label_ce", json_real(ce));
        json_object_set_new(j, "label_ce_base", json_real(ce_base));
        t->round[TTT_LABELED] += 1;
        t->round[TTT_CORRECT] += matches(answers[win], query->output);
        t->round[TTT_CE_SUM] += ce;
        t->round[TTT_CE_BASE_SUM] += ce_base;
    }
    return put_json(&t->pred_lines, j, err);
}

/* Greedy answers of every planned test prompt (all in one gen_run: waves of slots). */
static int answer(Ttt *t, const TfTask *task, uint64_t seed, const Lora *lora, Err *err) {
    TttPlan pl;
    TttPacked pk = {0};
    if (ttt_plan(task, &t->sh, seed, 0, &pl, err) != 0)
        return -1;
    int rc = 0;
    for (int32_t i = 0; i < pl.n && rc == 0; i++) {
        int32_t *ids = NULL, used = 0;
        uint8_t *mask = NULL;
        int64_t n = 0;
        rc = ttt_encode(task, &pl.p[i], &task->test[pl.p[i].query], NULL, &t->sh, t->tmpl,
                        t->tok, tf_path(t->tf), &ids, &n, &mask, &used, err);
        pl.p[i].n_ctx = used; /* what the prompt really held */
        if (rc == 0)
            rc = pack_add(&pk, ids, n, NULL, err);
        free(ids);
    }
    const int32_t max_new = (int32_t)t->job->generate.max_new_tokens;
    int32_t *out = rc == 0 ? malloc((size_t)pl.n * (size_t)max_new * 4) : NULL;
    int32_t *out_lens = rc == 0 ? malloc((size_t)pl.n * 4) : NULL;
    char **texts = rc == 0 ? calloc((size_t)pl.n, sizeof *texts) : NULL;
    if (rc == 0 && (out == NULL || out_lens == NULL || texts == NULL))
        rc = err_set(err, "out of memory");
    if (rc == 0)
        rc = gen_run(t->gen, lora, pk.tok, pk.lens, pl.n, max_new, t->stop_ids,
                     t->n_stop, out, out_lens, err);
    for (int32_t i = 0; i < pl.n && rc == 0; i++) {
        rc = tok_decode(t->tok, out + (int64_t)i * max_new, out_lens[i], 1, &texts[i], err);
        t->round[TTT_GEN_TOKENS] += out_lens[i];
    }
    const int32_t n_perm = (int32_t)t->sh.permutations;
    for (int32_t q = 0; q < task->n_test && rc == 0; q++)
        rc = query_line(t, task, lora, &pl.p[q * n_perm], q, texts + (int64_t)q * n_perm, err);
    for (int32_t i = 0; texts != NULL && i < pl.n; i++)
        free(texts[i]);
    free(texts);
    free(out);
    free(out_lens);
    ttt_packed_free(&pk);
    ttt_plan_free(&pl);
    return rc != 0 ? err_prefix(err, "task %s (%s:%lld): answering: ", task->id,
                                tf_path(t->tf), (long long)task->line) : 0;
}

int ttt_task_run(Ttt *t, const TfTask *task, Err *err) {
    const double t0 = now_s();
    const uint64_t seed = ttt_task_seed(t->job->seed, task->id);
    if (train(t, task, seed, err) != 0)
        return -1;
    return ttt_task_finish(t, task, seed, &t->lora, &t->log, now_s() - t0, err);
}

/* ttt.save_adapters: the trained adapter as output.dir/adapters/task-<index>.safetensors
 * (by index: an id may hold any character). Collective over tp (lora_save). */
static int save_adapter(Ttt *t, const TfTask *task, Lora *lora, Err *err) {
    char path[JOB_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/adapters", t->job->output.dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return err_set(err, "ttt.save_adapters: cannot create %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/adapters/task-%lld.safetensors", t->job->output.dir,
             (long long)task->index);
    return lora_save(lora, path, err) != 0 ? err_prefix(err, "task %s: ", task->id) : 0;
}

int ttt_task_finish(Ttt *t, const TfTask *task, uint64_t seed, Lora *lora,
                    const TttStepLog *lg, double train_s, Err *err) {
    if (t->job->ttt.save_adapters && save_adapter(t, task, lora, err) != 0)
        return -1;
    const double t1 = now_s(), t0 = t1 - train_s;
    const double labeled0 = t->round[TTT_LABELED], ce0 = t->round[TTT_CE_SUM],
                 base0 = t->round[TTT_CE_BASE_SUM];
    if (answer(t, task, seed, lora, err) != 0)
        return -1;
    const double t2 = now_s();
    t->round[TTT_TASKS] += 1;
    t->round[TTT_T_TRAIN] += t1 - t0;
    t->round[TTT_T_PREDICT] += t2 - t1;
    const double n_lab = t->round[TTT_LABELED] - labeled0;
    json_t *j = json_pack("{s:s, s:I, s:i, s:i, s:i, s:I, s:f, s:f, s:f, s:f, s:f}", "task",
                          task->id, "index", (json_int_t)task->index, "rank", t->dp_rank,
                          "demos", (int)task->n_train, "queries", (int)task->n_test, "steps",
                          (json_int_t)lg->steps, "loss_first", lg->first_loss, "loss_last_epoch",
                          lg->epoch_steps > 0 ? lg->epoch_loss / (double)lg->epoch_steps : 0.0,
                          "seconds", t2 - t0, "train_seconds", t1 - t0, "answer_seconds",
                          t2 - t1);
    if (j != NULL && n_lab > 0) {
        json_object_set_new(j, "label_ce", json_real((t->round[TTT_CE_SUM] - ce0) / n_lab));
        json_object_set_new(j, "label_ce_base",
                            json_real((t->round[TTT_CE_BASE_SUM] - base0) / n_lab));
    }
    return put_json(&t->task_lines, j, err);
}
