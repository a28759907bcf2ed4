/* io/eval/eval_wordtok.c -- NLTKWordTokenizer.tokenize and nltk.word_tokenize in C.
 * The substitutions below are nltk/tokenize/destructive.py's, in its order, written
 * for PCRE2: Python's \1 becomes $1, and the `regex` module's \s and \w (nltk runs
 * these through nltk/redos.py, i.e. `regex`) are spelled out; the MacIntyre
 * contractions go through Python's re, whose \b is PCRE2's \b under UCP. */
#include "io/eval/eval_wordtok.h"

#include <stdlib.h>

typedef struct Sub {
    const char *pattern, *repl;
} Sub;

static const Sub SUBS[] = {
    /* STARTING_QUOTES */
    {"([\\x{ab}\\x{201c}\\x{2018}\\x{201e}]|[`]+)", " $1 "},
    {"^\"", "``"},
    {"(``)", " $1 "},
    {"([ \\(\\[{<])(\"|\\'{2})", "$1 `` "},
    {"(?i)(?<!" EVAL_RX_W ")(\\')(?!(?:re|ve|ll|m|t|s|d|n)(?!" EVAL_RX_W "))(?=" EVAL_RX_W ")",
     "$1 "},
    /* PUNCTUATION */
    {"([^\\.])(\\.)([\\]\\)}>\"\\'\\x{bb}\\x{201d}\\x{2019} ]*+)" EVAL_RX_S "*$", "$1 $2 $3 "},
    {"([:,])([^\\d])", " $1 $2"},
    {"([:,])$", " $1 "},
    {"\\.{2,}", " $0 "},
    {"[;@#$%&]", " $0 "},
    {"[\\x{2012}-\\x{2015}]", " $0 "},
    {"([^\\.])(\\.)([\\]\\)}>\"\\']*)" EVAL_RX_S "*$", "$1 $2$3 "},
    {"[?!]", " $0 "},
    {"([^'])' ", "$1 ' "},
    {"[*]", " $0 "},
    /* PARENS_BRACKETS, DOUBLE_DASHES */
    {"[\\]\\[\\(\\)\\{\\}\\<\\>]", " $0 "},
    {"--", " -- "},
    /* (text = " " + text + " " happens here: see PAD_AT) ENDING_QUOTES */
    {"([\\x{bb}\\x{201d}\\x{2019}])", " $1 "},
    {"''", " '' "},
    {"\"", " '' "},
    {EVAL_RX_S "+", " "},
    {"([^' ])('[sS]|'[mM]|'[dD]|') ", "$1 $2 "},
    {"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "$1 $2 "},
    /* CONTRACTIONS2, CONTRACTIONS3 (MacIntyreContractions, Python re) */
    {"(?i)\\b(can)(?#X)(not)\\b", " $1 $2 "},
    {"(?i)\\b(d)(?#X)('ye)\\b", " $1 $2 "},
    {"(?i)\\b(gim)(?#X)(me)\\b", " $1 $2 "},
    {"(?i)\\b(gon)(?#X)(na)\\b", " $1 $2 "},
    {"(?i)\\b(got)(?#X)(ta)\\b", " $1 $2 "},
    {"(?i)\\b(lem)(?#X)(me)\\b", " $1 $2 "},
    {"(?i)\\b(more)(?#X)('n)\\b", " $1 $2 "},
    {"(?i)\\b(wan)(?#X)(na)(?=" EVAL_RE_S ")", " $1 $2 "},
    {"(?i) ('t)(?#X)(is)\\b", " $1 $2 "},
    {"(?i) ('t)(?#X)(was)\\b", " $1 $2 "},
};
#define N_SUBS ((int)(sizeof SUBS / sizeof SUBS[0]))
#define PAD_AT 17 /* index of the first ENDING_QUOTES substitution */

struct EvalWordTok {
    EvalRe *re[N_SUBS];
};

EvalWordTok *eval_wordtok_open(Err *err) {
    EvalWordTok *wt = calloc(1, sizeof *wt);
    if (wt == NULL) {
        err_set(err, "out of memory opening the word tokenizer");
        return NULL;
    }
    for (int i = 0; i < N_SUBS; i++) {
        wt->re[i] = eval_re_compile(SUBS[i].pattern, 0, err);
        if (wt->re[i] == NULL) {
            eval_wordtok_close(wt);
            return NULL;
        }
    }
    return wt;
}

void eval_wordtok_close(EvalWordTok *wt) {
    if (wt == NULL)
        return;
    for (int i = 0; i < N_SUBS; i++)
        eval_re_free(wt->re[i]);
    free(wt);
}

/* str.split(): runs of Python whitespace separate tokens. */
static int split_py_whitespace(const char *s, size_t n, StrList *out, Err *err) {
    size_t i = 0;
    while (i < n) {
        size_t start = i, j = i;
        if (eval_py_isspace(eval_utf8_next(s, n, &j))) {
            i = j;
            continue;
        }
        while (i < n) {
            j = i;
            if (eval_py_isspace(eval_utf8_next(s, n, &j)))
                break;
            i = j;
        }
        if (strlist_push(out, s + start, i - start, err) != 0)
            return -1;
    }
    return 0;
}

int eval_wordtok_sentence(const EvalWordTok *wt, const char *s, size_t n_bytes,
                          StrList *out, Err *err) {
    StrBuf a = {0}, b = {0};
    int rc = -1;
    if (strbuf_append(&a, s, n_bytes, err) != 0)
        goto done;
    for (int i = 0; i < N_SUBS; i++) {
        if (i == PAD_AT) { /* text = " " + text + " " */
            b.n_bytes = 0;
            if (strbuf_append(&b, " ", 1, err) != 0 ||
                strbuf_append(&b, a.data, a.n_bytes, err) != 0 ||
                strbuf_append(&b, " ", 1, err) != 0)
                goto done;
            StrBuf t = a;
            a = b;
            b = t;
        }
        if (eval_re_sub(wt->re[i], a.data, a.n_bytes, SUBS[i].repl, &b, err) != 0)
            goto done;
        StrBuf t = a;
        a = b;
        b = t;
    }
    rc = split_py_whitespace(a.data, a.n_bytes, out, err);
done:
    strbuf_free(&a);
    strbuf_free(&b);
    return rc;
}

int eval_word_tokenize(const EvalWordTok *wt, const EvalPunkt *pk, const char *text,
                       size_t n_bytes, StrList *out, Err *err) {
    StrList sents = {0};
    int rc = eval_punkt_split(pk, text, n_bytes, &sents, err);
    for (int64_t i = 0; rc == 0 && i < sents.n_items; i++)
        rc = eval_wordtok_sentence(wt, sents.items[i], sents.n_item_bytes[i], out, err);
    strlist_free(&sents);
    return rc;
}
