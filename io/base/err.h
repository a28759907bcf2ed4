/* io/base/err.h -- the error value every fallible function fills.
 * An Err is a fixed-size message buffer owned by the caller: filling it never allocates,
 * so it works on out-of-memory paths. Functions return 0 on success and -1 after
 * filling *err. Callers add context with err_prefix() and return -1 in turn; only the
 * launcher decides to stop. Passing err == NULL is allowed and discards the message. */
#ifndef TLM_IO_ERR_H
#define TLM_IO_ERR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ERR_MSG_BYTES 1024

typedef struct Err {
    char msg[ERR_MSG_BYTES]; /* "io/model/safetensors.c:142 st_get: <what went wrong>" */
} Err;

/* Formats "file:line func: message" into err (truncating) and returns -1. */
int err_setf(Err *err, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Prepends a context phrase ("loading model dir m/: ") to an existing message; returns -1. */
int err_prefix(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the message (an empty message means "no error"). */
void err_clear(Err *err);

/* err_set(err, fmt, ...): the form every module uses; evaluates to -1. */
#define err_set(err, ...) err_setf((err), TLM_SRC_FILE, __LINE__, __func__, __VA_ARGS__)

/* The source path in messages: __FILE__, which CMake's -fmacro-prefix-map makes relative
 * to the repository root for C (nvcc has no such flag; kernels/cuda trims it itself). */
#ifndef TLM_SRC_FILE
#define TLM_SRC_FILE __FILE__
#endif

#ifdef __cplusplus
}
#endif
#endif
