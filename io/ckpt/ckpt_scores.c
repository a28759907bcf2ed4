/* io/ckpt/ckpt_scores.c -- the per-sample score table of a checkpoint: /scores, an
 * extendable (unlimited, chunked, fletcher32-checked) compound dataset written by
 * appending blocks of rows, and read back with every field checked by name; plus the
 * growable in-memory CkptScores. */
#include "io/ckpt/ckpt_h5.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/vec.h"

#define SCORES_NAME "/scores"
#define SCORES_CHUNK_ROWS 1024 /* 1024 rows x 37 bytes: ~37 KB chunks */

/* The fields, in file order: name, memory offset, file type. */
typedef struct ScoreField {
    const char *name;
    size_t offset;
    hid_t file_type;
} ScoreField;

static int fields(ScoreField *f) {
    const ScoreField all[] = {
        {"sample", offsetof(CkptScoreRow, sample), H5T_STD_I64LE},
        {"rank", offsetof(CkptScoreRow, rank), H5T_STD_I32LE},
        {"step", offsetof(CkptScoreRow, step), H5T_STD_I64LE},
        {"tokens", offsetof(CkptScoreRow, tokens), H5T_STD_I32LE},
        {"ce", offsetof(CkptScoreRow, ce), H5T_IEEE_F32LE},
        {"ppl", offsetof(CkptScoreRow, ppl), H5T_IEEE_F32LE},
        {"selected", offsetof(CkptScoreRow, selected), H5T_STD_U8LE},
        {"weight", offsetof(CkptScoreRow, weight), H5T_IEEE_F32LE},
    };
    memcpy(f, all, sizeof all);
    return (int)(sizeof all / sizeof all[0]);
}

/* The native type of each field, matching CkptScoreRow. */
static hid_t native_of(int i) {
    const hid_t t[] = {H5T_NATIVE_INT64, H5T_NATIVE_INT32, H5T_NATIVE_INT64, H5T_NATIVE_INT32,
                       H5T_NATIVE_FLOAT, H5T_NATIVE_FLOAT, H5T_NATIVE_UINT8, H5T_NATIVE_FLOAT};
    return t[i];
}

/* file != 0: the packed little-endian file type; else the in-memory CkptScoreRow type. */
static hid_t score_type(int file) {
    ScoreField f[8];
    int n = fields(f);
    size_t size = 0;
    for (int i = 0; i < n; i++)
        size += H5Tget_size(f[i].file_type);
    hid_t t = H5Tcreate(H5T_COMPOUND, file ? size : sizeof(CkptScoreRow));
    if (t < 0)
        return -1;
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        hid_t ft = file ? f[i].file_type : native_of(i);
        if (H5Tinsert(t, f[i].name, file ? at : f[i].offset, ft) < 0) {
            H5Tclose(t);
            return -1;
        }
        at += H5Tget_size(f[i].file_type);
    }
    return t;
}

/* Appends n rows at the end of the open extendable dataset dset. */
static int append_rows(const CkptH5 *h, hid_t dset, hid_t mem_type, const CkptScoreRow *rows,
                       hsize_t n) {
    int rc = -1;
    hid_t fspace = -1, mspace = -1;
    hsize_t old = 0;
    H5_CHECK_GOTO(h, SCORES_NAME, fspace = H5Dget_space(dset), out);
    H5_CHECK_GOTO(h, SCORES_NAME, H5Sget_simple_extent_dims(fspace, &old, NULL), out);
    H5Sclose(fspace);
    fspace = -1;
    hsize_t total = old + n;
    H5_CHECK_GOTO(h, SCORES_NAME, H5Dset_extent(dset, &total), out);
    H5_CHECK_GOTO(h, SCORES_NAME, fspace = H5Dget_space(dset), out);
    H5_CHECK_GOTO(h, SCORES_NAME,
                  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &old, NULL, &n, NULL), out);
    H5_CHECK_GOTO(h, SCORES_NAME, mspace = H5Screate_simple(1, &n, NULL), out);
    H5_CHECK_GOTO(h, SCORES_NAME, H5Dwrite(dset, mem_type, mspace, fspace, H5P_DEFAULT, rows),
                  out);
    rc = 0;
out:
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return rc;
}

