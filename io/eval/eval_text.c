/* io/eval/eval_text.c -- string helpers for `tlm eval` (see eval_text.h). */
#include "io/eval/eval_text.h"

#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

struct EvalRe {
    pcre2_code *code;
};

int32_t eval_utf8_next(const char *s, size_t n_bytes, size_t *i) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + *i,
                                          (utf8proc_ssize_t)(n_bytes - *i), &cp);
    if (n <= 0) {
        *i += 1;
        return 0xFFFD;
    }
    *i += (size_t)n;
    return cp;
}

size_t eval_utf8_prev(const char *s, size_t i) {
    size_t j = i - 1;
    while (j > 0 && i - j < 4 && ((unsigned char)s[j] & 0xC0) == 0x80)
        j--;
    return j;
}

int eval_py_isspace(int32_t cp) {
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20);
    /* str.isspace: bidirectional class WS, B or S, or category Zs. */
    if (utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS)
        return 1;
    int bidi = utf8proc_get_property(cp)->bidi_class;
    return bidi == UTF8PROC_BIDI_CLASS_WS || bidi == UTF8PROC_BIDI_CLASS_B ||
           bidi == UTF8PROC_BIDI_CLASS_S;
}

/* Python's isupper/islower are the Unicode Uppercase/Lowercase properties: category
 * Lu/Ll plus Other_Uppercase/Other_Lowercase (listed here, from Python 3.11's
 * unicodedata: ordinal indicators, modifier letters, Roman numerals, circled letters). */
static const int32_t OTHER_LOWER[][2] = {
    {0xaa, 0xaa},     {0xba, 0xba},     {0x2b0, 0x2b8},   {0x2c0, 0x2c1},   {0x2e0, 0x2e4},
    {0x345, 0x345},   {0x37a, 0x37a},   {0x1d2c, 0x1d6a}, {0x1d78, 0x1d78}, {0x1d9b, 0x1dbf},
    {0x2071, 0x2071}, {0x207f, 0x207f}, {0x2090, 0x209c}, {0x2170, 0x217f}, {0x24d0, 0x24e9},
    {0x2c7c, 0x2c7d}, {0xa69c, 0xa69d}, {0xa770, 0xa770}, {0xa7f8, 0xa7f9}, {0xab5c, 0xab5f},
    {0x10780, 0x10780}, {0x10783, 0x10785}, {0x10787, 0x107b0}, {0x107b2, 0x107ba}};
static const int32_t OTHER_UPPER[][2] = {{0x2160, 0x216f},   {0x24b6, 0x24cf},
                                         {0x1f130, 0x1f149}, {0x1f150, 0x1f169},
                                         {0x1f170, 0x1f189}};

static int in_ranges(int32_t cp, const int32_t (*r)[2], size_t n) {
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i][0] && cp <= r[i][1])
            return 1;
    return 0;
}

int eval_py_isupper(int32_t cp) {
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z';
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_LU ||
           in_ranges(cp, OTHER_UPPER, sizeof OTHER_UPPER / sizeof OTHER_UPPER[0]);
}

int eval_py_islower(int32_t cp) {
    if (cp < 0x80)
        return cp >= 'a' && cp <= 'z';
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_LL ||
           in_ranges(cp, OTHER_LOWER, sizeof OTHER_LOWER / sizeof OTHER_LOWER[0]);
}

int eval_py_digit(int32_t cp) {
    if (cp >= '0' && cp <= '9')
        return cp - '0';
    if (cp < 0x80 || utf8proc_category(cp) != UTF8PROC_CATEGORY_ND)
        return -1;
    /* Unicode lays Nd digits out in contiguous runs starting at zero. */
    int32_t first = cp;
    while (first > 0 && utf8proc_category(first - 1) == UTF8PROC_CATEGORY_ND)
        first--;
    return (int)((cp - first) % 10);
}

