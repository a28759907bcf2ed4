/* worker/loop/ttt_examples.c -- a task's prompts, their text and their tokens (see
 * ttt_examples.h). The orders come from splitmix64 seeded per (task seed, query,
 * permutation), so one prompt's order does not depend on how many others there are. */
#include "worker/loop/ttt_examples.h"

#include <stdlib.h>
#include <string.h>

TttShape ttt_shape(const JobSpec *job) {
    return (TttShape){.leave_one_out = job->ttt.leave_one_out,
                      .permutations = (int32_t)job->ttt.permutations,
                      .max_demos = (int32_t)job->ttt.max_demos,
                      .loss_all = job->ttt.loss_on == JOB_TTT_LOSS_ALL,
                      .separator = job->ttt.separator, .join = job->ttt.join,
                      .cutoff_len = job->data.cutoff_len};
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t ttt_task_seed(uint64_t job_seed, const char *task_id) {
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a 64 */
    for (const unsigned char *c = (const unsigned char *)task_id; *c != '\0'; c++)
        h = (h ^ *c) * 0x100000001B3ull;
    uint64_t s = job_seed ^ h;
    return splitmix64(&s);
}

/* Fisher-Yates over ids[0..n) from splitmix64 seeded by (seed, query, perm). */
static void shuffle(int32_t *ids, int32_t n, uint64_t seed, int32_t query, int32_t perm) {
    uint64_t s = seed ^ ((uint64_t)(uint32_t)query << 32) ^ (uint64_t)(uint32_t)perm;
    splitmix64(&s);
    for (int32_t i = n - 1; i > 0; i--) {
        const int32_t j = (int32_t)(splitmix64(&s) % (uint64_t)(i + 1));
        const int32_t tmp = ids[i];
        ids[i] = ids[j];
        ids[j] = tmp;
    }
}

void ttt_plan_free(TttPlan *pl) {
    free(pl->p);
    free(pl->pool);
    memset(pl, 0, sizeof *pl);
}

int ttt_plan(const TfTask *t, const TttShape *sh, uint64_t seed, int train, TttPlan *out,
             Err *err) {
    memset(out, 0, sizeof *out);
    const int32_t n_q = train ? t->n_train : t->n_test;
    /* Without leave-one-out a training example is its demonstration alone: one order. */
    const int alone = train && !sh->leave_one_out;
    const int32_t n_perm = alone ? 1 : sh->permutations;
    const int64_t n = (int64_t)n_q * n_perm;
    out->p = calloc((size_t)n, sizeof *out->p);
    out->pool = malloc((size_t)(n * (t->n_train > 0 ? t->n_train : 1)) * sizeof *out->pool);
    if (out->p == NULL || out->pool == NULL) {
        ttt_plan_free(out);
        return err_set(err, "out of memory planning %lld prompts of task %s", (long long)n,
                       t->id);
    }
    int32_t *at = out->pool;
    for (int32_t q = 0; q < n_q; q++)
        for (int32_t perm = 0; perm < n_perm; perm++) {
            TttPrompt *p = &out->p[out->n++];
            int32_t m = 0;
            for (int32_t d = 0; d < t->n_train && !alone; d++)
                if (!(train && d == q)) /* leave the target out */
                    at[m++] = d;
            if (perm > 0)
                shuffle(at, m, seed, train ? q : -1 - q, perm);
            *p = (TttPrompt){.query = q, .perm = perm,
                             .n_ctx = m < sh->max_demos ? m : sh->max_demos, .ctx = at};
            at += m;
        }
    return 0;
}

static int append(StrBuf *b, const char *s, Err *err) {
    return strbuf_append(b, s, strlen(s), err);
}

int ttt_render(const TfTask *t, const TttPrompt *p, int32_t n_ctx, const TfPair *q,
               const TttShape *sh, StrBuf *out, Err *err) {
    out->n_bytes = 0;
    if (strbuf_append(out, NULL, 0, err) != 0)
        return -1;
    for (int32_t i = 0; i < n_ctx; i++) {
        const TfPair *d = &t->train[p->ctx[i]];
        if (append(out, d->input, err) || append(out, sh->join, err) ||
            append(out, d->output, err) || append(out, sh->separator, err))
            return -1;
    }
    if (append(out, q->input, err) || append(out, sh->join, err))
        return -1;
    return 0;
}

/* ids of the user turn (prompt text) and, with target, its assistant turn after them. */
static int encode_once(const char *text, const char *target, const ChatTemplate *tmpl,
                       const Tokenizer *tok, int32_t **ids, int64_t *n_ids, int64_t *n_prompt,
                       Err *err) {
    if (tmpl_encode_prompt(tmpl, tok, text, ids, n_ids, err) != 0)
        return -1;
    *n_prompt = *n_ids;
    if (target == NULL)
        return 0;
    TmplElems e = {0};
    int rc = tmpl_format_response(tmpl, target, &e, err);
    if (rc == 0)
        rc = tmpl_encode_elems(&e, tok, ids, n_ids, err);
    tmpl_elems_free(&e);
    return rc;
}

int ttt_encode(const TfTask *t, const TttPrompt *p, const TfPair *q, const char *target,
               const TttShape *sh, const ChatTemplate *tmpl, const Tokenizer *tok,
               const char *task_file, int32_t **ids, int64_t *n_ids, uint8_t **mask,
               int32_t *n_ctx_used, Err *err) {
    StrBuf text = {0};
    *ids = NULL;
    *mask = NULL;
    *n_ids = 0;
    int64_t n_prompt = 0;
    int rc = 0;
    for (int32_t k = p->n_ctx; k >= 0; k--) {
        free(*ids);
        *ids = NULL;
        *n_ids = 0;
        if ((rc = ttt_render(t, p, k, q, sh, &text, err)) != 0 ||
            (rc = encode_once(text.data, target, tmpl, tok, ids, n_ids, &n_prompt, err)) != 0)
            break;
        *n_ctx_used = k;
        if (*n_ids <= sh->cutoff_len)
            break;
        if (k == 0)
            rc = err_set(err, "%s:%lld: task %s: %s %d is %lld tokens without any "
                         "demonstration; data.cutoff_len is %lld", task_file,
                         (long long)t->line, t->id, target != NULL ? "train" : "test",
                         p->query, (long long)*n_ids, (long long)sh->cutoff_len);
    }
    strbuf_free(&text);
    if (rc == 0 && target != NULL) {
        if ((*mask = malloc((size_t)*n_ids)) == NULL)
            rc = err_set(err, "out of memory");
        else
            for (int64_t i = 0; i < *n_ids; i++)
                (*mask)[i] = (uint8_t)(sh->loss_all || i >= n_prompt);
    }
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        *n_ids = 0;
    }
    return rc;
}
