/* io/base/strmap.c -- the string -> int32 hash map (see io/base/strmap.h). */
#include "io/base/strmap.h"

#include <stdlib.h>
#include <string.h>

/* The smallest table: below it probing saves nothing and growth would be frequent. */
#define STRMAP_MIN_CAP 64

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a: short keys, cheap, good enough */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int64_t pow2_at_least(int64_t n) {
    int64_t c = STRMAP_MIN_CAP;
    while (c < n)
        c <<= 1;
    return c;
}

int strmap_init(StrMap *m, int64_t expected, Err *err) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->keys = calloc((size_t)m->cap, sizeof *m->keys);
    m->key_len = calloc((size_t)m->cap, sizeof *m->key_len);
    m->vals = calloc((size_t)m->cap, sizeof *m->vals);
    if (m->keys == NULL || m->key_len == NULL || m->vals == NULL) {
        strmap_free(m);
        return err_set(err, "out of memory (hash map of %lld keys)", (long long)expected);
    }
    return 0;
}

void strmap_free(StrMap *m) {
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

static int64_t map_slot(const StrMap *m, const char *key, size_t n) {
    int64_t i = (int64_t)(hash_bytes(key, n) & (uint64_t)(m->cap - 1));
    while (m->keys[i] != NULL &&
           !(m->key_len[i] == n && memcmp(m->keys[i], key, n) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_grow(StrMap *m, Err *err) {
    StrMap bigger;
    if (strmap_init(&bigger, m->cap, err) != 0)
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
    strmap_free(m);
    *m = bigger;
    return 0;
}

int strmap_put(StrMap *m, const char *key, size_t key_bytes, int32_t val, Err *err) {
    if (key_bytes > UINT32_MAX)
        return err_set(err, "hash map key of %zu bytes: too long", key_bytes);
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

int32_t strmap_get(const StrMap *m, const char *key, size_t key_bytes) {
    if (m->cap == 0)
        return -1;
    int64_t i = map_slot(m, key, key_bytes);
    return m->keys[i] == NULL ? -1 : m->vals[i];
}
