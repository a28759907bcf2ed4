/* io/eval/eval_porter.c -- nltk.stem.porter.PorterStemmer (NLTK_EXTENSIONS) in C.
 * The word is edited in place in the caller's buffer; each step names the method of
 * nltk/stem/porter.py it mirrors. A word is (w, n): its first n bytes. */
#include "io/eval/eval_porter.h"

#include <string.h>

/* _is_consonant: 'y' is a consonant at the start or after a vowel-y alternation. */
static int is_cons(const char *w, size_t i) {
    switch (w[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u':
        return 0;
    case 'y':
        return i == 0 ? 1 : !is_cons(w, i - 1);
    default:
        return 1;
    }
}

/* _measure: the number of "vc" pairs in the consonant/vowel pattern of w[0..n). */
static int measure(const char *w, size_t n) {
    int m = 0;
    for (size_t i = 1; i < n; i++)
        if (!is_cons(w, i - 1) && is_cons(w, i))
            m++;
    return m;
}

static int contains_vowel(const char *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_cons(w, i))
            return 1;
    return 0;
}

static int ends_double_cons(const char *w, size_t n) {
    return n >= 2 && w[n - 1] == w[n - 2] && is_cons(w, n - 1);
}

/* _ends_cvc, with NLTK's extra two-letter vowel-consonant case. */
static int ends_cvc(const char *w, size_t n) {
    if (n >= 3 && is_cons(w, n - 3) && !is_cons(w, n - 2) && is_cons(w, n - 1) &&
        w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y')
        return 1;
    return n == 2 && !is_cons(w, 0) && is_cons(w, 1);
}

static int ends_with(const char *w, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(w + n - k, suffix, k) == 0;
}

typedef enum Cond { C_NONE, C_M0, C_M1, C_ION, C_LOGI } Cond;

typedef struct Rule {
    const char *suffix, *repl;
    Cond cond;
} Rule;

/* _apply_rule_list for plain suffix rules: the first rule whose suffix matches decides,
 * replacing it when its condition holds on the stem and keeping the word otherwise. */
static size_t apply_rules(char *w, size_t n, const Rule *rules, size_t n_rules) {
    for (size_t r = 0; r < n_rules; r++) {
        if (!ends_with(w, n, rules[r].suffix))
            continue;
        size_t stem = n - strlen(rules[r].suffix);
        int ok = 1;
        switch (rules[r].cond) {
        case C_NONE: break;
        case C_M0: ok = measure(w, stem) > 0; break;
        case C_M1: ok = measure(w, stem) > 1; break;
        case C_ION: ok = measure(w, stem) > 1 && stem > 0 && (w[stem - 1] == 's' || w[stem - 1] == 't'); break;
        case C_LOGI: ok = measure(w, n - 3) > 0; break; /* word[:-3], not the stem */
        }
        if (!ok)
            return n;
        size_t k = strlen(rules[r].repl);
        memcpy(w + stem, rules[r].repl, k);
        return stem + k;
    }
    return n;
}

#define N_RULES(a) (sizeof(a) / sizeof((a)[0]))

static size_t step1a(char *w, size_t n) {
    if (n == 4 && ends_with(w, n, "ies")) /* NLTK: "ties" -> "tie" */
        return n - 1;
    static const Rule rules[] = {
        {"sses", "ss", C_NONE}, {"ies", "i", C_NONE}, {"ss", "ss", C_NONE}, {"s", "", C_NONE}};
    return apply_rules(w, n, rules, N_RULES(rules));
}

static size_t step1b(char *w, size_t n) {
    if (ends_with(w, n, "ied")) { /* NLTK: "died" -> "die", "cried" -> "cri" */
        memcpy(w + n - 3, n == 4 ? "ie" : "i", n == 4 ? 2 : 1);
        return n == 4 ? n - 1 : n - 2;
    }
    if (ends_with(w, n, "eed"))
        return measure(w, n - 3) > 0 ? n - 1 : n;
    size_t stem;
    if (ends_with(w, n, "ed") && contains_vowel(w, n - 2))
        stem = n - 2;
    else if (ends_with(w, n, "ing") && contains_vowel(w, n - 3))
        stem = n - 3;
    else
        return n;
    static const Rule rules[] = {{"at", "ate", C_NONE}, {"bl", "ble", C_NONE}, {"iz", "ize", C_NONE}};
    for (size_t r = 0; r < N_RULES(rules); r++)
        if (ends_with(w, stem, rules[r].suffix))
            return apply_rules(w, stem, &rules[r], 1);
    if (ends_double_cons(w, stem)) { /* the "*d" rule: drop one of the pair */
        char last = w[stem - 1];
        return (last != 'l' && last != 's' && last != 'z') ? stem - 1 : stem;
    }
    if (measure(w, stem) == 1 && ends_cvc(w, stem)) {
        w[stem] = 'e';
        return stem + 1;
    }
    return stem;
}

static size_t step1c(char *w, size_t n) {
    /* NLTK condition: the letter before the y is a consonant, and there is one. */
    if (ends_with(w, n, "y") && n - 1 > 1 && is_cons(w, n - 2))
        w[n - 1] = 'i';
    return n;
}

static size_t step2(char *w, size_t n) {
    if (ends_with(w, n, "alli") && measure(w, n - 4) > 0) {
        memcpy(w + n - 4, "al", 2); /* NLTK: recurse on "...al" */
        return step2(w, n - 2);
    }
    static const Rule rules[] = {
        {"ational", "ate", C_M0}, {"tional", "tion", C_M0}, {"enci", "ence", C_M0},
        {"anci", "ance", C_M0},   {"izer", "ize", C_M0},    {"bli", "ble", C_M0},
        {"alli", "al", C_M0},     {"entli", "ent", C_M0},   {"eli", "e", C_M0},
        {"ousli", "ous", C_M0},   {"ization", "ize", C_M0}, {"ation", "ate", C_M0},
        {"ator", "ate", C_M0},    {"alism", "al", C_M0},    {"iveness", "ive", C_M0},
        {"fulness", "ful", C_M0}, {"ousness", "ous", C_M0}, {"aliti", "al", C_M0},
        {"iviti", "ive", C_M0},   {"biliti", "ble", C_M0},  {"fulli", "ful", C_M0},
        {"logi", "log", C_LOGI}};
    return apply_rules(w, n, rules, N_RULES(rules));
}

static size_t step3(char *w, size_t n) {
    static const Rule rules[] = {{"icate", "ic", C_M0}, {"ative", "", C_M0}, {"alize", "al", C_M0},
                                 {"iciti", "ic", C_M0}, {"ical", "ic", C_M0}, {"ful", "", C_M0},
                                 {"ness", "", C_M0}};
    return apply_rules(w, n, rules, N_RULES(rules));
}

static size_t step4(char *w, size_t n) {
    static const Rule rules[] = {
        {"al", "", C_M1},   {"ance", "", C_M1}, {"ence", "", C_M1}, {"er", "", C_M1},
        {"ic", "", C_M1},   {"able", "", C_M1}, {"ible", "", C_M1}, {"ant", "", C_M1},
        {"ement", "", C_M1}, {"ment", "", C_M1}, {"ent", "", C_M1}, {"ion", "", C_ION},
        {"ou", "", C_M1},   {"ism", "", C_M1},  {"ate", "", C_M1},  {"iti", "", C_M1},
        {"ous", "", C_M1},  {"ive", "", C_M1},  {"ize", "", C_M1}};
    return apply_rules(w, n, rules, N_RULES(rules));
}

static size_t step5(char *w, size_t n) {
    if (ends_with(w, n, "e")) { /* _step5a */
        int m = measure(w, n - 1);
        if (m > 1 || (m == 1 && !ends_cvc(w, n - 1)))
            n--;
    }
    if (ends_with(w, n, "ll") && measure(w, n - 1) > 1) /* _step5b: word[:-1] */
        n--;
    return n;
}

/* PorterStemmer.pool: NLTK's irregular forms. */
static const char *irregular(const char *w, size_t n) {
    static const char *const forms[][2] = {
        {"sky", "sky"},         {"skies", "sky"},     {"dying", "die"},
        {"lying", "lie"},       {"tying", "tie"},     {"news", "news"},
        {"innings", "inning"},  {"inning", "inning"}, {"outings", "outing"},
        {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
        {"howe", "howe"},       {"proceed", "proceed"}, {"exceed", "exceed"},
        {"succeed", "succeed"}};
    for (size_t i = 0; i < N_RULES(forms); i++)
        if (strlen(forms[i][0]) == n && memcmp(forms[i][0], w, n) == 0)
            return forms[i][1];
    return NULL;
}

size_t eval_porter_stem(const char *word, size_t n_bytes, char *out) {
    size_t n = n_bytes;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(word[i] >= 'A' && word[i] <= 'Z' ? word[i] + 32 : word[i]);
    out[n] = '\0';
    const char *irr = irregular(out, n);
    if (irr != NULL) {
        n = strlen(irr);
        memcpy(out, irr, n + 1);
        return n;
    }
    if (n > 2) {
        n = step1a(out, n);
        n = step1b(out, n);
        n = step1c(out, n);
        n = step2(out, n);
        n = step3(out, n);
        n = step4(out, n);
        n = step5(out, n);
    }
    out[n] = '\0';
    return n;
}
