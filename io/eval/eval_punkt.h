/* io/eval/eval_punkt.h -- nltk's Punkt sentence splitter (sent_tokenize, English), for
 * `tlm eval`: rouge_score's ROUGE-Lsum and nltk.word_tokenize split with it.
 * Mirrors nltk/tokenize/punkt.py (PunktSentenceTokenizer.tokenize with boundary
 * realignment) over NLTK's English punkt_tab model, compiled into tlm
 * (io/eval/eval_punkt_model.c, made by tools/make_punkt_model.py). No training, no
 * other language. A EvalPunkt is read-only after eval_punkt_open: share it freely. */
#ifndef TLM_IO_EVAL_PUNKT_H
#define TLM_IO_EVAL_PUNKT_H

#include "io/base/err.h"
#include "io/eval/eval_text.h"

typedef struct EvalPunkt EvalPunkt;

/* The embedded English model text (static storage; format in eval_punkt_model.c). */
const char *eval_punkt_english_model(void);

/* Parses the English model and compiles the word-splitting regex. Returns NULL after
 * filling err (out of memory, PCRE2 failure). The handle is owned by the caller. */
EvalPunkt *eval_punkt_open(Err *err);
void eval_punkt_close(EvalPunkt *pk); /* NULL is fine */

/* Appends the sentences of text (UTF-8, n_bytes long) to out, as
 * nltk.sent_tokenize(text) returns them. 0, or -1 with err filled. */
int eval_punkt_split(const EvalPunkt *pk, const char *text, size_t n_bytes,
                     StrList *out, Err *err);

#endif
