/* io/eval/eval.c -- predictions file reading and metric averaging for `tlm eval`.
 * The averaging mirrors the reference loops exactly (a running sum in pair order,
 * divided by the count), so the results agree with Python to the last bit. */
#include "io/eval/eval.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"
#include "io/eval/eval_bleu.h"
#include "io/eval/eval_extract.h"
#include "io/eval/eval_punkt.h"
#include "io/eval/eval_wordtok.h"

static const char *const METRIC_NAMES[] = {"rouge", "bleu", "gsm8k", "logiqa", "metamath",
                                           "all"};
#define N_METRICS ((int)(sizeof METRIC_NAMES / sizeof METRIC_NAMES[0]))

int eval_metric_from_name(const char *name, EvalMetric *out, Err *err) {
    for (int i = 0; i < N_METRICS; i++)
        if (strcmp(name, METRIC_NAMES[i]) == 0) {
            *out = (EvalMetric)i;
            return 0;
        }
    return err_set(err, "unknown metric \"%s\" (expected rouge, bleu, gsm8k, logiqa, metamath "
                   "or all)", name);
}

const char *eval_metric_name(EvalMetric m) { return METRIC_NAMES[m]; }

void eval_pairs_free(EvalPairs *pairs) {
    if (pairs == NULL)
        return;
    for (int64_t i = 0; i < pairs->n_pairs; i++) {
        free(pairs->items[i].label);
        free(pairs->items[i].predict);
    }
    free(pairs->items);
    *pairs = (EvalPairs){0};
}

/* Copies the string field key of obj; errors name path:line. */
static int get_field(json_t *obj, const char *key, const char *path, int64_t line, char **out,
                     size_t *n_out, Err *err) {
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return err_set(err, "%s:%lld: missing field \"%s\"", path, (long long)line, key);
    if (!json_is_string(v))
        return err_set(err, "%s:%lld: field \"%s\" is not a string", path, (long long)line, key);
    *n_out = json_string_length(v);
    *out = malloc(*n_out + 1);
    if (*out == NULL)
        return err_set(err, "%s:%lld: out of memory", path, (long long)line);
    memcpy(*out, json_string_value(v), *n_out + 1);
    return 0;
}

static int parse_line(const char *path, int64_t line_no, const char *line, size_t n,
                      EvalPair *pair, Err *err) {
    json_error_t jerr;
    json_t *obj = json_loadb(line, n, 0, &jerr);
    if (obj == NULL)
        return err_set(err, "%s:%lld:%d: not JSON: %s", path, (long long)line_no, jerr.column,
                       jerr.text);
    int rc = -1;
    if (!json_is_object(obj))
        err_set(err, "%s:%lld: expected a JSON object {\"prompt\", \"label\", \"predict\"}",
                path, (long long)line_no);
    else if (get_field(obj, "label", path, line_no, &pair->label, &pair->n_label, err) == 0 &&
             get_field(obj, "predict", path, line_no, &pair->predict, &pair->n_predict,
                       err) == 0)
        rc = 0;
    json_decref(obj);
    return rc;
}

