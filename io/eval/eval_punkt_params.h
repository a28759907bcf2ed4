/* io/eval/eval_punkt_params.h -- the Punkt model and character classes behind
 * io/eval/eval_punkt.c: nltk's PunktParameters (abbreviation types, collocations,
 * sentence starters, orthographic contexts) parsed from the embedded English model,
 * the PunktToken regexes, and PunktLanguageVars' character sets. Internal to the
 * eval_punkt module; lookups are read-only and thread-safe. */
#ifndef TLM_IO_EVAL_PUNKT_PARAMS_H
#define TLM_IO_EVAL_PUNKT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/eval/eval_punkt.h"
#include "io/eval/eval_text.h"

/* nltk.tokenize.punkt's _ORTHO_* flags. */
#define EVAL_PUNKT_ORTHO_BEG_UC (1 << 1)
#define EVAL_PUNKT_ORTHO_MID_UC (1 << 2)
#define EVAL_PUNKT_ORTHO_UNK_UC (1 << 3)
#define EVAL_PUNKT_ORTHO_BEG_LC (1 << 4)
#define EVAL_PUNKT_ORTHO_MID_LC (1 << 5)
#define EVAL_PUNKT_ORTHO_UNK_LC (1 << 6)
#define EVAL_PUNKT_ORTHO_UC (EVAL_PUNKT_ORTHO_BEG_UC | EVAL_PUNKT_ORTHO_MID_UC | EVAL_PUNKT_ORTHO_UNK_UC)
#define EVAL_PUNKT_ORTHO_LC (EVAL_PUNKT_ORTHO_BEG_LC | EVAL_PUNKT_ORTHO_MID_LC | EVAL_PUNKT_ORTHO_UNK_LC)

/* Set membership of the lower-cased type s[0..n). */
int eval_punkt_has_abbrev(const EvalPunkt *pk, const char *s, size_t n);
int eval_punkt_has_sent_starter(const EvalPunkt *pk, const char *s, size_t n);
int eval_punkt_has_collocation(const EvalPunkt *pk, const char *a, size_t n_a, const char *b,
                               size_t n_b);
/* ortho_context[type] (0 when absent, as nltk's defaultdict(int)). */
int eval_punkt_ortho(const EvalPunkt *pk, const char *s, size_t n);

/* PunktToken._RE_NUMERIC fully matches the lower-cased token: 1/0, -1 on error. */
int eval_punkt_is_numeric(const EvalPunkt *pk, const char *low, size_t n, Err *err);
/* PunktToken.is_initial (_RE_INITIAL.match(tok)): 1/0, -1 on error. */
int eval_punkt_is_initial(const EvalPunkt *pk, const char *tok, size_t n, Err *err);
/* PunktLanguageVars._word_tokenizer_re() (borrowed). */
const EvalRe *eval_punkt_word_re(const EvalPunkt *pk);

/* PunktLanguageVars character sets: _re_non_word_chars, the `regex` module's \s,
 * and the closing punctuation of re_boundary_realignment. */
int eval_punkt_is_nonword_char(int32_t cp);
int eval_punkt_is_rx_space(int32_t cp);
int eval_punkt_is_closing_quote(int32_t cp);

#endif
