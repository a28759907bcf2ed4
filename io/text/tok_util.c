/* io/text/tok_util.c -- the BPE merge table, the span and id lists and GPT-2's byte map
 * for the tokenizer (see io/text/tok_internal.h). No tokenizer logic here. */
#include "io/text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

/* The smallest table (as io/base/strmap.c: below it probing saves nothing). */
#define PAIR_MIN_CAP 64

static int64_t pow2_at_least(int64_t n) {
    int64_t c = PAIR_MIN_CAP;
    while (c < n)
        c <<= 1;
    return c;
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

int tok_spans_push(TokSpans *s, TokSpan span, Err *err) {
    return VEC_PUSH(s->v, s->n, s->cap, span, err);
}

void tok_spans_free(TokSpans *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

int tok_ids_push(TokIds *ids, int32_t id, Err *err) {
    return VEC_PUSH(ids->v, ids->n, ids->cap, id, err);
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
