/* io/convert/gguf_internal.h -- the Gguf struct shared by io/convert/gguf.c (parsing) and
 * io/convert/gguf_kv.c (typed key reads); not a public API. Immutable after gguf_open. */
#ifndef TLM_IO_GGUF_INTERNAL_H
#define TLM_IO_GGUF_INTERNAL_H

#include "io/base/mapped_file.h"
#include "io/convert/gguf.h"

typedef struct GgufKv {
    GgufStr key;                /* in the mapping */
    GgufType type;
    const unsigned char *val;   /* scalar types: the value's bytes in the mapping */
    GgufStr str;                /* GGUF_STRING */
    GgufArr arr;                /* GGUF_ARRAY */
    GgufStr *owned_strs;        /* the string index of a GGUF_STRING array (owned) */
} GgufKv;

struct Gguf {
    char *path;
    MappedFile mf;
    uint32_t version;
    uint64_t alignment;
    GgufKv *kv;                 /* (n_kv) sorted by key once gguf_open succeeds */
    int64_t n_kv;
    GgufTensor *tensors;        /* (n_tensors) in file order */
    int64_t n_tensors;
};

/* The entry of key (binary search over the sorted keys), or NULL. */
const GgufKv *gguf_kv_find(const Gguf *g, const char *key);
/* Bytes of one scalar of a value type; 0 for strings, arrays and unknown types. */
size_t gguf_scalar_bytes(uint32_t type);

#endif
