/* io/base/strbuf.h -- a growable byte string, always NUL-terminated once it holds data
 * (embedded NULs allowed: n_bytes is the length). Growth goes through io/base/vec.h.
 * A plain struct: zero it to start, read data/n_bytes directly, set n_bytes = 0 to reuse
 * the memory. No formatting, no encoding checks. One owner; not thread-safe. */
#ifndef TLM_IO_STRBUF_H
#define TLM_IO_STRBUF_H

#include <stddef.h>
#include <stdio.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct StrBuf {
    char *data;     /* owned; NULL until the first append or reserve */
    size_t n_bytes; /* bytes held, not counting the NUL */
    size_t cap;     /* bytes allocated */
} StrBuf;

/* Makes room for extra more bytes plus the NUL, so data[n_bytes + extra] is writable.
 * Errors: size overflow, out of memory (b unchanged). */
int strbuf_reserve(StrBuf *b, size_t extra, Err *err);

/* Appends s[0..n_bytes) (borrowed; may be NULL when n_bytes == 0) and a NUL. Errors as
 * strbuf_reserve. */
int strbuf_append(StrBuf *b, const char *s, size_t n_bytes, Err *err);

/* Appends everything left in f (borrowed, open for reading; not closed) to b; data is
 * non-NULL afterwards even for an empty stream. Errors: a read error (the system's
 * reason), out of memory; what was read stays in b. The caller names the file. */
int strbuf_read_stream(StrBuf *b, FILE *f, Err *err);

/* Frees the data and zeroes b; accepts NULL, a zeroed struct, and a second call. */
void strbuf_free(StrBuf *b);

#ifdef __cplusplus
}
#endif
#endif
