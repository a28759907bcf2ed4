/* io/base/strbuf.c -- the growable byte string (see io/base/strbuf.h). */
#include "io/base/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

int strbuf_reserve(StrBuf *b, size_t extra, Err *err) {
    if (extra > (size_t)INT64_MAX - 1 - b->n_bytes)
        return err_set(err, "string of %zu + %zu bytes: size overflows", b->n_bytes, extra);
    int64_t cap = (int64_t)b->cap;
    if (vec_reserve(&b->data, &cap, (int64_t)(b->n_bytes + extra + 1), 1, err) != 0)
        return -1;
    b->cap = (size_t)cap;
    return 0;
}

int strbuf_append(StrBuf *b, const char *s, size_t n_bytes, Err *err) {
    if (strbuf_reserve(b, n_bytes, err) != 0)
        return -1;
    if (n_bytes > 0)
        memcpy(b->data + b->n_bytes, s, n_bytes);
    b->n_bytes += n_bytes;
    b->data[b->n_bytes] = '\0';
    return 0;
}

void strbuf_free(StrBuf *b) {
    if (b == NULL)
        return;
    free(b->data);
    *b = (StrBuf){0};
}
