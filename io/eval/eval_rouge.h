/* io/eval/eval_rouge.h -- ROUGE-1/2/L/Lsum F-measures as the TLM reference computes them
 * (scripts/eval/eval_similarity.py calue_rougscore): Google's rouge_score 0.1.2,
 * RougeScorer(['rouge1','rouge2','rougeL','rougeLsum'], use_stemmer=True,
 * split_summaries=True).score(label, pre_rouge_processing(predict)). Its tokenizer
 * (lower-case, non-[a-z0-9] -> space, nltk Porter stem on tokens longer than 3),
 * n-gram overlap, LCS and summary-level union LCS are reimplemented here; sentences
 * come from io/eval_punkt.h. Precision and recall are computed but only F is kept. */
#ifndef TLM_IO_EVAL_ROUGE_H
#define TLM_IO_EVAL_ROUGE_H

#include "io/base/err.h"
#include "io/eval/eval_punkt.h"
#include "io/eval/eval_text.h"

typedef struct EvalRouge {
    double rouge1, rouge2, rougeL, rougeLsum; /* F-measures in [0, 1] */
} EvalRouge;

/* rouge_score.tokenize.tokenize(text, PorterStemmer()): appends the tokens to out. */
int eval_rouge_tokenize(const char *text, size_t n_bytes, StrList *out, Err *err);

/* eval_similarity.py pre_rouge_processing: "<n>" -> " ", then the Punkt sentences
 * joined by "\n". out is reset first. */
int eval_rouge_preprocess(const EvalPunkt *pk, const char *pred, size_t n_bytes, StrBuf *out,
                          Err *err);

/* The four F-measures of one pair: target = the label, prediction = the model output
 * (raw: the preprocessing above is applied here). 0, or -1 with err filled. */
int eval_rouge_score(const EvalPunkt *pk, const char *target, size_t n_target,
                     const char *prediction, size_t n_prediction, EvalRouge *out, Err *err);

#endif
