/* io/base/strlist.c -- the owned string list (see io/base/strlist.h). */
#include "io/base/strlist.h"

#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

int strlist_push(StrList *l, const char *s, size_t n_bytes, Err *err) {
    if (VEC_RESERVE2(l->items, l->n_item_bytes, l->cap, l->n_items + 1, err) != 0)
        return -1;
    char *copy = malloc(n_bytes + 1);
    if (copy == NULL)
        return err_set(err, "out of memory copying a %zu-byte string", n_bytes);
    if (n_bytes > 0)
        memcpy(copy, s, n_bytes);
    copy[n_bytes] = '\0';
    l->items[l->n_items] = copy;
    l->n_item_bytes[l->n_items++] = n_bytes;
    return 0;
}

void strlist_clear(StrList *l) {
    for (int64_t i = 0; i < l->n_items; i++)
        free(l->items[i]);
    l->n_items = 0;
}

void strlist_free(StrList *l) {
    if (l == NULL)
        return;
    strlist_clear(l);
    free(l->items);
    free(l->n_item_bytes);
    *l = (StrList){0};
}
