/* worker/loop/ttl_totals.c -- the run's running totals (see ttl_totals.h). */
#include "worker/loop/ttl_totals.h"

#include <math.h>
#include <stdlib.h>

/* The ce history's first capacity; it doubles from there (a stream of N samples grows it
 * log2(N / 256) times, once per batch at most). */
#define TOTALS_FIRST_CAP 256

int ttl_totals_add(TtlTotals *t, const TtlScore *scores, int64_t n, Err *err) {
    if (t->samples + n > t->cap) {
        int64_t c = t->cap > 0 ? t->cap : TOTALS_FIRST_CAP;
        while (c < t->samples + n)
            c *= 2;
        float *p = realloc(t->ce, (size_t)c * sizeof *p);
        if (p == NULL)
            return err_set(err, "out of memory for the scores of %lld samples", (long long)c);
        t->ce = p;
        t->cap = c;
    }
    for (int64_t i = 0; i < n; i++) {
        t->ce[t->samples + i] = scores[i].ce;
        t->selected += scores[i].selected;
        t->input_tokens += scores[i].tokens;
    }
    t->samples += n;
    return 0;
}

void ttl_totals_updated(TtlTotals *t, int64_t n_steps) { t->steps += n_steps; }

void ttl_totals_generated(TtlTotals *t, int64_t n_tokens) { t->gen_tokens += n_tokens; }

/* Mean of exp(ce) over [from, to) of the history. */
static double mean_ppl(const float *ce, int64_t from, int64_t to) {
    double s = 0;
    for (int64_t i = from; i < to; i++)
        s += exp((double)ce[i]);
    return to > from ? s / (double)(to - from) : 0.0;
}

void ttl_totals_summary(const TtlTotals *t, TtlSummary *s) {
    const int64_t n = t->samples, tenth = (n + 9) / 10;
    s->samples = n;
    s->selected = t->selected;
    s->steps = t->steps;
    s->input_tokens = t->input_tokens;
    s->gen_tokens = t->gen_tokens;
    s->n_first = s->n_last = tenth;
    s->ppl_first = mean_ppl(t->ce, 0, tenth);
    s->ppl_last = mean_ppl(t->ce, n - tenth, n);
}

void ttl_totals_free(TtlTotals *t) {
    free(t->ce);
    *t = (TtlTotals){0};
}
