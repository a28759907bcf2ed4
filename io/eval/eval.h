/* io/eval/eval.h -- `tlm eval`: the paper's metrics over a generated_predictions.jsonl,
 * agreeing with the TLM reference's Python scoring (scripts/eval/ of
 * github.com/Fhujinwu/TLM): ROUGE-1/2/L/Lsum (rouge_score), BLEU-4 (nltk, method4),
 * and the GSM8K / LogiQA / MetaMath accuracies, or every similarity metric at once
 * ("all": ROUGE and BLEU, as eval_similarity.py's main prints them). Scores are averaged
 * over pairs as the reference does, as fractions in [0, 1] (not percentages). Reads
 * files, never writes them; the command line lives in launcher/cmd_eval.c. */
#ifndef TLM_IO_EVAL_H
#define TLM_IO_EVAL_H

#include <stdint.h>
#include <stdio.h>

#include "io/base/err.h"
#include "io/eval/eval_rouge.h"

typedef enum EvalMetric {
    EVAL_METRIC_ROUGE,
    EVAL_METRIC_BLEU,
    EVAL_METRIC_GSM8K,
    EVAL_METRIC_LOGIQA,
    EVAL_METRIC_METAMATH,
    EVAL_METRIC_ALL, /* ROUGE-1/2/L/Lsum and BLEU-4 in one pass */
} EvalMetric;

/* "rouge" | "bleu" | "gsm8k" | "logiqa" | "metamath" | "all". 0, or -1 naming the
 * choices. */
int eval_metric_from_name(const char *name, EvalMetric *out, Err *err);
const char *eval_metric_name(EvalMetric m); /* static storage */

/* One line of the predictions file (strings owned by the EvalPairs). */
typedef struct EvalPair {
    char *label, *predict;
    size_t n_label, n_predict;
} EvalPair;

typedef struct EvalPairs {
    EvalPair *items;
    int64_t n_pairs;
} EvalPairs;

/* Reads path: one JSON object per line with string fields "label" and "predict"
 * ("prompt" and any other field are ignored). Errors name path:line and the field.
 * out is filled on success (release with eval_pairs_free) and empty on error. */
int eval_pairs_read(const char *path, EvalPairs *out, Err *err);
void eval_pairs_free(EvalPairs *pairs); /* zeroed or freed twice is fine */

typedef struct EvalResult {
    EvalMetric metric;
    int64_t n_pairs;
    EvalRouge rouge;   /* EVAL_METRIC_ROUGE and _ALL: mean F-measures */
    double bleu;       /* EVAL_METRIC_BLEU and _ALL: mean sentence BLEU */
    int64_t n_correct; /* accuracy metrics */
    double accuracy;   /* n_correct / n_pairs */
} EvalResult;

/* Scores every pair with metric and averages. per_pair (nullable, caller-owned) gets
 * one value per pair for BLEU and the accuracies (1/0), four (rouge1, rouge2, rougeL,
 * rougeLsum) per pair for ROUGE and five (those four, then bleu) for ALL. An empty file
 * is an error (the reference divides by zero). 0, or -1 with err naming the pair. */
int eval_run(const EvalPairs *pairs, EvalMetric metric, EvalResult *out, double *per_pair,
             Err *err);

/* Writes the result as one JSON object and a newline, e.g.
 * {"metric": "rouge", "n": 520, "rouge1": 0.41, ...}; doubles with 17 digits. */
void eval_result_print_json(const EvalResult *r, FILE *out);


#endif
