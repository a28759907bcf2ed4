/* io/ckpt/ckpt_read.c -- reading and validating one checkpoint file (see ckpt.h). Checks, in
 * order: the file opens (a truncated file fails here), format_version, every dataset's
 * presence/type/shape, the adapter's rank against each A/B, the CRC32 of /adapter,
 * /optim/m and /optim/v, and the score table's fields. */
#include "io/ckpt/ckpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/ckpt/ckpt_h5.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The names of /adapter's datasets in creation order into st->tensors[i].name. */
static int read_names(const CkptH5 *h, CkptState *st) {
    int rc = -1;
    hid_t g = -1;
    H5G_info_t info;
    int32_t n_tensors = 0;
    if (ckpt_h5_read_attr(h, "/adapter", "n_tensors", H5T_NATIVE_INT32, H5T_INTEGER, 0,
                          &n_tensors) < 0)
        return -1;
    H5_CHECK_GOTO(h, "/adapter", g = H5Gopen2(h->file, "/adapter", H5P_DEFAULT), out);
    H5_CHECK_GOTO(h, "/adapter", H5Gget_info(g, &info), out);
    if (n_tensors < 1 || info.nlinks != (hsize_t)n_tensors) {
        err_set(h->err, "%s: /adapter: %llu datasets, attribute n_tensors says %d", h->path,
                (unsigned long long)info.nlinks, n_tensors);
        goto out;
    }
    if ((st->tensors = calloc((size_t)n_tensors, sizeof *st->tensors)) == NULL) {
        err_set(h->err, "%s: /adapter: out of memory", h->path);
        goto out;
    }
    st->n_tensors = n_tensors;
    for (int i = 0; i < n_tensors; i++) {
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, (hsize_t)i,
                                         NULL, 0, H5P_DEFAULT);
        H5_CHECK_GOTO(h, "/adapter", len, out);
        if ((st->tensors[i].name = calloc((size_t)len + 1, 1)) == NULL) {
            err_set(h->err, "%s: /adapter: out of memory", h->path);
            goto out;
        }
        H5_CHECK_GOTO(h, "/adapter",
                      H5Lget_name_by_idx(g, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, (hsize_t)i,
                                         st->tensors[i].name, (size_t)len + 1, H5P_DEFAULT),
                      out);
    }
    rc = 0;
out:
    if (g >= 0)
        H5Gclose(g);
    return rc;
}

/* Reads group/<name> for every tensor into the field chosen by which (0 param, 1 m, 2 v),
 * and checks the group's crc32 attribute against the data. */
static int read_group(const CkptH5 *h, const char *group, CkptState *st, int which) {
    uint32_t crc = 0, stored = 0;
    char name[1024];
    for (int i = 0; i < st->n_tensors; i++) {
        CkptTensor *t = &st->tensors[i];
        snprintf(name, sizeof name, "%s/%s", group, t->name);
        hsize_t dims[2];
        if (which == 0) {
            if (ckpt_h5_shape(h, name, 2, dims) < 0)
                return -1;
            int is_a = ends_with(t->name, "lora_A.weight"), is_b = ends_with(t->name, "lora_B.weight");
            if ((is_a && dims[0] != (hsize_t)st->lora_rank) ||
                (is_b && dims[1] != (hsize_t)st->lora_rank) || dims[0] < 1 || dims[1] < 1)
                return err_set(h->err, "%s: %s: shape [%llu,%llu] does not fit rank %d",
                               h->path, name, (unsigned long long)dims[0],
                               (unsigned long long)dims[1], st->lora_rank);
            t->n_rows = (int64_t)dims[0];
            t->n_cols = (int64_t)dims[1];
        }
        dims[0] = (hsize_t)t->n_rows;
        dims[1] = (hsize_t)t->n_cols;
        size_t n = (size_t)(t->n_rows * t->n_cols);
        float *data = malloc(n * sizeof *data);
        if (data == NULL)
            return err_set(h->err, "%s: %s: out of memory", h->path, name);
        *(which == 0 ? &t->param : which == 1 ? &t->adam_m : &t->adam_v) = data;
        if (ckpt_h5_read(h, name, H5T_NATIVE_FLOAT, H5T_FLOAT, 4, 2, dims, data) < 0)
            return -1;
        crc = ckpt_crc32(crc, data, n * sizeof *data);
    }
    if (ckpt_h5_read_attr(h, group, "crc32", H5T_NATIVE_UINT32, H5T_INTEGER, 0, &stored) < 0)
        return -1;
    if (crc != stored)
        return err_set(h->err, "%s: %s: CRC32 mismatch (stored %08x, data %08x): the file is "
                       "corrupt", h->path, group, stored, crc);
    return 0;
}

static int read_i64(const CkptH5 *h, const char *name, int64_t *v) {
    return ckpt_h5_read(h, name, H5T_NATIVE_INT64, H5T_INTEGER, 0, 0, NULL, v);
}

