/* io/model/safetensors.c -- read-only view of one .safetensors file.
 * Maps the file, parses the JSON header (jansson) and validates every entry against the
 * data section before anything reads a byte of it: a file that opens is safe to index.
 * No dtype conversion and no device copies here (worker/model/model.c does those). */
#include "io/model/safetensors.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/mapped_file.h"

/* The reference reader's limit; a larger header means a corrupt length field. */
#define ST_MAX_HEADER_BYTES ((uint64_t)100 * 1000 * 1000)

typedef struct StEntry {
    char *name;
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t begin, end; /* byte offsets into the data section */
} StEntry;

struct SafeTensors {
    char *path;
    const unsigned char *map; /* whole file, PROT_READ */
    size_t map_bytes;
    const unsigned char *data; /* data section: map + 8 + header length */
    size_t data_bytes;
    StEntry *entries; /* header order */
    int n_entries;
    int *by_name; /* entry indices sorted by name, for bsearch */
};

static int fmt_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ",%" PRId64 : "%" PRId64, shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
    return 0;
}

/* Reads shape and dtype of one header entry; the caller checks offsets. */
static int parse_entry(const char *path, const char *name, json_t *v, StEntry *e, Err *err) {
    if (!json_is_object(v))
        return err_set(err, "%s: tensor \"%s\": header entry is not an object", path, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return err_set(err, "%s: tensor \"%s\": missing or non-string \"dtype\"", path, name);
    if (dtype_parse(json_string_value(dt), &e->dtype) != 0)
        return err_set(err, "%s: tensor \"%s\": dtype \"%s\" is not supported (tlm reads F32, "
                       "F16, BF16, I32, I64)", path, name, json_string_value(dt));
    if (!json_is_array(sh))
        return err_set(err, "%s: tensor \"%s\": missing or non-array \"shape\"", path, name);
    if (json_array_size(sh) > ST_MAX_DIMS)
        return err_set(err, "%s: tensor \"%s\": %zu dimensions (at most %d)", path, name,
                       json_array_size(sh), ST_MAX_DIMS);
    e->ndim = (int)json_array_size(sh);
    size_t n_elems = 1;
    for (int i = 0; i < e->ndim; i++) {
        json_t *d = json_array_get(sh, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return err_set(err, "%s: tensor \"%s\": shape[%d] is not a non-negative integer",
                           path, name, i);
        e->shape[i] = (int64_t)json_integer_value(d);
        if (__builtin_mul_overflow(n_elems, (size_t)e->shape[i], &n_elems))
            return err_set(err, "%s: tensor \"%s\": shape overflows", path, name);
    }
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)) ||
        json_integer_value(json_array_get(off, 0)) < 0 ||
        json_integer_value(json_array_get(off, 1)) < 0)
        return err_set(err, "%s: tensor \"%s\": \"data_offsets\" must be [begin, end], two "
                       "non-negative integers", path, name);
    e->begin = (size_t)json_integer_value(json_array_get(off, 0));
    e->end = (size_t)json_integer_value(json_array_get(off, 1));
    size_t want;
    if (__builtin_mul_overflow(n_elems, dtype_bytes(e->dtype), &want))
        return err_set(err, "%s: tensor \"%s\": shape overflows", path, name);
    if (e->end < e->begin)
        return err_set(err, "%s: tensor \"%s\": data_offsets [%zu,%zu] end before begin", path,
                       name, e->begin, e->end);
    if (e->end - e->begin != want) {
        char s[160];
        fmt_shape(s, sizeof s, e->ndim, e->shape);
        return err_set(err, "%s: tensor \"%s\": shape %s of %s needs %zu bytes but data_offsets "
                       "[%zu,%zu] hold %zu", path, name, s, dtype_name(e->dtype), want,
                       e->begin, e->end, e->end - e->begin);
    }
    return 0;
}

