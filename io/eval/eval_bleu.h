/* io/eval/eval_bleu.h -- sentence BLEU-4 as the TLM reference computes it
 * (scripts/eval/eval_similarity.py calculate_bleu_score): nltk's
 * sentence_bleu([word_tokenize(label)], word_tokenize(predict),
 * smoothing_function=SmoothingFunction().method4) with the default weights
 * (0.25, 0.25, 0.25, 0.25) and no auto re-weighting. Tokens come from
 * io/eval_wordtok.h. One reference per hypothesis. Pure functions. */
#ifndef TLM_IO_EVAL_BLEU_H
#define TLM_IO_EVAL_BLEU_H

#include "io/base/err.h"
#include "io/eval/eval_text.h"
#include "io/eval/eval_wordtok.h"

/* Python's math.fsum: the correctly rounded sum of x[0..n). */
double eval_fsum(const double *x, int n);

/* nltk.translate.bleu_score.sentence_bleu([ref], hyp, smoothing_function=method4) of
 * token lists. 0, or -1 with err filled (out of memory). */
int eval_bleu_tokens(const StrList *ref, const StrList *hyp, double *bleu, Err *err);

/* word_tokenize both texts, then eval_bleu_tokens. */
int eval_bleu_score(const EvalWordTok *wt, const EvalPunkt *pk, const char *label,
                    size_t n_label, const char *predict, size_t n_predict, double *bleu,
                    Err *err);

#endif
