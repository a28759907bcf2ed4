/* io/eval/eval_extract.h -- the answer extractors of the TLM reference's accuracy metrics
 * (github.com/Fhujinwu/TLM scripts/eval/eval_utils.py, used by eval_accuracy.py):
 * extract_gsm8k_answer_number (GSM8K), extract_logiqa_option (LogiQA),
 * extract_math_answer + post_process (MetaMath), and eval_accuracy.py's comparison
 * `extracted == label.strip('\n')`. Python's \s, \d and \b keep their Unicode meaning.
 * One deviation: where the reference crashes (a "\text{" label whose braces never
 * close on its line), the extractor returns None (wrong answer). Pure functions. */
#ifndef TLM_IO_EVAL_EXTRACT_H
#define TLM_IO_EVAL_EXTRACT_H

#include <stddef.h>

#include "io/base/err.h"

/* extract_gsm8k_answer_number(completion): *out = the rounded last number as a
 * string (malloc'd, caller frees), or NULL for None. 0, or -1 with err filled. */
int eval_extract_gsm8k(const char *completion, size_t n_bytes, char **out, Err *err);

/* extract_logiqa_option(completion): *out = "A".."D" or "" (malloc'd, never NULL). */
int eval_extract_logiqa(const char *completion, size_t n_bytes, char **out, Err *err);

/* extract_math_answer(completion, label): *out malloc'd, or NULL for None. */
int eval_extract_metamath(const char *completion, size_t n_bytes, const char *label,
                          size_t n_label, char **out, Err *err);

/* eval_accuracy.py: 1 when extracted (NULL = None) equals label.strip('\n'). */
int eval_answer_correct(const char *extracted, const char *label, size_t n_label);

#endif
