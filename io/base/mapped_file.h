/* io/base/mapped_file.h -- a whole file mapped read-only (mmap), for the readers of binary
 * formats (safetensors, llama2.c checkpoints): opens, checks a minimum size, maps, closes
 * the descriptor. No parsing here. Not thread-safe to map/unmap one struct concurrently. */
#ifndef TLM_IO_MAPPED_FILE_H
#define TLM_IO_MAPPED_FILE_H

#include <stddef.h>

#include "io/base/err.h"

typedef struct MappedFile {
    const unsigned char *data; /* the whole file, PROT_READ; NULL when not mapped */
    size_t n_bytes;
} MappedFile;

/* Maps path (borrowed) into *mf. A file shorter than min_bytes is refused with
 * "PATH: N bytes, shorter than WHAT" (what: e.g. "the 28-byte llama2.c header"). */
int mf_map(const char *path, size_t min_bytes, const char *what, MappedFile *mf, Err *err);

/* Unmaps; accepts a zeroed struct and is safe to call twice. */
void mf_unmap(MappedFile *mf);

#endif
