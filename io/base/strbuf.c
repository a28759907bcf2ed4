/* io/base/strbuf.c -- the growable byte string (see io/base/strbuf.h). */
#include "io/base/strbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

/* Bytes asked of fread at a time (the buffer grows geometrically around it). */
#define STRBUF_READ_CHUNK 4096

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

int strbuf_read_stream(StrBuf *b, FILE *f, Err *err) {
    for (;;) {
        if (strbuf_reserve(b, STRBUF_READ_CHUNK, err) != 0)
            return -1;
        size_t room = b->cap - b->n_bytes - 1;
        size_t got = fread(b->data + b->n_bytes, 1, room, f);
        b->n_bytes += got;
        b->data[b->n_bytes] = '\0';
        if (got < room)
            break;
    }
    if (ferror(f))
        return err_set(err, "read error: %s", strerror(errno));
    return 0;
}

void strbuf_free(StrBuf *b) {
    if (b == NULL)
        return;
    free(b->data);
    *b = (StrBuf){0};
}
