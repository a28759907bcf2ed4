/* io/ckpt/ckpt_h5.h -- internal to io/ckpt*.c: the H5_CHECK macros that turn a failed HDF5
 * call into an Err naming the checkpoint file, the dataset and HDF5's own reason; small
 * typed helpers (scalar/array/string datasets and attributes) that validate what they
 * read (ckpt_h5.c writes, ckpt_h5_read.c reads); and the /scores table's writer and
 * reader (ckpt_scores.c). Not a general HDF5 wrapper: only what the checkpoint layout
 * needs. Every helper closes what it opens, in reverse order, on every path. */
#ifndef TLM_IO_CKPT_H5_H
#define TLM_IO_CKPT_H5_H

#include <hdf5.h>
#include <stdint.h>

#include "io/ckpt/ckpt.h"
#include "io/base/err.h"

/* One checkpoint file being read or written: the path for messages, the open file and
 * where errors go (both borrowed). */
typedef struct CkptH5 {
    const char *path;
    hid_t file;
    Err *err;
} CkptH5;

/* Sets h->err to "<path>: <obj>: <expr> failed: <HDF5's innermost reasons>", clears
 * HDF5's error stack, returns -1. src/line/func: the caller's location. */
int ckpt_h5_fail(const CkptH5 *h, const char *src, int line, const char *func,
                 const char *obj, const char *expr);

/* call returns herr_t/hid_t/htri_t; negative is failure. obj names the dataset/group. */
#define H5_CHECK(h, obj, call)                                                            \
    do {                                                                                  \
        if ((call) < 0)                                                                   \
            return ckpt_h5_fail((h), TLM_SRC_FILE, __LINE__, __func__, (obj), #call);     \
    } while (0)
#define H5_CHECK_GOTO(h, obj, call, label)                                                \
    do {                                                                                  \
        if ((call) < 0) {                                                                 \
            ckpt_h5_fail((h), TLM_SRC_FILE, __LINE__, __func__, (obj), #call);            \
            goto label;                                                                   \
        }                                                                                 \
    } while (0)

/* Saves HDF5's automatic error printing and turns it off; restore puts it back. */
typedef struct CkptH5Quiet {
    H5E_auto2_t func;
    void *data;
} CkptH5Quiet;
void ckpt_h5_quiet(CkptH5Quiet *q);
void ckpt_h5_restore(const CkptH5Quiet *q);

/* A file-access property list for checkpoint files (owned-after-return, H5Pclose):
 * H5F_CLOSE_SEMI (H5Fclose fails if a handle was left open rather than deferring the
 * close), and file locking that is ignored where the file system lacks it (Lustre and
 * NFS mounts without flock, where HDF5 1.10 would otherwise refuse to open). */
hid_t ckpt_h5_fapl(void);

/* ---- writing (loc: a file or group id; name relative to it) ---- */

/* A dataset of ndim (0 = scalar) dims from host data of mem_type, stored as file_type. */
int ckpt_h5_write(const CkptH5 *h, hid_t loc, const char *name, hid_t mem_type,
                  hid_t file_type, int ndim, const hsize_t *dims, const void *data);
/* A scalar fixed-length string dataset holding s (borrowed). */
int ckpt_h5_write_string(const CkptH5 *h, hid_t loc, const char *name, const char *s);
/* An attribute of obj (n == 0: scalar, else 1-D of n) from mem_type data. */
int ckpt_h5_write_attr(const CkptH5 *h, hid_t obj, const char *obj_name, const char *name,
                       hid_t mem_type, hid_t file_type, hsize_t n, const void *data);
/* A 1-D attribute of n fixed-length strings (each NUL-terminated in stride bytes). */
int ckpt_h5_write_attr_strings(const CkptH5 *h, hid_t obj, const char *obj_name,
                               const char *name, const char *strs, int n, size_t stride);

/* ---- reading (names are absolute paths, "/state/step") ---- */

/* Opens an existing dataset; "missing dataset" error when any path component is absent. */
hid_t ckpt_h5_open(const CkptH5 *h, const char *name);
/* 1 when every component of the path exists, 0 when not, -1 on error. */
int ckpt_h5_exists(const CkptH5 *h, const char *name);

/* Reads dataset name into out (host), checking its type class (H5T_INTEGER/H5T_FLOAT),
 * element size (want_size > 0) and shape: ndim dims must equal dims (ndim 0: scalar). */
int ckpt_h5_read(const CkptH5 *h, const char *name, hid_t mem_type, H5T_class_t want_class,
                 size_t want_size, int ndim, const hsize_t *dims, void *out);
/* The rank and dims (up to 2) of dataset name; errors unless ndim is want_ndim. */
int ckpt_h5_shape(const CkptH5 *h, const char *name, int want_ndim, hsize_t *dims);
/* A scalar string dataset (owned-after-return, free()). */
int ckpt_h5_read_string(const CkptH5 *h, const char *name, char **out);
/* Attribute attr of object obj (an absolute path): n == 0 scalar, else 1-D of n. */
int ckpt_h5_read_attr(const CkptH5 *h, const char *obj, const char *attr, hid_t mem_type,
                      H5T_class_t want_class, hsize_t n, void *out);
/* A 1-D string attribute into strs (stride bytes each, at most max_n); *n_out = count. */
int ckpt_h5_read_attr_strings(const CkptH5 *h, const char *obj, const char *attr,
                              char *strs, int max_n, size_t stride, int *n_out);

/* ---- the score table (io/ckpt/ckpt_scores.c) ---- */

/* Creates /scores in h->file, an extendable chunked compound dataset (fletcher32), and
 * appends s's rows (borrowed) block by block, as a growing table is extended. */
int ckpt_scores_write(const CkptH5 *h, const CkptScores *s);
/* Reads /scores into *s (zeroed by the caller; rows owned-after-return), each field
 * checked by name and type class. */
int ckpt_scores_read(const CkptH5 *h, CkptScores *s);

#endif
