/* io/base/err.c -- formatting into the caller's fixed-size Err buffer. */
#include "io/base/err.h"

#include <stdio.h>
#include <string.h>

int err_setf(Err *err, const char *file, int line, const char *func, const char *fmt, ...) {
    if (err == NULL)
        return -1;
    int n = snprintf(err->msg, sizeof err->msg, "%s:%d %s: ", file, line, func);
    if (n < 0 || (size_t)n >= sizeof err->msg)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

int err_prefix(Err *err, const char *fmt, ...) {
    if (err == NULL)
        return -1;
    char head[ERR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return -1;
    size_t head_len = (size_t)n < sizeof head ? (size_t)n : sizeof head - 1;
    size_t old_len = strnlen(err->msg, sizeof err->msg - 1);
    if (head_len + old_len > sizeof err->msg - 1) /* keep the head; trim the old tail */
        old_len = sizeof err->msg - 1 - head_len;
    memmove(err->msg + head_len, err->msg, old_len);
    memcpy(err->msg, head, head_len);
    err->msg[head_len + old_len] = '\0';
    return -1;
}

void err_clear(Err *err) {
    if (err != NULL)
        err->msg[0] = '\0';
}