/* The counters, RNG, stream positions, job and model. */
static int read_state(const CkptH5 *h, CkptState *st) {
    hsize_t four = 4;
    if (read_i64(h, "/state/step", &st->step) < 0 ||
        read_i64(h, "/state/optim_step", &st->optim_step) < 0 ||
        read_i64(h, "/state/schedule_pos", &st->schedule_pos) < 0 ||
        read_i64(h, "/state/samples_done", &st->samples_done) < 0 ||
        ckpt_h5_read(h, "/state/lr", H5T_NATIVE_DOUBLE, H5T_FLOAT, 0, 0, NULL, &st->lr) < 0 ||
        ckpt_h5_read(h, "/state/rng", H5T_NATIVE_UINT64, H5T_INTEGER, 8, 1, &four, st->rng) < 0 ||
        ckpt_h5_read(h, "/stream/dp_size", H5T_NATIVE_INT32, H5T_INTEGER, 0, 0, NULL,
                     &st->dp_size) < 0)
        return -1;
    if (st->dp_size < 1)
        return err_set(h->err, "%s: /stream/dp_size: %d < 1", h->path, st->dp_size);
    hsize_t dp = (hsize_t)st->dp_size;
    if ((st->stream_pos = calloc(dp, sizeof *st->stream_pos)) == NULL)
        return err_set(h->err, "%s: /stream/position: out of memory", h->path);
    if (ckpt_h5_read(h, "/stream/position", H5T_NATIVE_INT64, H5T_INTEGER, 0, 1, &dp,
                     st->stream_pos) < 0 ||
        ckpt_h5_read_string(h, "/job", &st->job_yaml) < 0 ||
        ckpt_h5_read(h, "/model/config_hash", H5T_NATIVE_UINT64, H5T_INTEGER, 8, 0, NULL,
                     &st->model_hash) < 0)
        return -1;
    char *dir = NULL;
    if (ckpt_h5_read_string(h, "/model/dir", &dir) < 0)
        return -1;
    snprintf(st->model_dir, sizeof st->model_dir, "%s", dir);
    free(dir);
    return 0;
}

/* The adapter's attributes: format version first, then rank, alpha, targets. */
static int read_header(const CkptH5 *h, CkptState *st) {
    int32_t version = 0;
    if (ckpt_h5_read_attr(h, "/", "format_version", H5T_NATIVE_INT32, H5T_INTEGER, 0,
                          &version) < 0)
        return -1;
    if (version != CKPT_FORMAT_VERSION)
        return err_set(h->err, "%s: format_version %d, this tlm reads version %d", h->path,
                       version, CKPT_FORMAT_VERSION);
    if (ckpt_h5_read_attr(h, "/adapter", "rank", H5T_NATIVE_INT32, H5T_INTEGER, 0,
                          &st->lora_rank) < 0 ||
        ckpt_h5_read_attr(h, "/adapter", "alpha", H5T_NATIVE_DOUBLE, H5T_FLOAT, 0,
                          &st->lora_alpha) < 0 ||
        ckpt_h5_read_attr_strings(h, "/adapter", "targets", st->targets[0], CKPT_MAX_TARGETS,
                                  CKPT_TARGET_BYTES, &st->n_targets) < 0)
        return -1;
    if (st->lora_rank < 1)
        return err_set(h->err, "%s: /adapter attribute rank: %d < 1", h->path, st->lora_rank);
    return 0;
}

/* What HDF5 would only call "not an HDF5 file": a path that does not exist or is no file. */
static int check_path(const char *path, Err *err) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return err_set(err, "%s: cannot read the checkpoint: %s", path,
                       errno == ENOENT ? "no such file" : strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return err_set(err, "%s: is a directory, expected a checkpoint file (ckpt-<step>.h5)",
                       path);
    return 0;
}

int ckpt_read(const char *path, CkptState *st, Err *err) {
    *st = (CkptState){0};
    if (check_path(path, err) != 0)
        return -1;
    CkptH5Quiet quiet;
    ckpt_h5_quiet(&quiet);
    CkptH5 h = {.path = path, .file = -1, .err = err};
    int rc = -1;
    hid_t fapl = -1;
    H5_CHECK_GOTO(&h, "file", fapl = ckpt_h5_fapl(), out);
    h.file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (h.file < 0) {
        ckpt_h5_fail(&h, TLM_SRC_FILE, __LINE__, __func__, "file",
                     "H5Fopen (truncated, corrupt or not an HDF5 file?)");
        goto out;
    }
    if (read_header(&h, st) < 0 || read_names(&h, st) < 0 ||
        read_group(&h, "/adapter", st, 0) < 0 || read_group(&h, "/optim/m", st, 1) < 0 ||
        read_group(&h, "/optim/v", st, 2) < 0 || read_state(&h, st) < 0 ||
        ckpt_scores_read(&h, &st->scores) < 0)
        goto out;
    rc = 0;
out:
    if (h.file >= 0 && H5Fclose(h.file) < 0 && rc == 0)
        rc = ckpt_h5_fail(&h, TLM_SRC_FILE, __LINE__, __func__, "file", "H5Fclose");
    if (fapl >= 0)
        H5Pclose(fapl);
    ckpt_h5_restore(&quiet);
    return rc;
}

int ckpt_verify(const char *path, Err *err) {
    CkptState st;
    int rc = ckpt_read(path, &st, err);
    ckpt_free(&st);
    return rc;
}

void ckpt_free(CkptState *st) {
    if (st == NULL)
        return;
    for (int i = 0; st->tensors != NULL && i < st->n_tensors; i++) {
        free(st->tensors[i].adam_v);
        free(st->tensors[i].adam_m);
        free(st->tensors[i].param);
        free(st->tensors[i].name);
    }
    free(st->tensors);
    free(st->stream_pos);
    free(st->job_yaml);
    ckpt_scores_free(&st->scores);
    *st = (CkptState){0};
}
