/* io/base/vec.h -- growable arrays of any element type: one growth rule (double, or jump
 * straight to what is needed) with overflow-checked size arithmetic, failing into an Err.
 * An array is three fields its owner keeps (T *data; int64_t n, cap): these functions only
 * reallocate data and update the counts; they never shrink, construct or free elements.
 * Not thread-safe: one owner per array. */
#ifndef TLM_IO_VEC_H
#define TLM_IO_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The capacity of an array's first allocation (elements). */
#define VEC_MIN_CAP 16

/* Makes room for need elements of elem_bytes each. data_ptr is the address of the array
 * pointer (a T **, passed as void *; *data_ptr may be NULL), *cap its capacity in
 * elements. On success *data_ptr may move and *cap >= need. Errors: need < 0, a byte size
 * that overflows, out of memory; *data_ptr and *cap are then left as they were (the old
 * array stays valid and owned by the caller). */
int vec_reserve(void *data_ptr, int64_t *cap, int64_t need, size_t elem_bytes, Err *err);

/* vec_reserve for two parallel arrays (a[i] and b[i] describe one item) sharing the
 * capacity *cap. *cap moves only once both have grown, so after a failure each array
 * still holds at least *cap elements (one of them may have moved: its pointer is
 * updated). */
int vec_reserve2(void *a_ptr, size_t a_elem_bytes, void *b_ptr, size_t b_elem_bytes,
                 int64_t *cap, int64_t need, Err *err);

/* Appends n_src elements copied from src (borrowed, may be NULL when n_src == 0) at index
 * *n, growing as vec_reserve does; *n += n_src on success. Errors as vec_reserve. */
int vec_append(void *data_ptr, int64_t *n, int64_t *cap, const void *src, int64_t n_src,
               size_t elem_bytes, Err *err);

/* Frees *data_ptr and sets it to NULL, *n and *cap to 0 (n, cap may be NULL). Elements
 * that own memory are the caller's to free first. Safe on a zeroed array and twice. */
void vec_free(void *data_ptr, int64_t *n, int64_t *cap);

/* The typed forms: the element size is sizeof *data, so the call cannot disagree with the
 * array's type; data, n, cap are lvalues (each evaluated more than once: no side effects).
 *   VEC_RESERVE(a.v, a.cap, need, err)        room for need elements
 *   VEC_RESERVE2(a.x, a.y, a.cap, need, err)  the same for parallel arrays x and y
 *   VEC_PUSH(a.v, a.n, a.cap, value, err)     a.v[a.n++] = value (assignment-checked)
 *   VEC_APPEND(a.v, a.n, a.cap, src, k, err)  k elements of the same type from src
 * Each evaluates to 0 or -1 (err filled). A compound-literal value goes in parentheses:
 * VEC_PUSH(s.v, s.n, s.cap, ((Span){a, b}), err). */
#define VEC_RESERVE(data, cap, need, err) \
    vec_reserve(&(data), &(cap), (need), sizeof *(data), (err))
#define VEC_RESERVE2(a, b, cap, need, err) \
    vec_reserve2(&(a), sizeof *(a), &(b), sizeof *(b), &(cap), (need), (err))
#define VEC_PUSH(data, n, cap, value, err) \
    (VEC_RESERVE(data, cap, (n) + 1, err) != 0 ? -1 : ((data)[(n)++] = (value), 0))
#define VEC_APPEND(data, n, cap, src, n_src, err)                                      \
    ((void)sizeof((data)[0] = (src)[0]),                                               \
     vec_append(&(data), &(n), &(cap), (src), (n_src), sizeof *(data), (err)))

#ifdef __cplusplus
}
#endif
#endif
