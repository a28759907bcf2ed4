/* io/text/tok_util.c -- hash maps, growable buffers and UTF-8 helpers for the tokenizer
 * (see io/text/tok_internal.h). No tokenizer logic here. */
#include "io/text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a: short keys, cheap, good enough */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int64_t pow2_at_least(int64_t n) {
    int64_t c = 64;
    while (c < n)
        c <<= 1;
    return c;
}

int tok_map_init(TokMap *m, int64_t expected, Err *err) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->keys = calloc((size_t)m->cap, sizeof *m->keys);
    m->key_len = calloc((size_t)m->cap, sizeof *m->key_len);
    m->vals = calloc((size_t)m->cap, sizeof *m->vals);
    if (m->keys == NULL || m->key_len == NULL || m->vals == NULL) {
        tok_map_free(m);
        return err_set(err, "out of memory (hash map of %lld keys)", (long long)expected);
    }
    return 0;
}

void tok_map_free(TokMap *m) {
    if (m == NULL)
        return;
    if (m->keys != NULL)
        for (int64_t i = 0; i < m->cap; i++)
            free(m->keys[i]);
    free(m->keys);
    free(m->key_len);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static int64_t map_slot(const TokMap *m, const char *key, size_t n) {
    int64_t i = (int64_t)(hash_bytes(key, n) & (uint64_t)(m->cap - 1));
    while (m->keys[i] != NULL &&
           !(m->key_len[i] == n && memcmp(m->keys[i], key, n) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_grow(TokMap *m, Err *err) {
    TokMap bigger;
    if (tok_map_init(&bigger, m->cap, err) != 0)
        return -1;
    for (int64_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == NULL)
            continue;
        int64_t j = map_slot(&bigger, m->keys[i], m->key_len[i]);
        bigger.keys[j] = m->keys[i]; /* moves ownership of the key */
        bigger.key_len[j] = m->key_len[i];
        bigger.vals[j] = m->vals[i];
        m->keys[i] = NULL;
    }
    bigger.count = m->count;
    tok_map_free(m);
    *m = bigger;
    return 0;
}

int tok_map_put(TokMap *m, const char *key, size_t key_bytes, int32_t val, Err *err) {
    if ((m->count + 1) * 2 > m->cap && map_grow(m, err) != 0)
        return -1;
    int64_t i = map_slot(m, key, key_bytes);
    if (m->keys[i] == NULL) {
        m->keys[i] = malloc(key_bytes + 1);
        if (m->keys[i] == NULL)
            return err_set(err, "out of memory (hash map key)");
        memcpy(m->keys[i], key, key_bytes);
        m->keys[i][key_bytes] = '\0';
        m->key_len[i] = (uint32_t)key_bytes;
        m->count++;
    }
    m->vals[i] = val;
    return 0;
}

int32_t tok_map_get(const TokMap *m, const char *key, size_t key_bytes) {
    if (m->cap == 0)
        return -1;
    int64_t i = map_slot(m, key, key_bytes);
    return m->keys[i] == NULL ? -1 : m->vals[i];
}

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

int tok_pair_init(TokPairMap *m, int64_t expected, Err *err) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slots = malloc((size_t)m->cap * sizeof *m->slots);
    if (m->slots == NULL)
        return err_set(err, "out of memory (merge table of %lld pairs)", (long long)expected);
    for (int64_t i = 0; i < m->cap; i++)
        m->slots[i].key = UINT64_MAX;
    return 0;
}

void tok_pair_free(TokPairMap *m) {
    if (m == NULL)
        return;
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int64_t pair_slot(const TokPairMap *m, uint64_t k) {
    int64_t i = (int64_t)(mix64(k) & (uint64_t)(m->cap - 1));
    while (m->slots[i].key != UINT64_MAX && m->slots[i].key != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

int tok_pair_put(TokPairMap *m, int32_t a, int32_t b, int32_t rank, int32_t merged, Err *err) {
    if ((m->count + 1) * 2 > m->cap) {
        TokPairMap bigger;
        if (tok_pair_init(&bigger, m->cap, err) != 0)
            return -1;
        for (int64_t i = 0; i < m->cap; i++)
            if (m->slots[i].key != UINT64_MAX)
                bigger.slots[pair_slot(&bigger, m->slots[i].key)] = m->slots[i];
        bigger.count = m->count;
        tok_pair_free(m);
        *m = bigger;
    }
    uint64_t k = pair_key(a, b);
    int64_t i = pair_slot(m, k);
    if (m->slots[i].key == UINT64_MAX)
        m->count++;
    m->slots[i] = (TokPairSlot){k, rank, merged};
    return 0;
}

int tok_pair_get(const TokPairMap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged) {
    if (m->cap == 0)
        return 0;
    const TokPairSlot *s = &m->slots[pair_slot(m, pair_key(a, b))];
    if (s->key == UINT64_MAX)
        return 0;
    *rank = s->rank;
    *merged = s->merged;
    return 1;
}

int tok_buf_reserve(TokBuf *b, size_t extra, Err *err) {
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return err_set(err, "out of memory (%zu bytes of text)", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int tok_buf_add(TokBuf *b, const char *s, size_t n, Err *err) {
    if (tok_buf_reserve(b, n, err) != 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void tok_buf_free(TokBuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

int tok_spans_push(TokSpans *s, TokSpan span, Err *err) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 16;
        TokSpan *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (v == NULL)
            return err_set(err, "out of memory (%lld pieces)", (long long)cap);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = span;
    return 0;
}

void tok_spans_free(TokSpans *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

int tok_ids_push(TokIds *ids, int32_t id, Err *err) {
    if (ids->n == ids->cap) {
        int64_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, (size_t)cap * sizeof *v);
        if (v == NULL)
            return err_set(err, "out of memory (%lld ids)", (long long)cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}

int tok_utf8_len(unsigned char c) {
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        return 2;
    if ((c & 0xF0) == 0xE0)
        return 3;
    if ((c & 0xF8) == 0xF0)
        return 4;
    return 1;
}

int tok_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len = tok_utf8_len(c);
        if (len == 1 || i + (size_t)len > n || c < 0xC2 || c > 0xF4)
            return 0;
        for (int k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        if (c == 0xE0 && p[i + 1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[i + 1] >= 0xA0)
            return 0; /* surrogate */
        if (c == 0xF0 && p[i + 1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && p[i + 1] >= 0x90)
            return 0; /* > U+10FFFF */
        i += (size_t)len;
    }
    return 1;
}

int32_t tok_utf8_decode(const char *s, size_t n, int *n_bytes) {
    const unsigned char *p = (const unsigned char *)s;
    int len = tok_utf8_len(p[0]);
    if ((size_t)len > n)
        len = 1;
    *n_bytes = len;
    switch (len) {
    case 1: return p[0];
    case 2: return ((p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3: return ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
        return ((p[0] & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) |
               (p[3] & 0x3F);
    }
}

int tok_utf8_encode(int32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2 bytes_to_unicode: printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to
 * themselves; the other 68 map, in byte order, to U+0100, U+0101, ... */
static int byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

int32_t tok_byte_to_cp(unsigned char b) {
    if (byte_is_printable(b))
        return b;
    if (b <= 0x20)
        return 256 + b;               /* 0x00..0x20 -> U+0100..U+0120 */
    if (b >= 0x7F && b <= 0xA0)
        return 256 + 33 + (b - 0x7F); /* 0x7F..0xA0 -> U+0121..U+0142 */
    return 256 + 67;                  /* 0xAD -> U+0143 */
}

int tok_cp_to_byte(int32_t cp) {
    if (cp >= 0 && cp < 256)
        return byte_is_printable((unsigned)cp) ? cp : -1;
    if (cp >= 256 && cp <= 256 + 32)
        return cp - 256;
    if (cp >= 256 + 33 && cp <= 256 + 66)
        return cp - 256 - 33 + 0x7F;
    return cp == 256 + 67 ? 0xAD : -1;
}
