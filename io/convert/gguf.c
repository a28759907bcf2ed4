/* io/convert/gguf.c -- gguf_open: the header, the metadata and the tensor directory of a GGUF
 * file (ggml's docs/gguf.md), each read through one bounds-checked cursor over the
 * mapping, then the tensor extents checked against the data section. Counts are bounded
 * by what the remaining bytes could hold before anything is allocated, so a corrupt count
 * is a message, not an allocation of terabytes. The typed key reads are in gguf_kv.c. */
#include "io/convert/gguf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/quant.h"

#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct Cur {
    const unsigned char *base;
    size_t off, n;
    const char *path;
} Cur;

/* Fails unless k more bytes are there; what names the key or tensor being read. */
static int need(const Cur *c, uint64_t k, const char *what, Err *err) {
    if (k > c->n - c->off)
        return err_set(err, "%s: truncated: %s needs %llu bytes at offset %zu, the file has "
                       "%zu", c->path, what, (unsigned long long)k, c->off, c->n);
    return 0;
}

static int rd_u32(Cur *c, uint32_t *v, const char *what, Err *err) {
    if (need(c, 4, what, err) != 0)
        return -1;
    memcpy(v, c->base + c->off, 4);
    c->off += 4;
    return 0;
}

static int rd_u64(Cur *c, uint64_t *v, const char *what, Err *err) {
    if (need(c, 8, what, err) != 0)
        return -1;
    memcpy(v, c->base + c->off, 8);
    c->off += 8;
    return 0;
}

static int rd_str(Cur *c, GgufStr *s, const char *what, Err *err) {
    uint64_t n;
    if (rd_u64(c, &n, what, err) != 0 || need(c, n, what, err) != 0)
        return -1;
    s->s = (const char *)(c->base + c->off);
    s->n = n;
    c->off += (size_t)n;
    return 0;
}

