/* io/eval/eval_wordtok.h -- nltk.word_tokenize for `tlm eval` BLEU: Punkt sentences
 * (io/eval/eval_punkt.h), each split by NLTKWordTokenizer (nltk/tokenize/destructive.py,
 * the improved Treebank tokenizer: its regex substitutions replayed with PCRE2).
 * English only, convert_parentheses=False, preserve_line=False. Read-only after open:
 * one handle may serve many threads. */
#ifndef TLM_IO_EVAL_WORDTOK_H
#define TLM_IO_EVAL_WORDTOK_H

#include "io/base/err.h"
#include "io/eval/eval_punkt.h"
#include "io/eval/eval_text.h"

typedef struct EvalWordTok EvalWordTok;

/* Compiles the tokenizer's regexes; NULL after filling err. Owned by the caller. */
EvalWordTok *eval_wordtok_open(Err *err);
void eval_wordtok_close(EvalWordTok *wt); /* NULL is fine */

/* Appends NLTKWordTokenizer().tokenize(s[0..n_bytes)) to out. 0, or -1 with err. */
int eval_wordtok_sentence(const EvalWordTok *wt, const char *s, size_t n_bytes,
                          StrList *out, Err *err);

/* Appends nltk.word_tokenize(text) to out: the tokens of every Punkt sentence. */
int eval_word_tokenize(const EvalWordTok *wt, const EvalPunkt *pk, const char *text,
                       size_t n_bytes, StrList *out, Err *err);

#endif
