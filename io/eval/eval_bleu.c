/* io/eval/eval_bleu.c -- nltk.translate.bleu_score.sentence_bleu with method4 smoothing.
 * Follows corpus_bleu over one (references, hypothesis) pair: modified_precision
 * kept as integer (numerator, denominator) pairs as nltk keeps Fractions,
 * brevity_penalty, SmoothingFunction.method4 and the math.fsum of w_i * log(p_i)
 * over the positive p_i, with every floating-point operation in nltk's order. */
#include "io/eval/eval_bleu.h"

#include <math.h>
#include <stdlib.h>

#include "io/eval/eval_ngram.h"

/* Shewchuk's partials do not overlap, so each spans >= 53 of the 2098 bits of double
 * exponent range: at most 40 are ever live. */
#define FSUM_MAX_PARTIALS 64

double eval_fsum(const double *x, int n) {
    /* Shewchuk's exact partial sums, rounded as CPython's math_fsum does. */
    double partials[FSUM_MAX_PARTIALS];
    int n_p = 0;
    for (int k = 0; k < n; k++) {
        double v = x[k];
        int i = 0;
        for (int j = 0; j < n_p; j++) {
            double y = partials[j];
            if (fabs(v) < fabs(y)) {
                double t = v;
                v = y;
                y = t;
            }
            double hi = v + y;
            double lo = y - (hi - v);
            if (lo != 0.0)
                partials[i++] = lo;
            v = hi;
        }
        n_p = i;
        partials[n_p++] = v;
    }
    double hi = 0.0, lo = 0.0;
    if (n_p > 0) {
        hi = partials[--n_p];
        while (n_p > 0) {
            double v = hi, y = partials[--n_p];
            hi = v + y;
            double yr = hi - v;
            lo = y - yr;
            if (lo != 0.0)
                break;
        }
        /* Round half-way cases correctly, as CPython does. */
        if (n_p > 0 && ((lo < 0.0 && partials[n_p - 1] < 0.0) ||
                        (lo > 0.0 && partials[n_p - 1] > 0.0))) {
            double y = lo * 2.0, v = hi + y, yr = v - hi;
            if (y == yr)
                hi = v;
        }
    }
    return hi;
}

int eval_bleu_tokens(const StrList *ref, const StrList *hyp, double *bleu, Err *err) {
    EvalIntern in = {0};
    int32_t *ids = malloc(((size_t)(ref->n_items + hyp->n_items) + 1) * sizeof *ids);
    int rc = -1;
    if (ids == NULL) {
        err_set(err, "out of memory for %lld BLEU tokens", (long long)(ref->n_items + hyp->n_items));
        return -1;
    }
    int32_t *ref_ids = ids, *hyp_ids = ids + ref->n_items;
    if (eval_intern_list(&in, ref, ref_ids, err) != 0 ||
        eval_intern_list(&in, hyp, hyp_ids, err) != 0)
        goto done;
    int64_t num[EVAL_NGRAM_MAX], den[EVAL_NGRAM_MAX];
    for (int n = 1; n <= EVAL_NGRAM_MAX; n++) { /* modified_precision(references, hyp, n) */
        EvalNgram *gh = NULL, *gr = NULL;
        int64_t n_gh, n_gr;
        if (eval_ngram_count(hyp_ids, hyp->n_items, n, &gh, &n_gh, err) != 0 ||
            eval_ngram_count(ref_ids, ref->n_items, n, &gr, &n_gr, err) != 0) {
            free(gh);
            goto done;
        }
        num[n - 1] = eval_ngram_overlap(gh, n_gh, gr, n_gr);
        int64_t total = hyp->n_items >= n ? hyp->n_items - n + 1 : 0;
        den[n - 1] = total > 1 ? total : 1; /* max(1, sum(counts.values())) */
        free(gh);
        free(gr);
    }
    int64_t hyp_len = hyp->n_items, ref_len = ref->n_items;
    rc = 0;
    if (num[0] == 0) { /* "if p_numerators[1] == 0: return 0" */
        *bleu = 0.0;
        goto done;
    }
    /* brevity_penalty(closest_ref_len, hyp_len) */
    double bp = hyp_len > ref_len ? 1.0 : exp(1.0 - (double)ref_len / (double)hyp_len);
    /* SmoothingFunction().method4(p_n, hyp_len=hyp_lengths), k = 5 */
    double p[EVAL_NGRAM_MAX];
    int positive[EVAL_NGRAM_MAX], incvnt = 1;
    for (int i = 0; i < EVAL_NGRAM_MAX; i++) {
        positive[i] = num[i] > 0;
        p[i] = (double)num[i] / (double)den[i]; /* float(Fraction) */
        if (num[i] == 0 && hyp_len > 1) {
            double numerator = 1.0 / ((double)((1LL << incvnt) * 5) / log((double)hyp_len));
            p[i] = numerator / (double)den[i];
            positive[i] = p[i] > 0.0;
            incvnt++;
        }
    }
    double terms[EVAL_NGRAM_MAX];
    int n_terms = 0;
    for (int i = 0; i < EVAL_NGRAM_MAX; i++)
        if (positive[i])
            terms[n_terms++] = 0.25 * log(p[i]);
    *bleu = bp * exp(eval_fsum(terms, n_terms));
done:
    free(ids);
    eval_intern_free(&in);
    return rc;
}

int eval_bleu_score(const EvalWordTok *wt, const EvalPunkt *pk, const char *label,
                    size_t n_label, const char *predict, size_t n_predict, double *bleu,
                    Err *err) {
    StrList ref = {0}, hyp = {0};
    int rc = -1;
    if (eval_word_tokenize(wt, pk, label, n_label, &ref, err) == 0 &&
        eval_word_tokenize(wt, pk, predict, n_predict, &hyp, err) == 0)
        rc = eval_bleu_tokens(&ref, &hyp, bleu, err);
    strlist_free(&ref);
    strlist_free(&hyp);
    return rc;
}
