/* io/eval/eval_ngram.h -- token interning and n-gram counting shared by ROUGE-N and BLEU
 * (Python's collections.Counter over tuples of tokens, done with sorted arrays).
 * An EvalIntern maps strings to dense ids 0, 1, 2...; n-grams are up to 4 ids long.
 * Not thread-safe per object; no persistent state beyond the caller's objects. */
#ifndef TLM_IO_EVAL_NGRAM_H
#define TLM_IO_EVAL_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/eval/eval_text.h"

#define EVAL_NGRAM_MAX 4

typedef struct EvalIntern {
    StrList strs; /* id -> string (copies) */
    int32_t *slots;   /* open-addressing table of ids, -1 = empty */
    int64_t n_slots;
} EvalIntern;

/* The id of s[0..n_bytes), adding it when new. 0, or -1 on out of memory. */
int eval_intern(EvalIntern *in, const char *s, size_t n_bytes, int32_t *id, Err *err);
/* Interns every item of l into ids (caller-owned, l->n_items long). */
int eval_intern_list(EvalIntern *in, const StrList *l, int32_t *ids, Err *err);
void eval_intern_free(EvalIntern *in); /* zeroed or freed twice is fine */

/* One distinct n-gram and how often it occurs (unused id slots are -1). */
typedef struct EvalNgram {
    int32_t id[EVAL_NGRAM_MAX];
    int64_t count;
} EvalNgram;

/* Counter(ngrams(ids, n)) as a sorted array of distinct n-grams (*out owned by the
 * caller, free()); *n_out = 0 and *out = NULL when n_ids < n. 1 <= n <= 4. */
int eval_ngram_count(const int32_t *ids, int64_t n_ids, int n, EvalNgram **out,
                     int64_t *n_out, Err *err);

/* sum over the n-grams of a of min(count in a, count in b): the clipped overlap. */
int64_t eval_ngram_overlap(const EvalNgram *a, int64_t n_a, const EvalNgram *b, int64_t n_b);

#endif
