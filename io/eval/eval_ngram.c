/* io/eval/eval_ngram.c -- token interning and n-gram counts (see eval_ngram.h). */
#include "io/eval/eval_ngram.h"

#include <stdlib.h>
#include <string.h>

/* The first token table (a power of two: slots are masked, not taken modulo). */
#define INTERN_MIN_SLOTS 256

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int intern_grow(EvalIntern *in, Err *err) {
    int64_t n_slots = in->n_slots ? 2 * in->n_slots : INTERN_MIN_SLOTS;
    int32_t *slots = malloc((size_t)n_slots * sizeof *slots);
    if (slots == NULL)
        return err_set(err, "out of memory growing a token table to %lld", (long long)n_slots);
    for (int64_t i = 0; i < n_slots; i++)
        slots[i] = -1;
    for (int64_t id = 0; id < in->strs.n_items; id++) {
        uint64_t h = fnv1a(in->strs.items[id], in->strs.n_item_bytes[id]);
        int64_t k = (int64_t)(h & (uint64_t)(n_slots - 1));
        while (slots[k] >= 0)
            k = (k + 1) & (n_slots - 1);
        slots[k] = (int32_t)id;
    }
    free(in->slots);
    in->slots = slots;
    in->n_slots = n_slots;
    return 0;
}

int eval_intern(EvalIntern *in, const char *s, size_t n_bytes, int32_t *id, Err *err) {
    if (2 * (in->strs.n_items + 1) > in->n_slots && intern_grow(in, err) != 0)
        return -1;
    int64_t k = (int64_t)(fnv1a(s, n_bytes) & (uint64_t)(in->n_slots - 1));
    while (in->slots[k] >= 0) {
        int32_t cand = in->slots[k];
        if (in->strs.n_item_bytes[cand] == n_bytes &&
            memcmp(in->strs.items[cand], s, n_bytes) == 0) {
            *id = cand;
            return 0;
        }
        k = (k + 1) & (in->n_slots - 1);
    }
    if (strlist_push(&in->strs, s, n_bytes, err) != 0)
        return -1;
    *id = (int32_t)(in->strs.n_items - 1);
    in->slots[k] = *id;
    return 0;
}

int eval_intern_list(EvalIntern *in, const StrList *l, int32_t *ids, Err *err) {
    for (int64_t i = 0; i < l->n_items; i++)
        if (eval_intern(in, l->items[i], l->n_item_bytes[i], &ids[i], err) != 0)
            return -1;
    return 0;
}

void eval_intern_free(EvalIntern *in) {
    if (in == NULL)
        return;
    strlist_free(&in->strs);
    free(in->slots);
    *in = (EvalIntern){0};
}

static int ngram_cmp(const void *x, const void *y) {
    const EvalNgram *a = x, *b = y;
    for (int i = 0; i < EVAL_NGRAM_MAX; i++)
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    return 0;
}

int eval_ngram_count(const int32_t *ids, int64_t n_ids, int n, EvalNgram **out,
                     int64_t *n_out, Err *err) {
    *out = NULL;
    *n_out = 0;
    if (n_ids < n)
        return 0;
    int64_t total = n_ids - n + 1;
    EvalNgram *g = malloc((size_t)total * sizeof *g);
    if (g == NULL)
        return err_set(err, "out of memory counting %lld %d-grams", (long long)total, n);
    for (int64_t i = 0; i < total; i++) {
        for (int k = 0; k < EVAL_NGRAM_MAX; k++)
            g[i].id[k] = k < n ? ids[i + k] : -1;
        g[i].count = 1;
    }
    qsort(g, (size_t)total, sizeof *g, ngram_cmp);
    int64_t m = 0;
    for (int64_t i = 0; i < total; i++) {
        if (m > 0 && ngram_cmp(&g[m - 1], &g[i]) == 0)
            g[m - 1].count++;
        else
            g[m++] = g[i];
    }
    *out = g;
    *n_out = m;
    return 0;
}

int64_t eval_ngram_overlap(const EvalNgram *a, int64_t n_a, const EvalNgram *b, int64_t n_b) {
    int64_t i = 0, j = 0, sum = 0;
    while (i < n_a && j < n_b) {
        int c = ngram_cmp(&a[i], &b[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            sum += a[i].count < b[j].count ? a[i].count : b[j].count;
            i++;
            j++;
        }
    }
    return sum;
}
