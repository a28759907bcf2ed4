/* io/base/strmap.h -- a hash map from byte strings to int32 values (a vocabulary: piece ->
 * id). Open addressing with linear probing, power-of-two capacity kept at most half full;
 * it grows, never shrinks, and has no delete. Keys are copied and owned by the map.
 * Reads (strmap_get) of a map no one is writing are safe from many threads; writes need
 * one owner. */
#ifndef TLM_IO_STRMAP_H
#define TLM_IO_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The fields may be read to visit every entry: slot i holds one when keys[i] != NULL. */
typedef struct StrMap {
    int64_t cap, count;
    char **keys;       /* (cap) owned, NUL-terminated; NULL = empty slot */
    uint32_t *key_len; /* (cap) bytes of keys[i] */
    int32_t *vals;     /* (cap) */
} StrMap;

/* Sizes m (caller-owned struct, overwritten) for about `expected` keys without growing.
 * Errors: out of memory (m left zeroed). */
int strmap_init(StrMap *m, int64_t expected, Err *err);
/* Frees keys and slots and zeroes m; accepts NULL, a zeroed map, and a second call. */
void strmap_free(StrMap *m);

/* Inserts key -> val, or overwrites the value of a key already present (key borrowed,
 * copied; key_bytes may include NULs). Errors: out of memory (m unchanged). */
int strmap_put(StrMap *m, const char *key, size_t key_bytes, int32_t val, Err *err);

/* The value of key, or -1 when it is absent (and for every key of a zeroed map). */
int32_t strmap_get(const StrMap *m, const char *key, size_t key_bytes);

#ifdef __cplusplus
}
#endif
#endif