int ckpt_scores_write(const CkptH5 *h, const CkptScores *s) {
    int rc = -1;
    hid_t ftype = -1, mtype = -1, space = -1, dcpl = -1, dset = -1;
    hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = SCORES_CHUNK_ROWS;
    H5_CHECK_GOTO(h, SCORES_NAME, ftype = score_type(1), out);
    H5_CHECK_GOTO(h, SCORES_NAME, mtype = score_type(0), out);
    H5_CHECK_GOTO(h, SCORES_NAME, space = H5Screate_simple(1, &zero, &unlimited), out);
    H5_CHECK_GOTO(h, SCORES_NAME, dcpl = H5Pcreate(H5P_DATASET_CREATE), out);
    H5_CHECK_GOTO(h, SCORES_NAME, H5Pset_chunk(dcpl, 1, &chunk), out);
    H5_CHECK_GOTO(h, SCORES_NAME, H5Pset_fletcher32(dcpl), out);
    H5_CHECK_GOTO(h, SCORES_NAME, dset = H5Dcreate2(h->file, SCORES_NAME, ftype, space,
                                                    H5P_DEFAULT, dcpl, H5P_DEFAULT), out);
    for (int64_t at = 0; at < s->n_rows; at += SCORES_CHUNK_ROWS) {
        int64_t n = s->n_rows - at < SCORES_CHUNK_ROWS ? s->n_rows - at : SCORES_CHUNK_ROWS;
        if (append_rows(h, dset, mtype, s->rows + at, (hsize_t)n) < 0)
            goto out;
    }
    rc = 0;
out:
    if (dset >= 0 && H5Dclose(dset) < 0 && rc == 0)
        rc = ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, SCORES_NAME, "H5Dclose");
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    return rc;
}

/* Every field must be present in the file's compound type with the right class. */
static int check_fields(const CkptH5 *h, hid_t ftype) {
    if (H5Tget_class(ftype) != H5T_COMPOUND)
        return err_set(h->err, "%s: %s: not a compound dataset", h->path, SCORES_NAME);
    ScoreField f[8];
    int n = fields(f);
    for (int i = 0; i < n; i++) {
        int idx = H5Tget_member_index(ftype, f[i].name);
        if (idx < 0) {
            H5Eclear2(H5E_DEFAULT);
            return err_set(h->err, "%s: %s: field \"%s\" missing", h->path, SCORES_NAME,
                           f[i].name);
        }
        if (H5Tget_member_class(ftype, (unsigned)idx) != H5Tget_class(f[i].file_type))
            return err_set(h->err, "%s: %s: field \"%s\" has the wrong type class", h->path,
                           SCORES_NAME, f[i].name);
    }
    return 0;
}

int ckpt_scores_read(const CkptH5 *h, CkptScores *s) {
    int rc = -1;
    hid_t dset = -1, ftype = -1, mtype = -1, space = -1;
    CkptScoreRow *rows = NULL;
    if ((dset = ckpt_h5_open(h, SCORES_NAME)) < 0)
        return -1;
    H5_CHECK_GOTO(h, SCORES_NAME, ftype = H5Dget_type(dset), out);
    if (check_fields(h, ftype) < 0)
        goto out;
    H5_CHECK_GOTO(h, SCORES_NAME, mtype = score_type(0), out);
    H5_CHECK_GOTO(h, SCORES_NAME, space = H5Dget_space(dset), out);
    hsize_t n = 0;
    if (H5Sget_simple_extent_ndims(space) != 1) {
        err_set(h->err, "%s: %s: expected a 1-D table", h->path, SCORES_NAME);
        goto out;
    }
    H5_CHECK_GOTO(h, SCORES_NAME, H5Sget_simple_extent_dims(space, &n, NULL), out);
    if (n > 0 && (rows = malloc(n * sizeof *rows)) == NULL) {
        err_set(h->err, "%s: %s: out of memory for %llu rows", h->path, SCORES_NAME,
                (unsigned long long)n);
        goto out;
    }
    if (n > 0)
        H5_CHECK_GOTO(h, SCORES_NAME, H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows),
                      out);
    s->rows = rows;
    s->n_rows = s->cap_rows = (int64_t)n;
    rows = NULL;
    rc = 0;
out:
    free(rows);
    if (space >= 0)
        H5Sclose(space);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    H5Dclose(dset);
    return rc;
}

int ckpt_scores_append(CkptScores *s, const CkptScoreRow *rows, int64_t n_rows, Err *err) {
    if (n_rows < 0)
        return err_set(err, "negative row count %lld", (long long)n_rows);
    if (VEC_APPEND(s->rows, s->n_rows, s->cap_rows, rows, n_rows, err) != 0)
        return err_prefix(err, "score table: ");
    return 0;
}

void ckpt_scores_free(CkptScores *s) {
    if (s == NULL)
        return;
    free(s->rows);
    *s = (CkptScores){0};
}