size_t gguf_scalar_bytes(uint32_t type) {
    switch (type) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* The elements of an array value: scalars are skipped over, strings indexed. */
static int read_array(Gguf *g, Cur *c, GgufKv *kv, const char *what, Err *err) {
    uint32_t et;
    uint64_t count;
    if (rd_u32(c, &et, what, err) != 0 || rd_u64(c, &count, what, err) != 0)
        return -1;
    if (et == GGUF_ARRAY)
        return err_set(err, "%s: %s: arrays of arrays are not supported", g->path, what);
    const size_t es = et == GGUF_STRING ? 8 : gguf_scalar_bytes(et);
    if (es == 0)
        return err_set(err, "%s: %s: unknown array element type %u", g->path, what, et);
    if (count > (c->n - c->off) / es)
        return err_set(err, "%s: %s: %llu elements of %s cannot fit in the %zu bytes left",
                       g->path, what, (unsigned long long)count, gguf_type_name(et),
                       c->n - c->off);
    kv->arr = (GgufArr){.elem_type = (GgufType)et, .count = count, .data = c->base + c->off};
    if (et != GGUF_STRING) {
        c->off += (size_t)(count * es);
        return 0;
    }
    GgufStr *strs = malloc((count ? count : 1) * sizeof *strs);
    if (strs == NULL)
        return err_set(err, "%s: %s: out of memory for %llu strings", g->path, what,
                       (unsigned long long)count);
    kv->owned_strs = strs;
    kv->arr.strs = strs;
    for (uint64_t i = 0; i < count; i++)
        if (rd_str(c, &strs[i], what, err) != 0)
            return err_prefix(err, "element %llu: ", (unsigned long long)i);
    return 0;
}

static int read_kv(Gguf *g, Cur *c, int64_t i, Err *err) {
    GgufKv *kv = &g->kv[i];
    char what[160];
    snprintf(what, sizeof what, "the key of metadata entry %lld", (long long)i);
    uint32_t type;
    if (rd_str(c, &kv->key, what, err) != 0)
        return -1;
    snprintf(what, sizeof what, "key \"%.*s\"", kv->key.n > 100 ? 100 : (int)kv->key.n,
             kv->key.s);
    if (rd_u32(c, &type, what, err) != 0)
        return -1;
    kv->type = (GgufType)type;
    if (type == GGUF_STRING)
        return rd_str(c, &kv->str, what, err);
    if (type == GGUF_ARRAY)
        return read_array(g, c, kv, what, err);
    const size_t sb = gguf_scalar_bytes(type);
    if (sb == 0)
        return err_set(err, "%s: %s: unknown value type %u", g->path, what, type);
    if (need(c, sb, what, err) != 0)
        return -1;
    kv->val = c->base + c->off;
    c->off += sb;
    return 0;
}

static int read_tensor_info(Gguf *g, Cur *c, int64_t i, uint64_t *offset, Err *err) {
    GgufTensor *t = &g->tensors[i];
    char what[160];
    GgufStr name;
    snprintf(what, sizeof what, "the name of tensor %lld", (long long)i);
    if (rd_str(c, &name, what, err) != 0)
        return -1;
    if (name.n == 0 || name.n >= sizeof t->name || memchr(name.s, '\0', name.n) != NULL)
        return err_set(err, "%s: tensor %lld: name of %llu bytes, expected 1 to %zu bytes "
                       "without NUL", g->path, (long long)i, (unsigned long long)name.n,
                       sizeof t->name - 1);
    memcpy(t->name, name.s, name.n);
    t->name[name.n] = '\0';
    snprintf(what, sizeof what, "tensor \"%s\"", t->name);
    uint32_t n_dims, type;
    if (rd_u32(c, &n_dims, what, err) != 0)
        return -1;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return err_set(err, "%s: %s: %u dimensions, expected 1 to %d", g->path, what, n_dims,
                       GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    t->n_elems = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        if (rd_u64(c, &ne, what, err) != 0)
            return -1;
        if (ne < 1 || ne > (uint64_t)INT64_MAX / (uint64_t)t->n_elems)
            return err_set(err, "%s: %s: dimension %u is %llu, expected a positive size whose "
                           "product with the others fits in 64 bits", g->path, what, d,
                           (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        t->n_elems *= (int64_t)ne;
    }
    if (rd_u32(c, &type, what, err) != 0 || rd_u64(c, offset, what, err) != 0)
        return -1;
    t->type = type;
    if (!quant_supported(type))
        return err_set(err, "%s: %s: tensor type %s (id %u) is not supported (supported: %s)",
                       g->path, what, quant_type_name(type) ? quant_type_name(type) : "unknown",
                       type, quant_supported_list());
    if (t->ne[0] % quant_block_elems(type) != 0)
        return err_set(err, "%s: %s: rows of %lld elements are not a multiple of the %s block "
                       "(%lld)", g->path, what, (long long)t->ne[0], quant_type_name(type),
                       (long long)quant_block_elems(type));
    const int64_t nb = quant_bytes(type, t->n_elems);
    if (nb < 0)
        return err_set(err, "%s: %s: size overflows", g->path, what);
    t->n_bytes = (size_t)nb;
    return 0;
}

static int cmp_str(const GgufStr *a, const GgufStr *b) {
    const uint64_t n = a->n < b->n ? a->n : b->n;
    const int r = memcmp(a->s, b->s, (size_t)n);
    return r != 0 ? r : (a->n > b->n) - (a->n < b->n);
}

static int cmp_kv(const void *a, const void *b) {
    return cmp_str(&((const GgufKv *)a)->key, &((const GgufKv *)b)->key);
}

/* Duplicate keys make "the" value of a key ambiguous: refused. Sorts g->kv. */
static int check_unique_keys(Gguf *g, Err *err) {
    qsort(g->kv, (size_t)g->n_kv, sizeof *g->kv, cmp_kv);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (cmp_str(&g->kv[i - 1].key, &g->kv[i].key) == 0)
            return err_set(err, "%s: key \"%.*s\" appears more than once", g->path,
                           (int)(g->kv[i].key.n > 100 ? 100 : g->kv[i].key.n), g->kv[i].key.s);
    return 0;
}

static int read_alignment(Gguf *g, Err *err) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const GgufKv *kv = gguf_kv_find(g, "general.alignment");
    if (kv == NULL)
        return 0;
    uint32_t a;
    if (kv->type != GGUF_UINT32)
        return err_set(err, "%s: key \"general.alignment\": type %s, expected UINT32",
                       g->path, gguf_type_name(kv->type));
    memcpy(&a, kv->val, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return err_set(err, "%s: key \"general.alignment\": %u, expected a power of two",
                       g->path, a);
    g->alignment = a;
    return 0;
}

typedef struct Extent {
    uint64_t off, bytes;
    int64_t idx;
} Extent;

static int cmp_extent(const void *a, const void *b) {
    const Extent *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

/* Every tensor aligned, inside the data section, overlapping no other, named once. */
static int check_extents(Gguf *g, size_t data_off, const uint64_t *offsets, Err *err) {
    const uint64_t data_bytes = g->mf.n_bytes > data_off ? g->mf.n_bytes - data_off : 0;
    Extent *ex = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *ex);
    if (ex == NULL)
        return err_set(err, "%s: out of memory", g->path);
    int rc = 0;
    for (int64_t i = 0; i < g->n_tensors && rc == 0; i++) {
        GgufTensor *t = &g->tensors[i];
        if (offsets[i] % g->alignment != 0)
            rc = err_set(err, "%s: tensor \"%s\": offset %llu is not a multiple of the "
                         "alignment %llu", g->path, t->name, (unsigned long long)offsets[i],
                         (unsigned long long)g->alignment);
        else if (offsets[i] > data_bytes || t->n_bytes > data_bytes - offsets[i])
            rc = err_set(err, "%s: tensor \"%s\": %zu bytes at data offset %llu run past the "
                         "end of the file (%llu data bytes; truncated?)", g->path, t->name,
                         t->n_bytes, (unsigned long long)offsets[i],
                         (unsigned long long)data_bytes);
        if (rc != 0) /* no pointer past the mapping, even one never read */
            break;
        t->data = g->mf.data + data_off + offsets[i];
        ex[i] = (Extent){offsets[i], t->n_bytes, i};
    }
    if (rc == 0)
        qsort(ex, (size_t)g->n_tensors, sizeof *ex, cmp_extent);
    for (int64_t i = 1; i < g->n_tensors && rc == 0; i++)
        if (ex[i - 1].off + ex[i - 1].bytes > ex[i].off)
            rc = err_set(err, "%s: tensor \"%s\" overlaps tensor \"%s\"", g->path,
                         g->tensors[ex[i].idx].name, g->tensors[ex[i - 1].idx].name);
    free(ex);
    return rc;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const GgufTensor *const *)a)[0]->name, ((const GgufTensor *const *)b)[0]->name);
}

