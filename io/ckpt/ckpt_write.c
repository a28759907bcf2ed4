/* io/ckpt/ckpt_write.c -- writing one checkpoint file atomically (see ckpt.h for the layout):
 * HDF5 writes PATH.tmp.PID, which is flushed, closed, fsynced and renamed over PATH, and
 * the folder is fsynced, so PATH is always either the previous file or the whole new one. */
#include "io/ckpt/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/ckpt/ckpt_h5.h"

/* Rejects states that could not be read back (so a bad write fails now, not on resume). */
static int check_state(const char *path, const CkptState *st, Err *err) {
    if (st->lora_rank < 1)
        return err_set(err, "%s: adapter rank %d < 1", path, st->lora_rank);
    if (st->n_targets < 1 || st->n_targets > CKPT_MAX_TARGETS)
        return err_set(err, "%s: %d adapter targets, expected 1..%d", path, st->n_targets,
                       CKPT_MAX_TARGETS);
    if (st->n_tensors < 1 || st->tensors == NULL)
        return err_set(err, "%s: no adapter tensors", path);
    for (int i = 0; i < st->n_tensors; i++) {
        const CkptTensor *t = &st->tensors[i];
        if (t->name == NULL || t->name[0] == '\0' || strchr(t->name, '/') != NULL ||
            t->param == NULL || t->n_rows < 1 || t->n_cols < 1)
            return err_set(err, "%s: adapter tensor %d (\"%s\"): needs a name without '/', "
                           "data and a positive shape", path, i, t->name ? t->name : "");
    }
    if (st->dp_size < 1 || st->stream_pos == NULL)
        return err_set(err, "%s: dp size %d (needs >= 1 stream positions)", path, st->dp_size);
    if (st->scores.n_rows > 0 && st->scores.rows == NULL)
        return err_set(err, "%s: %lld score rows without data", path,
                       (long long)st->scores.n_rows);
    return 0;
}

/* One group of tensors (/adapter, /optim/m, /optim/v): which = 0 params, 1 m, 2 v.
 * Creation order is tracked so readers see the writer's order; attr crc32 covers the
 * data in that order. */
static int write_tensors(const CkptH5 *h, const char *group, const CkptState *st, int which) {
    int rc = -1;
    hid_t gcpl = -1, g = -1;
    float *zeros = NULL;
    uint32_t crc = 0;
    H5_CHECK_GOTO(h, group, gcpl = H5Pcreate(H5P_GROUP_CREATE), out);
    H5_CHECK_GOTO(h, group, H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED |
                                                                H5P_CRT_ORDER_INDEXED), out);
    H5_CHECK_GOTO(h, group, g = H5Gcreate2(h->file, group, H5P_DEFAULT, gcpl, H5P_DEFAULT), out);
    for (int i = 0; i < st->n_tensors; i++) {
        const CkptTensor *t = &st->tensors[i];
        const float *data = which == 0 ? t->param : which == 1 ? t->adam_m : t->adam_v;
        size_t n = (size_t)(t->n_rows * t->n_cols);
        if (data == NULL) { /* no moments given: zeros, as a fresh optimizer holds */
            free(zeros);
            if ((zeros = calloc(n, sizeof *zeros)) == NULL) {
                err_set(h->err, "%s: %s/%s: out of memory", h->path, group, t->name);
                goto out;
            }
            data = zeros;
        }
        hsize_t dims[2] = {(hsize_t)t->n_rows, (hsize_t)t->n_cols};
        if (ckpt_h5_write(h, g, t->name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 2, dims, data) < 0)
            goto out;
        crc = ckpt_crc32(crc, data, n * sizeof *data);
    }
    if (ckpt_h5_write_attr(h, g, group, "crc32", H5T_NATIVE_UINT32, H5T_STD_U32LE, 0, &crc) < 0)
        goto out;
    if (which == 0) {
        int32_t n_tensors = st->n_tensors;
        if (ckpt_h5_write_attr(h, g, group, "rank", H5T_NATIVE_INT32, H5T_STD_I32LE, 0,
                               &st->lora_rank) < 0 ||
            ckpt_h5_write_attr(h, g, group, "alpha", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0,
                               &st->lora_alpha) < 0 ||
            ckpt_h5_write_attr(h, g, group, "n_tensors", H5T_NATIVE_INT32, H5T_STD_I32LE, 0,
                               &n_tensors) < 0 ||
            ckpt_h5_write_attr_strings(h, g, group, "targets", st->targets[0], st->n_targets,
                                       CKPT_TARGET_BYTES) < 0)
            goto out;
    }
    rc = 0;
out:
    free(zeros);
    if (g >= 0 && H5Gclose(g) < 0 && rc == 0)
        rc = ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, group, "H5Gclose");
    if (gcpl >= 0)
        H5Pclose(gcpl);
    return rc;
}

