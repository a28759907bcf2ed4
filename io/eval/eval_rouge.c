/* io/eval/eval_rouge.c -- rouge_score's RougeScorer.score in C (see eval_rouge.h). Tokens
 * are interned to ids so n-grams and LCS compare integers; each function names the
 * rouge_score/rouge_scorer.py function it mirrors. */
#include "io/eval/eval_rouge.h"

#include <stdlib.h>
#include <string.h>

#include "io/eval/eval_ngram.h"
#include "io/eval/eval_porter.h"

/* rouge_score.scoring.fmeasure */
static double fmeasure(double precision, double recall) {
    return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

static int is_alnum_ascii(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

int eval_rouge_tokenize(const char *text, size_t n_bytes, StrList *out, Err *err) {
    StrBuf low = {0};
    char *stem = NULL;
    int rc = -1;
    if (eval_py_lower(text, n_bytes, &low, err) != 0)
        goto done;
    stem = malloc(low.n_bytes + 2);
    if (stem == NULL) {
        err_set(err, "out of memory tokenizing %zu bytes", n_bytes);
        goto done;
    }
    for (size_t i = 0; i < low.n_bytes;) {
        if (!is_alnum_ascii(low.data[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < low.n_bytes && is_alnum_ascii(low.data[j]))
            j++;
        /* "Only stem words more than 3 characters long." */
        const char *tok = low.data + i;
        size_t n = j - i;
        if (n > 3) {
            n = eval_porter_stem(tok, n, stem);
            tok = stem;
        }
        if (n > 0 && strlist_push(out, tok, n, err) != 0)
            goto done;
        i = j;
    }
    rc = 0;
done:
    free(stem);
    strbuf_free(&low);
    return rc;
}

int eval_rouge_preprocess(const EvalPunkt *pk, const char *pred, size_t n_bytes, StrBuf *out,
                          Err *err) {
    StrBuf r = {0};
    StrList sents = {0};
    int rc = -1;
    for (size_t i = 0; i < n_bytes;) { /* summary.replace("<n>", " ") */
        int tag = n_bytes - i >= 3 && memcmp(pred + i, "<n>", 3) == 0;
        if (strbuf_append(&r, tag ? " " : pred + i, 1, err) != 0)
            goto done;
        i += tag ? 3 : 1;
    }
    if (eval_punkt_split(pk, r.data ? r.data : "", r.n_bytes, &sents, err) != 0)
        goto done;
    out->n_bytes = 0;
    if (strbuf_append(out, "", 0, err) != 0)
        goto done;
    for (int64_t i = 0; i < sents.n_items; i++)
        if ((i > 0 && strbuf_append(out, "\n", 1, err) != 0) ||
            strbuf_append(out, sents.items[i], sents.n_item_bytes[i], err) != 0)
            goto done;
    rc = 0;
done:
    strlist_free(&sents);
    strbuf_free(&r);
    return rc;
}

/* Tokens of a text as ids, split into sentences or not. */
typedef struct Toks {
    int32_t *ids;
    int64_t n_ids;
    int64_t *sent_off; /* sentence s is ids[sent_off[s], sent_off[s + 1]) */
    int64_t n_sents;
} Toks;

static void toks_free(Toks *t) {
    free(t->ids);
    free(t->sent_off);
    *t = (Toks){0};
}

/* Tokenizes text whole (sentences == NULL) or sentence by sentence (get_sents:
 * Punkt sentences, empty ones dropped). */
static int toks_build(EvalIntern *in, const char *text, size_t n, const EvalPunkt *split,
                      Toks *t, Err *err) {
    StrList sents = {0}, toks = {0};
    int rc = -1;
    if (split != NULL) {
        if (eval_punkt_split(split, text, n, &sents, err) != 0)
            goto done;
    } else if (strlist_push(&sents, text, n, err) != 0) {
        goto done;
    }
    t->sent_off = calloc((size_t)sents.n_items + 1, sizeof *t->sent_off);
    if (t->sent_off == NULL) {
        err_set(err, "out of memory for %lld sentences", (long long)sents.n_items);
        goto done;
    }
    for (int64_t s = 0; s < sents.n_items; s++) {
        if (sents.n_item_bytes[s] == 0)
            continue;
        if (eval_rouge_tokenize(sents.items[s], sents.n_item_bytes[s], &toks, err) != 0)
            goto done;
        t->sent_off[++t->n_sents] = toks.n_items;
    }
    t->ids = malloc(((size_t)toks.n_items + 1) * sizeof *t->ids);
    if (t->ids == NULL) {
        err_set(err, "out of memory for %lld tokens", (long long)toks.n_items);
        goto done;
    }
    t->n_ids = toks.n_items;
    rc = eval_intern_list(in, &toks, t->ids, err);
done:
    strlist_free(&sents);
    strlist_free(&toks);
    return rc;
}

/* _score_ngrams(_create_ngrams(target, n), _create_ngrams(prediction, n)).fmeasure */
static int score_ngrams(const Toks *tgt, const Toks *pred, int n, double *f, Err *err) {
    EvalNgram *gt = NULL, *gp = NULL;
    int64_t n_gt, n_gp;
    if (eval_ngram_count(tgt->ids, tgt->n_ids, n, &gt, &n_gt, err) != 0 ||
        eval_ngram_count(pred->ids, pred->n_ids, n, &gp, &n_gp, err) != 0) {
        free(gt);
        return -1;
    }
    int64_t inter = eval_ngram_overlap(gt, n_gt, gp, n_gp);
    int64_t t_count = tgt->n_ids >= n ? tgt->n_ids - n + 1 : 0;
    int64_t p_count = pred->n_ids >= n ? pred->n_ids - n + 1 : 0;
    double precision = (double)inter / (double)(p_count > 1 ? p_count : 1);
    double recall = (double)inter / (double)(t_count > 1 ? t_count : 1);
    *f = fmeasure(precision, recall);
    free(gt);
    free(gp);
    return 0;
}

/* _lcs_table(ref, can): (n_ref + 1) x (n_can + 1), row-major, owned by the caller. */
static int32_t *lcs_table(const int32_t *ref, int64_t n_ref, const int32_t *can, int64_t n_can,
                          Err *err) {
    int64_t cols = n_can + 1;
    int32_t *t = calloc((size_t)((n_ref + 1) * cols), sizeof *t);
    if (t == NULL) {
        err_set(err, "out of memory for a %lld x %lld LCS table", (long long)n_ref,
                (long long)n_can);
        return NULL;
    }
    for (int64_t i = 1; i <= n_ref; i++)
        for (int64_t j = 1; j <= n_can; j++) {
            int32_t up = t[(i - 1) * cols + j], left = t[i * cols + j - 1];
            t[i * cols + j] = ref[i - 1] == can[j - 1] ? t[(i - 1) * cols + j - 1] + 1
                                                       : (up > left ? up : left);
        }
    return t;
}

/* _score_lcs(target, prediction).fmeasure */
static int score_lcs(const Toks *tgt, const Toks *pred, double *f, Err *err) {
    *f = 0.0;
    if (tgt->n_ids == 0 || pred->n_ids == 0)
        return 0;
    int32_t *t = lcs_table(tgt->ids, tgt->n_ids, pred->ids, pred->n_ids, err);
    if (t == NULL)
        return -1;
    double lcs = t[(tgt->n_ids + 1) * (pred->n_ids + 1) - 1];
    *f = fmeasure(lcs / (double)pred->n_ids, lcs / (double)tgt->n_ids);
    free(t);
    return 0;
}

/* lcs_ind + _backtrack_norec: marks in[i] for each ref index i of one LCS. */
static int mark_lcs(const int32_t *ref, int64_t n_ref, const int32_t *can, int64_t n_can,
                    unsigned char *in, Err *err) {
    int32_t *t = lcs_table(ref, n_ref, can, n_can, err);
    if (t == NULL)
        return -1;
    int64_t i = n_ref, j = n_can, cols = n_can + 1;
    while (i > 0 && j > 0) {
        if (ref[i - 1] == can[j - 1]) {
            in[i - 1] = 1;
            i--;
            j--;
        } else if (t[i * cols + j - 1] > t[(i - 1) * cols + j]) {
            j--;
        } else {
            i--;
        }
    }
    free(t);
    return 0;
}

/* _summary_level_lcs(ref_sent, can_sent).fmeasure */
static int score_summary_lcs(const Toks *ref, const Toks *can, int64_t n_vocab, double *f,
                             Err *err) {
    *f = 0.0;
    if (ref->n_sents == 0 || can->n_sents == 0 || ref->n_ids == 0 || can->n_ids == 0)
        return 0;
    int64_t *cnt = calloc((size_t)(2 * n_vocab), sizeof *cnt); /* token_cnts_r | _c */
    unsigned char *in = malloc((size_t)ref->n_ids + 1);
    int rc = -1;
    if (cnt == NULL || in == NULL) {
        err_set(err, "out of memory for summary-level LCS");
        goto done;
    }
    for (int64_t i = 0; i < ref->n_ids; i++)
        cnt[ref->ids[i]]++;
    for (int64_t i = 0; i < can->n_ids; i++)
        cnt[n_vocab + can->ids[i]]++;
    int64_t hits = 0;
    for (int64_t r = 0; r < ref->n_sents; r++) {
        const int32_t *rs = ref->ids + ref->sent_off[r];
        int64_t n_rs = ref->sent_off[r + 1] - ref->sent_off[r];
        memset(in, 0, (size_t)n_rs + 1);
        for (int64_t c = 0; c < can->n_sents; c++) /* _union_lcs */
            if (mark_lcs(rs, n_rs, can->ids + can->sent_off[c],
                         can->sent_off[c + 1] - can->sent_off[c], in, err) != 0)
                goto done;
        for (int64_t i = 0; i < n_rs; i++) {
            int32_t tok = rs[i];
            if (in[i] && cnt[n_vocab + tok] > 0 && cnt[tok] > 0) {
                hits++;
                cnt[n_vocab + tok]--;
                cnt[tok]--;
            }
        }
    }
    *f = fmeasure((double)hits / (double)can->n_ids, (double)hits / (double)ref->n_ids);
    rc = 0;
done:
    free(cnt);
    free(in);
    return rc;
}

int eval_rouge_score(const EvalPunkt *pk, const char *target, size_t n_target,
                     const char *prediction, size_t n_prediction, EvalRouge *out, Err *err) {
    EvalIntern in = {0};
    StrBuf pred = {0};
    Toks tw = {0}, pw = {0}, ts = {0}, ps = {0};
    int rc = -1;
    if (eval_rouge_preprocess(pk, prediction, n_prediction, &pred, err) != 0 ||
        toks_build(&in, target, n_target, NULL, &tw, err) != 0 ||
        toks_build(&in, pred.data, pred.n_bytes, NULL, &pw, err) != 0 ||
        toks_build(&in, target, n_target, pk, &ts, err) != 0 ||
        toks_build(&in, pred.data, pred.n_bytes, pk, &ps, err) != 0)
        goto done;
    if (score_ngrams(&tw, &pw, 1, &out->rouge1, err) != 0 ||
        score_ngrams(&tw, &pw, 2, &out->rouge2, err) != 0 ||
        score_lcs(&tw, &pw, &out->rougeL, err) != 0 ||
        score_summary_lcs(&ts, &ps, in.strs.n_items, &out->rougeLsum, err) != 0)
        goto done;
    rc = 0;
done:
    toks_free(&tw);
    toks_free(&pw);
    toks_free(&ts);
    toks_free(&ps);
    strbuf_free(&pred);
    eval_intern_free(&in);
    return rc;
}