/* Two tensors of one name make "the" tensor ambiguous: refused (sorted, not quadratic). */
static int check_unique_tensors(const Gguf *g, Err *err) {
    const GgufTensor **by_name = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *by_name);
    if (by_name == NULL)
        return err_set(err, "%s: out of memory", g->path);
    for (int64_t i = 0; i < g->n_tensors; i++)
        by_name[i] = &g->tensors[i];
    qsort(by_name, (size_t)g->n_tensors, sizeof *by_name, cmp_tensor_name);
    int rc = 0;
    for (int64_t i = 1; i < g->n_tensors && rc == 0; i++)
        if (strcmp(by_name[i - 1]->name, by_name[i]->name) == 0)
            rc = err_set(err, "%s: tensor \"%s\" appears more than once", g->path,
                         by_name[i]->name);
    free(by_name);
    return rc;
}

static int read_header(Gguf *g, Cur *c, uint64_t *n_tensors, uint64_t *n_kv, Err *err) {
    if (memcmp(c->base, "GGUF", 4) != 0)
        return err_set(err, "%s: bad magic \"%.4s\": not a GGUF file", g->path,
                       (const char *)c->base);
    c->off = 4;
    if (rd_u32(c, &g->version, "the version", err) != 0)
        return -1;
    if (g->version != 2 && g->version != 3)
        return err_set(err, "%s: GGUF version %u is not supported (2 or 3; a big-endian file "
                       "reads as a huge version)", g->path, g->version);
    if (rd_u64(c, n_tensors, "the tensor count", err) != 0 ||
        rd_u64(c, n_kv, "the metadata count", err) != 0)
        return -1;
    /* a key/value takes at least 13 bytes, a tensor entry at least 32 */
    if (*n_kv > (c->n - c->off) / 13 || *n_tensors > (c->n - c->off) / 32)
        return err_set(err, "%s: header: %llu tensors and %llu metadata entries cannot fit in "
                       "the %zu bytes of the file", g->path, (unsigned long long)*n_tensors,
                       (unsigned long long)*n_kv, c->n);
    return 0;
}

static int parse(Gguf *g, Err *err) {
    Cur c = {.base = g->mf.data, .off = 0, .n = g->mf.n_bytes, .path = g->path};
    uint64_t n_tensors = 0, n_kv = 0; /* gcc -O3 cannot see read_header set both */
    if (read_header(g, &c, &n_tensors, &n_kv, err) != 0)
        return -1;
    g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    uint64_t *offsets = malloc((n_tensors ? n_tensors : 1) * sizeof *offsets);
    if (g->kv == NULL || g->tensors == NULL || offsets == NULL) {
        free(offsets);
        return err_set(err, "%s: out of memory for %llu tensors", g->path,
                       (unsigned long long)n_tensors);
    }
    int rc = 0;
    for (uint64_t i = 0; i < n_kv && rc == 0; i++, g->n_kv++)
        rc = read_kv(g, &c, (int64_t)i, err);
    if (rc == 0)
        rc = check_unique_keys(g, err);
    if (rc == 0)
        rc = read_alignment(g, err);
    for (uint64_t i = 0; i < n_tensors && rc == 0; i++, g->n_tensors++)
        rc = read_tensor_info(g, &c, (int64_t)i, &offsets[i], err);
    if (rc == 0)
        rc = check_unique_tensors(g, err);
    if (rc == 0) { /* alignment is set (and > 0) only once every key was read */
        const size_t data_off = (c.off + (g->alignment - 1)) / g->alignment * g->alignment;
        rc = check_extents(g, data_off, offsets, err);
    }
    free(offsets);
    return rc;
}

Gguf *gguf_open(const char *path, Err *err) {
    Gguf *g = calloc(1, sizeof *g);
    if (g == NULL || (g->path = strdup(path)) == NULL) {
        free(g);
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    if (mf_map(path, 24, "the 24-byte GGUF header", &g->mf, err) != 0 || parse(g, err) != 0) {
        gguf_close(g);
        return NULL;
    }
    return g;
}

void gguf_close(Gguf *g) {
    if (g == NULL)
        return;
    for (int64_t i = 0; g->kv != NULL && i < g->n_kv; i++)
        free(g->kv[i].owned_strs);
    free(g->kv);
    free(g->tensors);
    mf_unmap(&g->mf);
    free(g->path);
    free(g);
}
