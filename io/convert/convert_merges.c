/* io/convert/convert_merges.c -- transformers' generate_merges in C (see convert_merges.h):
 * candidates gathered per piece in first-appearance order, sorted per piece by (left id,
 * right id), then one stable sort over all of them (the sequence number breaks ties,
 * which is what Python's stable sorted() does, reverse=True included). */
#include "io/convert/convert_merges.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/strbuf.h"
#include "io/base/vec.h"
#include "io/base/strmap.h"
#include "io/base/utf8.h"

typedef struct Cand {
    int32_t l, r;        /* ids (last occurrence) of the two parts */
    double key;          /* the piece's score, or its id without scores */
    int32_t len_l, len_r; /* in characters */
    int64_t seq;         /* position before the global sort */
} Cand;

typedef struct Cands {
    Cand *v;
    int64_t n, cap;
    int descending;
} Cands;

static int cmp_local(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->l != y->l)
        return x->l < y->l ? -1 : 1;
    return (x->r > y->r) - (x->r < y->r);
}

static int cmp_desc(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    if (x->len_l != y->len_l)
        return x->len_l > y->len_l ? -1 : 1;
    if (x->len_r != y->len_r)
        return x->len_r > y->len_r ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_asc(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->len_l != y->len_l)
        return x->len_l < y->len_l ? -1 : 1;
    if (x->len_r != y->len_r)
        return x->len_r < y->len_r ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int push(Cands *c, Cand k, Err *err) {
    if (VEC_PUSH(c->v, c->n, c->cap, k, err) != 0)
        return err_prefix(err, "generating merges: ");
    return 0;
}

/* The splits of piece i (visited at its first appearance) appended to c. */
static int piece_splits(const StrMap *map, const char *const *pieces, int64_t i,
                        const float *scores, Cands *c, Err *err) {
    const char *s = pieces[i];
    const size_t n = strlen(s);
    const int32_t last = strmap_get(map, s, n);
    const double key = scores != NULL ? (double)scores[last] : (double)last;
    const int64_t first = c->n;
    int32_t chars_total = 0;
    for (size_t k = 0; k < n; k += (size_t)utf8_len((unsigned char)s[k]))
        chars_total++;
    int32_t chars_l = 1;
    for (size_t k = (size_t)utf8_len((unsigned char)s[0]); k < n;
         k += (size_t)utf8_len((unsigned char)s[k]), chars_l++) {
        const int32_t l = strmap_get(map, s, k), r = strmap_get(map, s + k, n - k);
        if (l >= 0 && r >= 0 &&
            push(c, (Cand){l, r, key, chars_l, chars_total - chars_l, 0}, err) != 0)
            return -1;
    }
    if (c->n > first) /* c->v is still NULL when no piece so far had a split */
        qsort(c->v + first, (size_t)(c->n - first), sizeof *c->v, cmp_local);
    for (int64_t k = first; k < c->n; k++)
        c->v[k].seq = k;
    return 0;
}

int conv_generate_merges(const char *const *pieces, int64_t n, const float *scores,
                         json_t *merges, Err *err) {
    StrMap map;
    if (strmap_init(&map, n, err) != 0)
        return -1;
    Cands c = {0};
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i++)
        rc = strmap_put(&map, pieces[i], strlen(pieces[i]), (int32_t)i, err);
    /* Python's dict: a key sits where it first appeared. A second map remembers that. */
    StrMap seen = {0};
    if (rc == 0)
        rc = strmap_init(&seen, n, err);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        const size_t len = strlen(pieces[i]);
        if (strmap_get(&seen, pieces[i], len) >= 0)
            continue;
        rc = strmap_put(&seen, pieces[i], len, (int32_t)i, err);
        if (rc == 0 && len > 0)
            rc = piece_splits(&map, pieces, i, scores, &c, err);
    }
    if (rc == 0) {
        if (c.n > 0) /* c.v is NULL when no piece splits */
            qsort(c.v, (size_t)c.n, sizeof *c.v, scores != NULL ? cmp_desc : cmp_asc);
        for (int64_t k = 0; k < c.n && rc == 0; k++) {
            json_t *pair = json_pack("[s, s]", pieces[c.v[k].l], pieces[c.v[k].r]);
            rc = pair == NULL || json_array_append_new(merges, pair) != 0
                     ? err_set(err, "out of memory building the merges") : 0;
        }
    }
    strmap_free(&seen);
    free(c.v);
    strmap_free(&map);
    return rc;
}
