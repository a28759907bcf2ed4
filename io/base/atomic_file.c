/* io/base/atomic_file.c -- temp file, fsync, rename (see atomic_file.h). */
#include "io/base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct AtomicFile {
    FILE *f;
    char *path; /* final name */
    char *tmp;  /* path.tmp.PID */
};

AtomicFile *af_open(const char *path, Err *err) {
    AtomicFile *af = calloc(1, sizeof *af);
    size_t n = strlen(path) + 32;
    if (af == NULL || (af->path = strdup(path)) == NULL || (af->tmp = malloc(n)) == NULL) {
        af_abort(af);
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (af->f == NULL) {
        err_set(err, "%s: cannot create %s: %s", path, af->tmp, strerror(errno));
        af_abort(af);
        return NULL;
    }
    return af;
}

int af_write(AtomicFile *af, const void *data, size_t n_bytes, Err *err) {
    if (n_bytes > 0 && fwrite(data, 1, n_bytes, af->f) != n_bytes)
        return err_set(err, "%s: write failed: %s", af->path, strerror(errno));
    return 0;
}

/* The rename is only durable once the folder's entry is on disk too. */
static void fsync_parent(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse fsync on folders */
        close(fd);
    }
}

int af_commit(AtomicFile *af, Err *err) {
    int rc = 0;
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)
        rc = err_set(err, "%s: flushing %s failed: %s", af->path, af->tmp, strerror(errno));
    if (fclose(af->f) != 0 && rc == 0)
        rc = err_set(err, "%s: closing %s failed: %s", af->path, af->tmp, strerror(errno));
    af->f = NULL;
    if (rc == 0 && rename(af->tmp, af->path) != 0)
        rc = err_set(err, "%s: rename from %s failed: %s", af->path, af->tmp, strerror(errno));
    if (rc == 0) {
        fsync_parent(af->path);
        free(af->tmp);
        af->tmp = NULL;
    }
    af_abort(af);
    return rc;
}

void af_abort(AtomicFile *af) {
    if (af == NULL)
        return;
    if (af->f != NULL)
        fclose(af->f);
    if (af->tmp != NULL)
        unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    free(af);
}

int af_write_file(const char *path, const void *data, size_t n_bytes, Err *err) {
    AtomicFile *af = af_open(path, err);
    if (af == NULL)
        return -1;
    if (af_write(af, data, n_bytes, err) != 0) {
        af_abort(af);
        return -1;
    }
    return af_commit(af, err);
}

int af_write_line(const char *path, const char *text, Err *err) {
    AtomicFile *af = af_open(path, err);
    if (af == NULL)
        return -1;
    if (af_write(af, text, strlen(text), err) != 0 || af_write(af, "\n", 1, err) != 0) {
        af_abort(af);
        return -1;
    }
    return af_commit(af, err);
}
