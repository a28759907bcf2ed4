/* io/base/vec.c -- the growth rule and the size checks behind every growable array (see
 * io/base/vec.h). The array pointer travels as void * and is read and written with memcpy,
 * so one function serves every element type without aliasing a T ** as a void **. */
#include "io/base/vec.h"

#include <stdlib.h>
#include <string.h>

/* The capacity for need elements: doubling from the current one (amortised O(1) pushes),
 * or need itself when doubling would overflow. */
static int64_t grown_cap(int64_t cap, int64_t need) {
    int64_t c = cap > 0 ? cap : VEC_MIN_CAP;
    while (c < need)
        c = c > INT64_MAX / 2 ? need : c * 2;
    return c;
}

int vec_reserve(void *data_ptr, int64_t *cap, int64_t need, size_t elem_bytes, Err *err) {
    if (need < 0)
        return err_set(err, "array of %lld elements: negative size", (long long)need);
    if (need <= *cap)
        return 0;
    int64_t c = grown_cap(*cap, need);
    /* Doubling may overshoot what size_t can hold while need itself still fits. */
    if (elem_bytes > 0 && (uint64_t)c > (uint64_t)(PTRDIFF_MAX / elem_bytes))
        c = need;
    if (elem_bytes > 0 && (uint64_t)c > (uint64_t)(PTRDIFF_MAX / elem_bytes))
        return err_set(err, "array of %lld elements of %zu bytes: size overflows",
                       (long long)need, elem_bytes);
    void *old;
    memcpy(&old, data_ptr, sizeof old);
    void *grown = realloc(old, (size_t)c * elem_bytes);
    if (grown == NULL)
        return err_set(err, "out of memory growing an array to %lld elements of %zu bytes",
                       (long long)c, elem_bytes);
    memcpy(data_ptr, &grown, sizeof grown);
    *cap = c;
    return 0;
}

int vec_reserve2(void *a_ptr, size_t a_elem_bytes, void *b_ptr, size_t b_elem_bytes,
                 int64_t *cap, int64_t need, Err *err) {
    int64_t cap_a = *cap, cap_b = *cap;
    if (vec_reserve(a_ptr, &cap_a, need, a_elem_bytes, err) != 0 ||
        vec_reserve(b_ptr, &cap_b, need, b_elem_bytes, err) != 0)
        return -1;
    *cap = cap_a < cap_b ? cap_a : cap_b; /* they differ only past the overflow clamp */
    return 0;
}

int vec_append(void *data_ptr, int64_t *n, int64_t *cap, const void *src, int64_t n_src,
               size_t elem_bytes, Err *err) {
    if (n_src < 0 || *n > INT64_MAX - n_src)
        return err_set(err, "appending %lld elements to %lld: bad count", (long long)n_src,
                       (long long)*n);
    if (vec_reserve(data_ptr, cap, *n + n_src, elem_bytes, err) != 0)
        return -1;
    if (n_src > 0) {
        char *data;
        memcpy(&data, data_ptr, sizeof data);
        memcpy(data + (size_t)*n * elem_bytes, src, (size_t)n_src * elem_bytes);
    }
    *n += n_src;
    return 0;
}

void vec_free(void *data_ptr, int64_t *n, int64_t *cap) {
    void *data;
    memcpy(&data, data_ptr, sizeof data);
    free(data);
    data = NULL;
    memcpy(data_ptr, &data, sizeof data);
    if (n != NULL)
        *n = 0;
    if (cap != NULL)
        *cap = 0;
}