int eval_py_lower(const char *s, size_t n_bytes, StrBuf *out, Err *err) {
    out->n_bytes = 0;
    if (strbuf_append(out, "", 0, err) != 0)
        return -1;
    for (size_t i = 0; i < n_bytes;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            char lc = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
            if (strbuf_append(out, &lc, 1, err) != 0)
                return -1;
            continue;
        }
        int32_t cp = eval_utf8_next(s, n_bytes, &i);
        if (cp == 0x130) { /* SpecialCasing: U+0130 lowers to i + U+0307 */
            if (strbuf_append(out, "i\xcc\x87", 3, err) != 0)
                return -1;
            continue;
        }
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t n = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        if (strbuf_append(out, (const char *)enc, (size_t)n, err) != 0)
            return -1;
    }
    return 0;
}

void eval_py_strip(const char *s, size_t n_bytes, size_t *begin, size_t *end) {
    size_t b = 0, e = n_bytes;
    while (b < e) {
        size_t j = b;
        if (!eval_py_isspace(eval_utf8_next(s, e, &j)))
            break;
        b = j;
    }
    while (e > b) {
        size_t j = eval_utf8_prev(s, e), k = j;
        if (!eval_py_isspace(eval_utf8_next(s, e, &k)))
            break;
        e = j;
    }
    *begin = b;
    *end = e;
}

EvalRe *eval_re_compile(const char *pattern, uint32_t flags, Err *err) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP | flags, &code, &off, NULL);
    if (c == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        err_set(err, "regex /%s/ at offset %zu: %s", pattern, (size_t)off, (char *)msg);
        return NULL;
    }
    EvalRe *re = malloc(sizeof *re);
    if (re == NULL) {
        pcre2_code_free(c);
        err_set(err, "out of memory compiling /%s/", pattern);
        return NULL;
    }
    re->code = c;
    return re;
}

void eval_re_free(EvalRe *re) {
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    free(re);
}

int eval_re_search(const EvalRe *re, const char *s, size_t n_bytes, size_t start, int group,
                   size_t *g_begin, size_t *g_end, Err *err) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (md == NULL)
        return err_set(err, "out of memory for regex match data");
    /* NO_UTF_CHECK is not used: a prediction may hold invalid UTF-8, and PCRE2
     * then reports an error instead of misbehaving. */
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n_bytes, start, 0, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) {
        pcre2_match_data_free(md);
        return 0;
    }
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        pcre2_match_data_free(md);
        return err_set(err, "regex match failed: %s", (char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *g_begin = (size_t)-1;
    *g_end = (size_t)-1;
    if (group < rc && ov[2 * group] != PCRE2_UNSET) {
        *g_begin = ov[2 * group];
        *g_end = ov[2 * group + 1];
    }
    pcre2_match_data_free(md);
    return 1;
}

/* The first output size tried: room for every match to double plus a little; pcre2 says
 * the exact size when that is short, and the second try uses it. */
#define RE_SUB_FIRST_GUESS(n_bytes) (2 * (n_bytes) + 64)

int eval_re_sub(const EvalRe *re, const char *s, size_t n_bytes, const char *repl,
                StrBuf *out, Err *err) {
    uint32_t opts = PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
                    PCRE2_SUBSTITUTE_UNSET_EMPTY;
    size_t need = RE_SUB_FIRST_GUESS(n_bytes);
    for (int attempt = 0; attempt < 2; attempt++) {
        out->n_bytes = 0;
        if (strbuf_reserve(out, need, err) != 0)
            return -1;
        PCRE2_SIZE n_out = out->cap;
        int rc = pcre2_substitute(re->code, (PCRE2_SPTR)s, n_bytes, 0, opts, NULL, NULL,
                                  (PCRE2_SPTR)repl, PCRE2_ZERO_TERMINATED,
                                  (PCRE2_UCHAR *)out->data, &n_out);
        if (rc >= 0) {
            out->n_bytes = n_out;
            out->data[n_out] = '\0';
            return 0;
        }
        if (rc != PCRE2_ERROR_NOMEMORY) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return err_set(err, "regex substitution failed: %s", (char *)msg);
        }
        need = n_out; /* OVERFLOW_LENGTH: n_out now holds the size needed (with NUL) */
    }
    return err_set(err, "regex substitution did not fit after resizing");
}