int eval_pairs_read(const char *path, EvalPairs *out, Err *err) {
    *out = (EvalPairs){0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t line_cap = 0;
    int64_t cap = 0, line_no = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (VEC_RESERVE(out->items, cap, out->n_pairs + 1, err) != 0) {
            rc = err_prefix(err, "%s:%lld: ", path, (long long)line_no);
            break;
        }
        EvalPair *p = &out->items[out->n_pairs];
        *p = (EvalPair){0};
        rc = parse_line(path, line_no, line, len, p, err);
        if (rc != 0) {
            free(p->label);
            free(p->predict);
        } else {
            out->n_pairs++;
        }
    }
    if (rc == 0 && ferror(f))
        rc = err_set(err, "%s: read error: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rc != 0)
        eval_pairs_free(out);
    return rc;
}

/* The ROUGE and BLEU averages (eval_similarity.py calue_rougscore and
 * calculate_bleu_score; both for ALL, each summed in pair order as there). */
static int run_text(const EvalPairs *pairs, EvalMetric metric, EvalResult *out,
                    double *per_pair, Err *err) {
    const int rouge = metric != EVAL_METRIC_BLEU, bleu = metric != EVAL_METRIC_ROUGE;
    const int stride = metric == EVAL_METRIC_ALL ? 5 : rouge ? 4 : 1;
    EvalPunkt *pk = eval_punkt_open(err);
    EvalWordTok *wt = pk && bleu ? eval_wordtok_open(err) : NULL;
    if (pk == NULL || (bleu && wt == NULL)) {
        eval_punkt_close(pk);
        return -1;
    }
    double s1 = 0, s2 = 0, sl = 0, sls = 0, sb = 0;
    int rc = 0;
    for (int64_t i = 0; i < pairs->n_pairs && rc == 0; i++) {
        const EvalPair *p = &pairs->items[i];
        double *mine = per_pair != NULL ? per_pair + stride * i : NULL;
        if (rouge) {
            EvalRouge r = {0};
            rc = eval_rouge_score(pk, p->label, p->n_label, p->predict, p->n_predict, &r, err);
            s1 += r.rouge1;
            s2 += r.rouge2;
            sl += r.rougeL;
            sls += r.rougeLsum;
            if (rc == 0 && mine != NULL)
                memcpy(mine, &r, sizeof r);
        }
        if (bleu && rc == 0) {
            double b = 0;
            rc = eval_bleu_score(wt, pk, p->label, p->n_label, p->predict, p->n_predict, &b, err);
            sb += b;
            if (mine != NULL)
                mine[stride - 1] = b;
        }
        if (rc != 0)
            err_prefix(err, "pair %lld: ", (long long)(i + 1));
    }
    double n = (double)pairs->n_pairs;
    out->rouge = (EvalRouge){s1 / n, s2 / n, sl / n, sls / n};
    out->bleu = sb / n;
    eval_wordtok_close(wt);
    eval_punkt_close(pk);
    return rc;
}

/* eval_accuracy.py: extractor(predict) == label.strip('\n'), averaged. */
static int run_accuracy(const EvalPairs *pairs, EvalMetric metric, EvalResult *out,
                        double *per_pair, Err *err) {
    for (int64_t i = 0; i < pairs->n_pairs; i++) {
        const EvalPair *p = &pairs->items[i];
        char *got = NULL;
        int rc = metric == EVAL_METRIC_GSM8K
                     ? eval_extract_gsm8k(p->predict, p->n_predict, &got, err)
                 : metric == EVAL_METRIC_LOGIQA
                     ? eval_extract_logiqa(p->predict, p->n_predict, &got, err)
                     : eval_extract_metamath(p->predict, p->n_predict, p->label, p->n_label,
                                             &got, err);
        if (rc != 0)
            return err_prefix(err, "pair %lld: ", (long long)(i + 1));
        int ok = eval_answer_correct(got, p->label, p->n_label);
        free(got);
        out->n_correct += ok;
        if (per_pair != NULL)
            per_pair[i] = ok;
    }
    out->accuracy = (double)out->n_correct / (double)pairs->n_pairs;
    return 0;
}

int eval_run(const EvalPairs *pairs, EvalMetric metric, EvalResult *out, double *per_pair,
             Err *err) {
    *out = (EvalResult){.metric = metric, .n_pairs = pairs->n_pairs};
    if (pairs->n_pairs == 0)
        return err_set(err, "no prediction pairs to score");
    if (metric == EVAL_METRIC_ROUGE || metric == EVAL_METRIC_BLEU || metric == EVAL_METRIC_ALL)
        return run_text(pairs, metric, out, per_pair, err);
    return run_accuracy(pairs, metric, out, per_pair, err);
}

void eval_result_print_json(const EvalResult *r, FILE *out) {
    fprintf(out, "{\"metric\": \"%s\", \"n\": %lld", eval_metric_name(r->metric),
            (long long)r->n_pairs);
    switch (r->metric) {
    case EVAL_METRIC_ROUGE:
        fprintf(out, ", \"rouge1\": %.17g, \"rouge2\": %.17g, \"rougeL\": %.17g, "
                     "\"rougeLsum\": %.17g", r->rouge.rouge1, r->rouge.rouge2, r->rouge.rougeL,
                r->rouge.rougeLsum);
        break;
    case EVAL_METRIC_BLEU:
        fprintf(out, ", \"bleu\": %.17g", r->bleu);
        break;
    case EVAL_METRIC_ALL:
        fprintf(out, ", \"bleu\": %.17g, \"rouge1\": %.17g, \"rouge2\": %.17g, "
                     "\"rougeL\": %.17g, \"rougeLsum\": %.17g", r->bleu, r->rouge.rouge1,
                r->rouge.rouge2, r->rouge.rougeL, r->rouge.rougeLsum);
        break;
    default:
        fprintf(out, ", \"correct\": %lld, \"accuracy\": %.17g", (long long)r->n_correct,
                r->accuracy);
    }
    fprintf(out, "}\n");
}