/* qsort/bsearch comparators need the entry table; sort (index, name) pairs instead. */
typedef struct NameIdx { const char *name; int idx; } NameIdx;
static int cmp_name_idx(const void *a, const void *b) {
    return strcmp(((const NameIdx *)a)->name, ((const NameIdx *)b)->name);
}
static int cmp_begin(const void *a, const void *b) {
    const StEntry *x = *(const StEntry *const *)a, *y = *(const StEntry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Offsets within the data section, and no two tensors sharing bytes. */
static int check_layout(SafeTensors *st, Err *err) {
    for (int i = 0; i < st->n_entries; i++) {
        const StEntry *e = &st->entries[i];
        if (e->end > st->data_bytes)
            return err_set(err, "%s: tensor \"%s\": data_offsets [%zu,%zu] beyond the %zu-byte "
                           "data section (file truncated?)", st->path, e->name, e->begin,
                           e->end, st->data_bytes);
    }
    int rc = 0;
    const StEntry **order = malloc((size_t)st->n_entries * sizeof *order + 1);
    if (order == NULL)
        return err_set(err, "%s: out of memory", st->path);
    for (int i = 0; i < st->n_entries; i++)
        order[i] = &st->entries[i];
    qsort(order, (size_t)st->n_entries, sizeof *order, cmp_begin);
    const StEntry *last = NULL; /* the non-empty tensor reaching furthest so far */
    for (int i = 0; i < st->n_entries && rc == 0; i++) {
        const StEntry *e = order[i];
        if (e->begin == e->end)
            continue; /* empty tensors own no bytes */
        if (last != NULL && e->begin < last->end)
            rc = err_set(err, "%s: tensor \"%s\": data_offsets [%zu,%zu] overlap tensor \"%s\" "
                         "[%zu,%zu]", st->path, e->name, e->begin, e->end, last->name,
                         last->begin, last->end);
        if (last == NULL || e->end > last->end)
            last = e;
    }
    free(order);
    return rc;
}

static int parse_header(SafeTensors *st, const char *text, size_t n, Err *err) {
    json_error_t je;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return err_set(err, "%s: header is not valid JSON (byte %d of %zu): %s", st->path,
                       je.position, n, je.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = err_set(err, "%s: header is not a JSON object", st->path);
        goto done;
    }
    st->entries = calloc(json_object_size(root) + 1, sizeof *st->entries);
    st->by_name = calloc(json_object_size(root) + 1, sizeof *st->by_name);
    if (st->entries == NULL || st->by_name == NULL) {
        rc = err_set(err, "%s: out of memory", st->path);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0)
            continue; /* free-form string pairs; nothing tlm needs */
        StEntry *e = &st->entries[st->n_entries];
        if ((e->name = strdup(key)) == NULL) {
            rc = err_set(err, "%s: out of memory", st->path);
            goto done;
        }
        st->n_entries++;
        if ((rc = parse_entry(st->path, key, v, e, err)) != 0)
            goto done;
    }
    rc = check_layout(st, err);
done:
    json_decref(root);
    return rc;
}

static void sort_names(SafeTensors *st) {
    NameIdx *tmp = malloc((size_t)st->n_entries * sizeof *tmp + 1);
    for (int i = 0; tmp != NULL && i < st->n_entries; i++)
        tmp[i] = (NameIdx){st->entries[i].name, i};
    if (tmp != NULL)
        qsort(tmp, (size_t)st->n_entries, sizeof *tmp, cmp_name_idx);
    for (int i = 0; i < st->n_entries; i++)
        st->by_name[i] = tmp != NULL ? tmp[i].idx : i;
    free(tmp);
}

SafeTensors *st_open(const char *path, Err *err) {
    SafeTensors *st = calloc(1, sizeof *st);
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    MappedFile mf;
    if (mf_map(path, 8, "a safetensors file (8-byte header length first)", &mf, err) != 0)
        goto fail;
    st->map = mf.data;
    st->map_bytes = mf.n_bytes;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) /* little-endian on every host */
        hlen = (hlen << 8) | st->map[i];
    if (hlen > st->map_bytes - 8 || hlen > ST_MAX_HEADER_BYTES) {
        err_set(err, "%s: header length %" PRIu64 " exceeds the %zu bytes after it (file "
                "truncated or not safetensors?)", path, hlen, st->map_bytes - 8);
        goto fail;
    }
    st->data = st->map + 8 + hlen;
    st->data_bytes = st->map_bytes - 8 - (size_t)hlen;
    if (parse_header(st, (const char *)st->map + 8, (size_t)hlen, err) != 0)
        goto fail;
    sort_names(st);
    return st;
fail:
    st_close(st);
    return NULL;
}

void st_close(SafeTensors *st) {
    if (st == NULL)
        return;
    mf_unmap(&(MappedFile){.data = st->map, .n_bytes = st->map_bytes});
    for (int i = 0; i < st->n_entries; i++)
        free(st->entries[i].name);
    free(st->entries);
    free(st->by_name);
    free(st->path);
    free(st);
}

int st_count(const SafeTensors *st) { return st->n_entries; }

const char *st_path(const SafeTensors *st) { return st->path; }

StTensor st_at(const SafeTensors *st, int i) {
    const StEntry *e = &st->entries[i];
    StTensor t = {.name = e->name, .dtype = e->dtype, .ndim = e->ndim,
                  .data = st->data + e->begin, .n_bytes = e->end - e->begin};
    memcpy(t.shape, e->shape, sizeof t.shape);
    return t;
}

static const StEntry *find_entry(const SafeTensors *st, const char *name) {
    int lo = 0, hi = st->n_entries - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const StEntry *e = &st->entries[st->by_name[mid]];
        int c = strcmp(name, e->name);
        if (c == 0)
            return e;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

int st_has(const SafeTensors *st, const char *name) { return find_entry(st, name) != NULL; }

int st_get(const SafeTensors *st, const char *name, int ndim, const int64_t *shape,
           StTensor *out, Err *err) {
    const StEntry *e = find_entry(st, name);
    if (e == NULL)
        return err_set(err, "%s: tensor \"%s\" not found (%d tensors in file)", st->path, name,
                       st->n_entries);
    int same = ndim < 0 || ndim == e->ndim;
    for (int i = 0; same && ndim >= 0 && i < ndim; i++)
        same = shape[i] == e->shape[i];
    if (!same) {
        char got[160], want[160];
        fmt_shape(got, sizeof got, e->ndim, e->shape);
        fmt_shape(want, sizeof want, ndim, shape);
        return err_set(err, "%s: tensor \"%s\": shape %s, expected %s", st->path, name, got,
                       want);
    }
    *out = st_at(st, (int)(e - st->entries));
    return 0;
}