/* Creates an (empty) group. */
static int make_group(const CkptH5 *h, const char *name) {
    hid_t g = -1;
    H5_CHECK(h, name, g = H5Gcreate2(h->file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5_CHECK(h, name, H5Gclose(g));
    return 0;
}

static int write_i64(const CkptH5 *h, const char *name, const int64_t *v) {
    return ckpt_h5_write(h, h->file, name, H5T_NATIVE_INT64, H5T_STD_I64LE, 0, NULL, v);
}

/* Everything but the tensors and scores. */
static int write_state(const CkptH5 *h, const CkptState *st) {
    const int32_t version = CKPT_FORMAT_VERSION;
    hsize_t four = 4, dp = (hsize_t)st->dp_size;
    if (ckpt_h5_write_attr(h, h->file, "/", "format_version", H5T_NATIVE_INT32, H5T_STD_I32LE,
                           0, &version) < 0 ||
        make_group(h, "/state") < 0 || make_group(h, "/stream") < 0 ||
        make_group(h, "/model") < 0 || write_i64(h, "/state/step", &st->step) < 0 ||
        write_i64(h, "/state/optim_step", &st->optim_step) < 0 ||
        write_i64(h, "/state/schedule_pos", &st->schedule_pos) < 0 ||
        write_i64(h, "/state/samples_done", &st->samples_done) < 0 ||
        ckpt_h5_write(h, h->file, "/state/lr", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 0, NULL,
                      &st->lr) < 0 ||
        ckpt_h5_write(h, h->file, "/state/rng", H5T_NATIVE_UINT64, H5T_STD_U64LE, 1, &four,
                      st->rng) < 0 ||
        ckpt_h5_write(h, h->file, "/stream/position", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, &dp,
                      st->stream_pos) < 0 ||
        ckpt_h5_write(h, h->file, "/stream/dp_size", H5T_NATIVE_INT32, H5T_STD_I32LE, 0, NULL,
                      &st->dp_size) < 0 ||
        ckpt_h5_write_string(h, h->file, "/job", st->job_yaml ? st->job_yaml : "") < 0 ||
        ckpt_h5_write(h, h->file, "/model/config_hash", H5T_NATIVE_UINT64, H5T_STD_U64LE, 0,
                      NULL, &st->model_hash) < 0 ||
        ckpt_h5_write_string(h, h->file, "/model/dir", st->model_dir) < 0)
        return -1;
    return 0;
}

/* fsync of a path (a file, or the folder holding a renamed file). */
static int fsync_path(const char *path, const char *what, Err *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return err_set(err, "%s: cannot open %s for fsync: %s", path, what, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return err_set(err, "%s: fsync of %s failed: %s", path, what, strerror(e));
    }
    close(fd);
    return 0;
}

/* The folder of path ("." when it has none) into dir. */
static void dir_of(const char *path, char *dir, size_t n_bytes) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, n_bytes, ".");
    else if (slash == path)
        snprintf(dir, n_bytes, "/");
    else
        snprintf(dir, n_bytes, "%.*s", (int)(slash - path), path);
}

/* Test hook: TLM_TEST_CKPT_DELAY_MS=N sleeps N ms between the finished temp file and the
 * rename, so a test can kill the writer inside a checkpoint write (tests/resume). */
static void debug_delay(void) {
    const char *v = getenv("TLM_TEST_CKPT_DELAY_MS");
    const long ms = v != NULL ? strtol(v, NULL, 10) : 0;
    if (ms > 0) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int ckpt_write(const char *path, const CkptState *st, Err *err) {
    char tmp[CKPT_PATH_BYTES + 32], dir[CKPT_PATH_BYTES];
    if (check_state(path, st, err) < 0)
        return -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return err_set(err, "%s: path too long", path);
    CkptH5Quiet quiet;
    ckpt_h5_quiet(&quiet);
    CkptH5 h = {.path = tmp, .file = -1, .err = err};
    int rc = -1;
    hid_t fapl = -1;
    H5_CHECK_GOTO(&h, "file", fapl = ckpt_h5_fapl(), out);
    H5_CHECK_GOTO(&h, "file", h.file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), out);
    if (write_tensors(&h, "/adapter", st, 0) < 0 || make_group(&h, "/optim") < 0 ||
        write_tensors(&h, "/optim/m", st, 1) < 0 || write_tensors(&h, "/optim/v", st, 2) < 0 ||
        write_state(&h, st) < 0 || ckpt_scores_write(&h, &st->scores) < 0)
        goto out;
    H5_CHECK_GOTO(&h, "file", H5Fflush(h.file, H5F_SCOPE_GLOBAL), out);
    hid_t file = h.file;
    h.file = -1;
    H5_CHECK_GOTO(&h, "file", H5Fclose(file), out);
    if (fsync_path(tmp, "the checkpoint", err) < 0)
        goto out;
    debug_delay();
    if (rename(tmp, path) != 0) {
        err_set(err, "%s: rename from %s failed: %s", path, tmp, strerror(errno));
        goto out;
    }
    dir_of(path, dir, sizeof dir);
    rc = fsync_path(dir, "the checkpoint's folder", err);
out:
    if (h.file >= 0)
        H5Fclose(h.file);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rc != 0)
        unlink(tmp); /* never leave a half file; a no-op after the rename */
    ckpt_h5_restore(&quiet);
    if (rc != 0 && err != NULL && strstr(err->msg, path) == NULL)
        err_prefix(err, "writing checkpoint %s: ", path);
    return rc;
}
