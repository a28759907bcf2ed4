/* io/model/safetensors.h -- read-only, memory-mapped views of .safetensors files.
 * st_open maps one file and validates its JSON header (every offset, length, dtype and
 * shape is bounds-checked against the file size); st_dir_open opens a Hugging Face model
 * directory, single file or sharded (model.safetensors.index.json), and finds each
 * tensor's shard. No dtype conversion and no device copies here (worker/model/model.c does
 * those). st_write writes a new file (used by convert and export). Not thread-safe. */
#ifndef TLM_IO_SAFETENSORS_H
#define TLM_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "io/base/err.h"
#include "io/base/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ST_MAX_DIMS 8

typedef struct StTensor {
    const char *name;  /* borrowed from the file's entry */
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;  /* borrowed: points into the mapping, valid until st_close */
    size_t n_bytes;
} StTensor;

typedef struct SafeTensors SafeTensors; /* one mapped file */
typedef struct StDir StDir;             /* a model directory: one or many files */

/* Maps path; returns NULL with err naming the file (and tensor) on any defect. */
SafeTensors *st_open(const char *path, Err *err);
void st_close(SafeTensors *st); /* accepts NULL */
int st_count(const SafeTensors *st);
/* The i-th tensor (0 <= i < st_count) in header order. */
StTensor st_at(const SafeTensors *st, int i);
/* Finds name; when ndim >= 0 also checks the shape. Errors name file, tensor, shapes. */
int st_get(const SafeTensors *st, const char *name, int ndim, const int64_t *shape,
           StTensor *out, Err *err);
/* 1 when the file holds a tensor of that name. */
int st_has(const SafeTensors *st, const char *name);
/* The path the file was opened with (borrowed, valid until st_close). */
const char *st_path(const SafeTensors *st);

/* Opens dir/model.safetensors or dir/model.safetensors.index.json and its shards. */
StDir *st_dir_open(const char *dir, Err *err);
void st_dir_close(StDir *d);
/* As st_get over every shard; ndim < 0 skips the shape check. */
int st_dir_get(const StDir *d, const char *name, int ndim, const int64_t *shape,
               StTensor *out, Err *err);
/* 1 when the directory holds a tensor of that name. */
int st_dir_has(const StDir *d, const char *name);
/* The directory's files (1 for model.safetensors, else the shards in index order);
 * borrowed, valid until st_dir_close. Lets a loader walk every tensor with st_at. */
int st_dir_n_files(const StDir *d);
const SafeTensors *st_dir_file(const StDir *d, int i);

/* A tensor to write: name and data borrowed; data is host memory of shape x dtype. */
typedef struct StOut {
    const char *name;
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} StOut;

/* Writes n tensors (and optional __metadata__ string pairs, meta_kv[2*i] key,
 * meta_kv[2*i+1] value) to path atomically (temp file, fsync, rename). */
int st_write(const char *path, const StOut *tensors, int n, const char *const *meta_kv,
             int n_meta, Err *err);

/* Fills *data with tensor i's bytes (host, as its StOut describes), valid until the next
 * call; a non-zero return stops the write (err filled). */
typedef int (*StProduce)(void *ctx, int i, const void **data, Err *err);

/* st_write for tensors too large to hold at once: the StOut data pointers are ignored
 * and produce(ctx, i, ...) is asked for each tensor's bytes, in order, while the file is
 * written, so a caller converting tensors needs memory for one tensor only. */
int st_write_stream(const char *path, const StOut *tensors, int n, const char *const *meta_kv,
                    int n_meta, StProduce produce, void *ctx, Err *err);

#ifdef __cplusplus
}
#endif
#endif
