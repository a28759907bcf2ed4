/* io/ckpt/ckpt_dir.c -- the checkpoints of an output folder: naming (ckpt-<step>.h5), listing
 * newest first, pruning to the last N, and finding the newest one that reads back
 * whole (for --resume auto, which must fall back past a corrupt newest file). */
#include "io/ckpt/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/base/log.h"
#include "io/base/vec.h"

int ckpt_path(const char *dir, int64_t step, char *buf, size_t n_bytes, Err *err) {
    if (step < 0)
        return err_set(err, "%s: negative checkpoint step %lld", dir, (long long)step);
    if ((size_t)snprintf(buf, n_bytes, "%s/ckpt-%lld.h5", dir, (long long)step) >= n_bytes)
        return err_set(err, "%s: checkpoint path longer than %zu bytes", dir, n_bytes);
    return 0;
}

/* The step of a file named exactly ckpt-<digits>.h5, or -1. */
static int64_t parse_name(const char *name) {
    if (strncmp(name, "ckpt-", 5) != 0)
        return -1;
    const char *p = name + 5;
    int64_t step = 0;
    int n_digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, n_digits++) {
        if (step > (INT64_MAX - 9) / 10)
            return -1;
        step = step * 10 + (*p - '0');
    }
    return (n_digits > 0 && strcmp(p, ".h5") == 0) ? step : -1;
}

void ckpt_list_free(CkptList *l) {
    if (l == NULL)
        return;
    for (int i = 0; l->paths != NULL && i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->steps);
    *l = (CkptList){0};
}

/* Appends (step, dir/name) to l; cap is l's capacity. */
static int list_push(CkptList *l, int64_t *cap, const char *dir, const char *name,
                     int64_t step, Err *err) {
    if (l->n == INT_MAX)
        return err_set(err, "%s: more than %d checkpoints", dir, INT_MAX);
    if (VEC_RESERVE2(l->paths, l->steps, *cap, l->n + 1, err) != 0)
        return err_prefix(err, "%s: listing checkpoints: ", dir);
    size_t n = strlen(dir) + strlen(name) + 2;
    if ((l->paths[l->n] = malloc(n)) == NULL)
        return err_set(err, "%s: out of memory listing checkpoints", dir);
    snprintf(l->paths[l->n], n, "%s/%s", dir, name);
    l->steps[l->n++] = step;
    return 0;
}

int ckpt_list(const char *dir, CkptList *out, Err *err) {
    *out = (CkptList){0};
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return err_set(err, "%s: cannot list checkpoints: %s", dir, strerror(errno));
    }
    int64_t cap = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t step = parse_name(e->d_name);
        if (step >= 0 && list_push(out, &cap, dir, e->d_name, step, err) < 0) {
            closedir(d);
            ckpt_list_free(out);
            return -1;
        }
    }
    closedir(d);
    /* Newest first: insertion sort by step, descending (lists are short). */
    for (int i = 1; i < out->n; i++) {
        int64_t s = out->steps[i];
        char *p = out->paths[i];
        int j = i - 1;
        for (; j >= 0 && out->steps[j] < s; j--) {
            out->steps[j + 1] = out->steps[j];
            out->paths[j + 1] = out->paths[j];
        }
        out->steps[j + 1] = s;
        out->paths[j + 1] = p;
    }
    return 0;
}

int ckpt_prune(const char *dir, int keep, Err *err) {
    if (keep < 1)
        return err_set(err, "%s: keep %d: at least the newest checkpoint must be kept", dir,
                       keep);
    CkptList l;
    if (ckpt_list(dir, &l, err) < 0)
        return -1;
    int rc = 0;
    for (int i = keep; i < l.n && rc == 0; i++)
        if (unlink(l.paths[i]) != 0 && errno != ENOENT)
            rc = err_set(err, "%s: cannot remove old checkpoint: %s", l.paths[i], strerror(errno));
    ckpt_list_free(&l);
    return rc;
}

int ckpt_remove_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long step;
        long pid;
        if (sscanf(e->d_name, "ckpt-%lld.h5.tmp.%ld", &step, &pid) != 2)
            continue;
        const size_t n_bytes = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(n_bytes);
        if (path == NULL)
            break;
        snprintf(path, n_bytes, "%s/%s", dir, e->d_name);
        n += remove(path) == 0;
        free(path);
    }
    closedir(d);
    return n;
}

int ckpt_latest_valid(const char *dir, char *path_out, size_t n_bytes, int64_t *step_out,
                      Err *err) {
    CkptList l;
    if (ckpt_list(dir, &l, err) < 0)
        return -1;
    if (l.n == 0) {
        ckpt_list_free(&l);
        return 0;
    }
    Err newest = {{0}}, why;
    for (int i = 0; i < l.n; i++) {
        if (ckpt_verify(l.paths[i], &why) == 0) {
            int fits = (size_t)snprintf(path_out, n_bytes, "%s", l.paths[i]) < n_bytes;
            if (step_out != NULL)
                *step_out = l.steps[i];
            int rc = fits ? 1 : err_set(err, "%s: path longer than %zu bytes", l.paths[i], n_bytes);
            ckpt_list_free(&l);
            return rc;
        }
        log_warn("skipping checkpoint %s: %s", l.paths[i], why.msg);
        if (i == 0)
            newest = why;
    }
    int n = l.n;
    ckpt_list_free(&l);
    err_set(err, "%s: none of its %d checkpoints is valid; newest: %s", dir, n, newest.msg);
    return -1;
}
