/* io/base/strlist.h -- a list of byte strings, each copied into and owned by the list,
 * with its length kept beside it (parallel arrays, so callers can pass items and
 * n_item_bytes to functions taking char ** and size_t *). Growth goes through
 * io/base/vec.h. A plain struct: zero it to start; read the fields directly. One owner;
 * not thread-safe. */
#ifndef TLM_IO_STRLIST_H
#define TLM_IO_STRLIST_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct StrList {
    char **items;         /* (n_items) owned, NUL-terminated copies */
    size_t *n_item_bytes; /* (n_items) byte length of items[i] */
    int64_t n_items;
    int64_t cap;          /* elements allocated in both arrays */
} StrList;

/* Appends a NUL-terminated copy of s[0..n_bytes) (borrowed). Errors: out of memory or
 * size overflow (l unchanged). */
int strlist_push(StrList *l, const char *s, size_t n_bytes, Err *err);

/* Frees the strings and sets n_items = 0, keeping the arrays for reuse. */
void strlist_clear(StrList *l);

/* Frees everything and zeroes l; accepts NULL, a zeroed struct, and a second call. */
void strlist_free(StrList *l);

#ifdef __cplusplus
}
#endif
#endif
