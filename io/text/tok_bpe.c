/* io/text/tok_bpe.c -- the BPE model on one pre-token: initial symbols (one per character,
 * byte fallback or unk for characters outside the vocabulary), then merges applied
 * lowest rank first (leftmost on ties) with a binary heap over a linked list of symbols,
 * exactly as HF tokenizers' Word::merge_all does, so stale heap entries are skipped the
 * same way. No caching: the heap makes long words (Metaspace split=false gives one word
 * per text) O(n log n). */
#include "io/text/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "io/base/vec.h"

typedef struct Sym {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
    int32_t alive;
} Sym;

typedef struct HeapItem {
    int32_t rank, pos, merged;
} HeapItem;

typedef struct Heap {
    HeapItem *v;
    int64_t n, cap;
} Heap;

static int item_less(HeapItem a, HeapItem b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

/* A 4-ary min-heap: half the depth of a binary one, so fewer cache misses when a long
 * word (Metaspace split=false: a whole paragraph) queues millions of pairs. */
static int heap_push(Heap *h, HeapItem it, Err *err) {
    if (VEC_RESERVE(h->v, h->cap, h->n + 1, err) != 0)
        return -1;
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 4;
        if (!item_less(it, h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = it;
    return 0;
}

static HeapItem heap_pop(Heap *h) {
    HeapItem top = h->v[0], last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 4 * i + 1, best = c;
        if (c >= h->n)
            break;
        for (int64_t k = c + 1; k < c + 4 && k < h->n; k++)
            if (item_less(h->v[k], h->v[best]))
                best = k;
        if (!item_less(h->v[best], last))
            break;
        h->v[i] = h->v[best];
        i = best;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

/* Initial symbols as HF's BPE::merge_word builds them: a character in the vocabulary is
 * a symbol; otherwise its bytes as <0xNN> tokens (byte_fallback, all or nothing);
 * otherwise unk, consecutive unks fused when fuse_unk. HF flushes a pending unk only
 * before the next in-vocabulary character or at the end; kept as is. */
static int initial_symbols(const Tokenizer *tok, const char *w, size_t n, TokIds *syms,
                           Err *err) {
    int32_t pending_unk = -1;
    size_t i = 0;
    while (i < n) {
        int len = utf8_len((unsigned char)w[i]);
        if (i + (size_t)len > n)
            len = (int)(n - i);
        int32_t id = strmap_get(&tok->vocab, w + i, (size_t)len);
        if (id >= 0) {
            if (pending_unk >= 0 && tok_ids_push(syms, pending_unk, err) != 0)
                return -1;
            pending_unk = -1;
            if (tok_ids_push(syms, id, err) != 0)
                return -1;
            i += (size_t)len;
            continue;
        }
        int have_bytes = tok->byte_fallback;
        for (int k = 0; k < len && have_bytes; k++)
            have_bytes = tok->byte_id[(unsigned char)w[i + k]] >= 0;
        if (have_bytes) {
            for (int k = 0; k < len; k++)
                if (tok_ids_push(syms, tok->byte_id[(unsigned char)w[i + k]], err) != 0)
                    return -1;
        } else if (tok->unk_id >= 0) {
            if (pending_unk >= 0 && !tok->fuse_unk &&
                tok_ids_push(syms, pending_unk, err) != 0)
                return -1;
            pending_unk = tok->unk_id;
        }
        i += (size_t)len;
    }
    if (pending_unk >= 0 && tok_ids_push(syms, pending_unk, err) != 0)
        return -1;
    return 0;
}

static int merge_all(const Tokenizer *tok, Sym *s, int64_t n, Heap *h, Err *err) {
    int32_t rank, merged;
    for (int64_t i = 0; i + 1 < n; i++)
        if (tok_pair_get(&tok->merges, s[i].id, s[i + 1].id, &rank, &merged) &&
            heap_push(h, (HeapItem){rank, (int32_t)i, merged}, err) != 0)
            return -1;
    while (h->n > 0) {
        HeapItem top = heap_pop(h);
        Sym *cur = &s[top.pos];
        if (!cur->alive || cur->next < 0)
            continue;
        Sym *right = &s[cur->next];
        /* Stale entry: the pair at pos changed since it was queued. */
        if (!tok_pair_get(&tok->merges, cur->id, right->id, &rank, &merged) ||
            merged != top.merged)
            continue;
        cur->id = top.merged;
        right->alive = 0;
        cur->next = right->next;
        if (cur->next >= 0)
            s[cur->next].prev = top.pos;
        if (cur->prev >= 0 &&
            tok_pair_get(&tok->merges, s[cur->prev].id, cur->id, &rank, &merged) &&
            heap_push(h, (HeapItem){rank, cur->prev, merged}, err) != 0)
            return -1;
        if (cur->next >= 0 &&
            tok_pair_get(&tok->merges, cur->id, s[cur->next].id, &rank, &merged) &&
            heap_push(h, (HeapItem){rank, top.pos, merged}, err) != 0)
            return -1;
    }
    return 0;
}

int tok_bpe_word(const Tokenizer *tok, const char *word, size_t n, TokIds *out, Err *err) {
    if (n == 0)
        return 0;
    if (tok->ignore_merges) {
        int32_t id = strmap_get(&tok->vocab, word, n);
        if (id >= 0)
            return tok_ids_push(out, id, err);
    }
    TokIds syms = {0};
    Heap heap = {0};
    Sym *s = NULL;
    int rc = -1;
    if (initial_symbols(tok, word, n, &syms, err) != 0)
        goto done;
    if (syms.n > INT32_MAX / 2) {
        err_set(err, "pre-token of %zu bytes is too long", n);
        goto done;
    }
    s = malloc((size_t)(syms.n ? syms.n : 1) * sizeof *s);
    if (s == NULL) {
        err_set(err, "out of memory (%lld BPE symbols)", (long long)syms.n);
        goto done;
    }
    for (int64_t i = 0; i < syms.n; i++)
        s[i] = (Sym){syms.v[i], (int32_t)i - 1, i + 1 < syms.n ? (int32_t)i + 1 : -1, 1};
    if (merge_all(tok, s, syms.n, &heap, err) != 0)
        goto done;
    for (int64_t i = 0; i < syms.n; i++)
        if (s[i].alive && tok_ids_push(out, s[i].id, err) != 0)
            goto done;
    rc = 0;
done:
    free(s);
    free(heap.v);
    free(syms.v);
    return rc;
}
