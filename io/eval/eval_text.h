/* io/eval/eval_text.h -- the string helpers `tlm eval` shares (on io/base's StrBuf and
 * StrList): UTF-8 decoding, Python's character classes (str.isspace,
 * isupper, islower, lower) and a thin PCRE2 wrapper that behaves like Python's
 * re.search / re.sub. Patterns spell Python's \s and \w out as classes (below), since
 * PCRE2, Python's re and the `regex` module nltk uses each define them differently.
 * Everything is UTF-8; offsets are bytes. Not a general string library; no locale. */
#ifndef TLM_IO_EVAL_TEXT_H
#define TLM_IO_EVAL_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/base/strbuf.h"
#include "io/base/strlist.h"

/* Python re's \s (str.isspace) and the `regex` module's \s (White_Space, used by
 * nltk through nltk/redos.py): they differ on U+001C..U+001F. */
#define EVAL_RE_S_SET                                                                  \
    "\\t-\\r\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}" \
    "\\x{202f}\\x{205f}\\x{3000}"
#define EVAL_RX_S_SET                                                            \
    "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}" \
    "\\x{205f}\\x{3000}"
#define EVAL_RE_S "[" EVAL_RE_S_SET "]"
#define EVAL_RX_S "[" EVAL_RX_S_SET "]"
#define EVAL_RX_NS "[^" EVAL_RX_S_SET "]"
/* The `regex` module's \w: letters, marks, Nd, Nl, Pc, ZWNJ/ZWJ. */
#define EVAL_RX_W_SET "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}\\x{200c}\\x{200d}"
#define EVAL_RX_W "[" EVAL_RX_W_SET "]"

/* Decodes the code point at s[*i] (n_bytes total) and advances *i; invalid bytes
 * decode as U+FFFD one byte at a time. */
int32_t eval_utf8_next(const char *s, size_t n_bytes, size_t *i);
/* Byte offset of the start of the code point before offset i (i > 0). */
size_t eval_utf8_prev(const char *s, size_t i);

/* Python str methods on one code point. */
int eval_py_isspace(int32_t cp);
int eval_py_isupper(int32_t cp); /* Lu + Other_Uppercase */
int eval_py_islower(int32_t cp); /* Ll + Other_Lowercase */
/* Nd digit value 0..9, or -1 (Python float() and \d accept every Nd digit). */
int eval_py_digit(int32_t cp);

/* Python's str.lower() of s[0..n_bytes) into out (reset first). Full mapping for
 * U+0130 (-> "i\u0307"); Greek final sigma is not special-cased. */
int eval_py_lower(const char *s, size_t n_bytes, StrBuf *out, Err *err);

/* Python's str.strip()/rstrip() with no argument: the byte range left. */
void eval_py_strip(const char *s, size_t n_bytes, size_t *begin, size_t *end);

/* A compiled PCRE2 pattern (UTF + UCP). */
typedef struct EvalRe EvalRe;

/* flags: PCRE2 compile options added to PCRE2_UTF | PCRE2_UCP. NULL + err on error. */
EvalRe *eval_re_compile(const char *pattern, uint32_t flags, Err *err);
void eval_re_free(EvalRe *re);

/* Like re.search(pattern, s[start..n_bytes)) with the subject cut at n_bytes and
 * starting at start (lookbehind sees s[0..start)). Returns 1 and the byte span of
 * group `group` in *g_begin, *g_end ((size_t)-1 when unset), 0 when no match, -1 on error. */
int eval_re_search(const EvalRe *re, const char *s, size_t n_bytes, size_t start, int group,
                   size_t *g_begin, size_t *g_end, Err *err);

/* Like re.sub(pattern, repl, s) with every match replaced; repl uses PCRE2 syntax
 * ($1, $0) and an unset group substitutes "". out receives the result (reset first). */
int eval_re_sub(const EvalRe *re, const char *s, size_t n_bytes, const char *repl,
                StrBuf *out, Err *err);

#endif
