/* io/base/atomic_file.h -- write a file so that readers see either the old one or the whole
 * new one: bytes go to "PATH.tmp.PID", then fsync, rename over PATH, fsync the folder.
 * A crash or an error leaves at most a stray .tmp file, never a truncated PATH.
 * No buffering policy of its own (stdio underneath); one writer per handle. */
#ifndef TLM_IO_ATOMIC_FILE_H
#define TLM_IO_ATOMIC_FILE_H

#include <stddef.h>

#include "io/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct AtomicFile AtomicFile;

/* Creates PATH.tmp.PID for writing; path borrowed (copied). NULL + err on failure. */
AtomicFile *af_open(const char *path, Err *err);
/* Appends n_bytes from data (borrowed). Errors name the final path. */
int af_write(AtomicFile *af, const void *data, size_t n_bytes, Err *err);
/* Flushes, fsyncs, renames over the final path and frees af (also on error, after
 * removing the temp file). */
int af_commit(AtomicFile *af, Err *err);
/* Removes the temp file and frees af; accepts NULL. */
void af_abort(AtomicFile *af);

/* The whole file in one call: af_open + af_write + af_commit. */
int af_write_file(const char *path, const void *data, size_t n_bytes, Err *err);
/* The same for a NUL-terminated text (borrowed) plus one final newline: how the JSON
 * files Hugging Face writes end. */
int af_write_line(const char *path, const char *text, Err *err);

#ifdef __cplusplus
}
#endif
#endif
