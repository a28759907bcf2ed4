/* launcher/cmd_eval.c -- `tlm eval PREDICTIONS.jsonl|OUT_DIR --metric M`: the paper's
 * metrics over a generated_predictions.jsonl ({"prompt","label","predict"} per line), as
 * the TLM reference's scripts/eval/ compute them (see io/eval/eval.h); a directory is
 * searched in tlm's and the reference's layouts (io/eval/eval_files.h). Prints one JSON
 * object on stdout and a human-readable line on stderr; errors name file:line. Exit
 * status: 0 scored, 1 bad input, 2 bad usage. */
#include "launcher/commands.h"

#include <stdio.h>
#include <string.h>

#include "io/base/err.h"
#include "io/eval/eval.h"
#include "io/eval/eval_files.h"
#include "io/base/log.h"

static const char k_usage[] =
    "usage: tlm eval PREDICTIONS.jsonl|OUT_DIR --metric rouge|bleu|gsm8k|logiqa|metamath|all\n"
    "  Scores generated_predictions.jsonl (one {\"prompt\",\"label\",\"predict\"} per line)\n"
    "  as the TLM reference's scripts/eval do, and prints a JSON object on stdout. A run's\n"
    "  output directory is searched for OUT_DIR/generated_predictions.jsonl (tlm) or\n"
    "  OUT_DIR/predict-temperature_<T>-max_new_tokens_<N>/generated_predictions.jsonl\n"
    "  (the TLM reference, LLaMA-Factory's ttl stage).\n"
    "    rouge     mean ROUGE-1/2/L/Lsum F (rouge_score, Porter stemming, Punkt sentences)\n"
    "    bleu      mean sentence BLEU-4 (nltk, word_tokenize, smoothing method4)\n"
    "    gsm8k     accuracy of the last number in the prediction\n"
    "    logiqa    accuracy of the chosen option A-D\n"
    "    metamath  accuracy of the extracted answer (\\boxed{}, \\frac, last number)\n"
    "    all       bleu and rouge together, printed as eval_similarity.py prints them\n"
    "              (its BERTScore and BLEURT need neural scorers: not computed)\n"
    "  Scores are fractions in [0, 1], averaged over lines.\n";

/* Parses PATH and --metric M / --metric=M; returns 0, 1 for --help, -1 on bad usage. */
static int parse_args(int argc, char **argv, const char **path, const char **metric) {
    *path = NULL;
    *metric = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--metric") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tlm eval: --metric needs a value\n");
                return -1;
            }
            *metric = argv[++i];
        } else if (strncmp(a, "--metric=", 9) == 0) {
            *metric = a + 9;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "tlm eval: unknown option \"%s\"\n", a);
            return -1;
        } else if (*path == NULL) {
            *path = a;
        } else {
            fprintf(stderr, "tlm eval: one predictions file expected, got \"%s\" too\n", a);
            return -1;
        }
    }
    if (*path == NULL || *metric == NULL) {
        fprintf(stderr, "tlm eval: %s\n",
                *path == NULL ? "missing PREDICTIONS.jsonl" : "missing --metric");
        return -1;
    }
    return 0;
}

/* The human line: percentages, as papers print them. */
static void print_summary(const char *path, const EvalResult *r) {
    fprintf(stderr, "tlm eval: %s: %lld pairs, ", path, (long long)r->n_pairs);
    switch (r->metric) {
    case EVAL_METRIC_ROUGE:
        fprintf(stderr, "ROUGE-1 %.2f  ROUGE-2 %.2f  ROUGE-L %.2f  ROUGE-Lsum %.2f (%%)\n",
                100 * r->rouge.rouge1, 100 * r->rouge.rouge2, 100 * r->rouge.rougeL,
                100 * r->rouge.rougeLsum);
        break;
    case EVAL_METRIC_BLEU:
        fprintf(stderr, "BLEU %.2f (%%)\n", 100 * r->bleu);
        break;
    case EVAL_METRIC_ALL:
        fprintf(stderr, "BLEU %.2f  ROUGE-1 %.2f  ROUGE-2 %.2f  ROUGE-L %.2f  ROUGE-Lsum %.2f "
                        "(%%)\n", 100 * r->bleu, 100 * r->rouge.rouge1, 100 * r->rouge.rouge2,
                100 * r->rouge.rougeL, 100 * r->rouge.rougeLsum);
        /* The reference's own line (eval_similarity.py __main__, less bertscore/bleurt). */
        fprintf(stderr, "Path: %s\nbleu: %.17g, rouge1: %.17g, rouge2: %.17g, rougeL: %.17g, "
                        "rougeLsum: %.17g\n", path, r->bleu, r->rouge.rouge1, r->rouge.rouge2,
                r->rouge.rougeL, r->rouge.rougeLsum);
        break;
    default:
        fprintf(stderr, "%s accuracy %.2f%% (%lld correct)\n", eval_metric_name(r->metric),
                100 * r->accuracy, (long long)r->n_correct);
    }
}

int cmd_eval(int argc, char **argv) {
    const char *given, *metric_name;
    int usage = parse_args(argc, argv, &given, &metric_name);
    if (usage != 0) {
        fputs(k_usage, usage > 0 ? stdout : stderr);
        return usage > 0 ? 0 : 2;
    }
    Err err = {0};
    EvalMetric metric;
    if (eval_metric_from_name(metric_name, &metric, &err) != 0) {
        log_error("tlm eval: %s", err.msg);
        return 2;
    }
    char path[4096];
    if (eval_find_predictions(given, path, sizeof path, &err) != 0) {
        log_error("tlm eval: %s", err.msg);
        return 1;
    }
    EvalPairs pairs = {0};
    EvalResult result;
    if (eval_pairs_read(path, &pairs, &err) != 0) { /* the message names path:line */
        log_error("tlm eval: %s", err.msg);
        return 1;
    }
    if (eval_run(&pairs, metric, &result, NULL, &err) != 0) {
        log_error("tlm eval: %s: %s", path, err.msg);
        eval_pairs_free(&pairs);
        return 1;
    }
    eval_result_print_json(&result, stdout);
    fflush(stdout);
    print_summary(path, &result);
    eval_pairs_free(&pairs);
    return 0;
}
