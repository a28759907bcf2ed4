/* io/convert/gguf_kv.c -- typed reads of GGUF metadata (see gguf.h): lookup by key over the
 * sorted entries, integer widening with range checks, strings copied out NUL-terminated.
 * Every failure names the file and the key. */
#include "io/convert/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

const char *gguf_type_name(uint32_t type) {
    static const char *const names[] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32",
                                        "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY",
                                        "UINT64", "INT64", "FLOAT64"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

const GgufKv *gguf_kv_find(const Gguf *g, const char *key) {
    const GgufStr want = {key, strlen(key)};
    int64_t lo = 0, hi = g->n_kv - 1;
    while (lo <= hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        const GgufStr *k = &g->kv[mid].key;
        const uint64_t n = k->n < want.n ? k->n : want.n;
        int r = memcmp(k->s, want.s, (size_t)n);
        if (r == 0)
            r = (k->n > want.n) - (k->n < want.n);
        if (r == 0)
            return &g->kv[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const char *gguf_path(const Gguf *g) { return g->path; }
uint32_t gguf_version(const Gguf *g) { return g->version; }
int64_t gguf_n_tensors(const Gguf *g) { return g->n_tensors; }
const GgufTensor *gguf_tensor(const Gguf *g, int64_t i) { return &g->tensors[i]; }

const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}

int gguf_has(const Gguf *g, const char *key) { return gguf_kv_find(g, key) != NULL; }

static const GgufKv *lookup(const Gguf *g, const char *key, Err *err) {
    const GgufKv *kv = gguf_kv_find(g, key);
    if (kv == NULL)
        err_set(err, "%s: key \"%s\" is missing", g->path, key);
    return kv;
}

static int wrong_type(const Gguf *g, const char *key, const GgufKv *kv, const char *want,
                      Err *err) {
    return err_set(err, "%s: key \"%s\": type %s, expected %s", g->path, key,
                   gguf_type_name(kv->type), want);
}

/* An integer of type t at p as int64; 0 and *ok = 0 when it does not fit or t is not an
 * integer type. */
static int64_t int_at(uint32_t t, const unsigned char *p, int *ok) {
    *ok = 1;
    switch (t) {
    case GGUF_UINT8: return p[0];
    case GGUF_INT8: return (int8_t)p[0];
    case GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case GGUF_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
    case GGUF_INT64: { int64_t v; memcpy(&v, p, 8); return v; }
    case GGUF_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v <= (uint64_t)INT64_MAX)
            return (int64_t)v;
        break;
    }
    default: break;
    }
    *ok = 0;
    return 0;
}

int gguf_get_int(const Gguf *g, const char *key, int64_t *out, Err *err) {
    const GgufKv *kv = lookup(g, key, err);
    if (kv == NULL)
        return -1;
    int ok = 0;
    const int64_t v = kv->val != NULL ? int_at(kv->type, kv->val, &ok) : 0;
    if (!ok)
        return kv->type == GGUF_UINT64 ? err_set(err, "%s: key \"%s\": value above 2^63",
                                                 g->path, key)
                                       : wrong_type(g, key, kv, "an integer", err);
    *out = v;
    return 0;
}

int gguf_get_float(const Gguf *g, const char *key, double *out, Err *err) {
    const GgufKv *kv = lookup(g, key, err);
    if (kv == NULL)
        return -1;
    if (kv->type == GGUF_FLOAT32) {
        float f;
        memcpy(&f, kv->val, 4);
        *out = f;
    } else if (kv->type == GGUF_FLOAT64) {
        memcpy(out, kv->val, 8);
    } else {
        return wrong_type(g, key, kv, "FLOAT32 or FLOAT64", err);
    }
    return 0;
}

int gguf_get_bool(const Gguf *g, const char *key, int *out, Err *err) {
    const GgufKv *kv = lookup(g, key, err);
    if (kv == NULL)
        return -1;
    if (kv->type != GGUF_BOOL)
        return wrong_type(g, key, kv, "BOOL", err);
    *out = kv->val[0] != 0;
    return 0;
}

int gguf_get_str(const Gguf *g, const char *key, char **out, Err *err) {
    const GgufKv *kv = lookup(g, key, err);
    if (kv == NULL)
        return -1;
    if (kv->type != GGUF_STRING)
        return wrong_type(g, key, kv, "STRING", err);
    if (memchr(kv->str.s, '\0', (size_t)kv->str.n) != NULL)
        return err_set(err, "%s: key \"%s\": the string holds a NUL byte", g->path, key);
    char *s = malloc((size_t)kv->str.n + 1);
    if (s == NULL)
        return err_set(err, "%s: key \"%s\": out of memory", g->path, key);
    memcpy(s, kv->str.s, (size_t)kv->str.n);
    s[kv->str.n] = '\0';
    *out = s;
    return 0;
}

int gguf_get_arr(const Gguf *g, const char *key, GgufArr *out, Err *err) {
    const GgufKv *kv = lookup(g, key, err);
    if (kv == NULL)
        return -1;
    if (kv->type != GGUF_ARRAY)
        return wrong_type(g, key, kv, "ARRAY", err);
    *out = kv->arr;
    return 0;
}

int gguf_opt_int(const Gguf *g, const char *key, int64_t dflt, int64_t *out, Err *err) {
    if (!gguf_has(g, key)) {
        *out = dflt;
        return 0;
    }
    return gguf_get_int(g, key, out, err);
}

int gguf_opt_float(const Gguf *g, const char *key, double dflt, double *out, Err *err) {
    if (!gguf_has(g, key)) {
        *out = dflt;
        return 0;
    }
    return gguf_get_float(g, key, out, err);
}

int gguf_opt_bool(const Gguf *g, const char *key, int dflt, int *out, Err *err) {
    if (!gguf_has(g, key)) {
        *out = dflt;
        return 0;
    }
    return gguf_get_bool(g, key, out, err);
}

int64_t gguf_arr_int(const GgufArr *a, uint64_t i) {
    int ok;
    return int_at(a->elem_type, a->data + i * gguf_scalar_bytes(a->elem_type), &ok);
}

float gguf_arr_f32(const GgufArr *a, uint64_t i) {
    float f;
    memcpy(&f, a->data + i * 4, 4);
    return f;
}
