/* io/model/safetensors_dir.c -- a Hugging Face model directory as one set of tensors.
 * Either dir/model.safetensors, or dir/model.safetensors.index.json whose "weight_map"
 * sends each tensor name to a shard file; each shard is opened (and validated) once, and
 * every name the index promises must be in its shard. */
#include "io/model/safetensors.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct DirName {
    char *name;
    int file; /* index into StDir.files */
} DirName;

struct StDir {
    char *dir;
    SafeTensors **files;
    char **file_names; /* shard file names, parallel to files */
    int n_files;
    DirName *names; /* sorted by name; empty for a single-file directory */
    int n_names;
};

static int cmp_dir_name(const void *a, const void *b) {
    return strcmp(((const DirName *)a)->name, ((const DirName *)b)->name);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Index of shard fname in d->files, opening it on first sight. */
static int shard_index(StDir *d, const char *index_path, const char *fname, Err *err) {
    for (int i = 0; i < d->n_files; i++)
        if (strcmp(d->file_names[i], fname) == 0)
            return i;
    if (strchr(fname, '/') != NULL || strcmp(fname, "..") == 0 || fname[0] == '\0')
        return err_set(err, "%s: shard file name \"%s\" must be a plain file name in the "
                       "model directory", index_path, fname);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", d->dir, fname);
    char *copy = strdup(fname);
    if (copy == NULL)
        return err_set(err, "%s: out of memory", index_path);
    SafeTensors *st = st_open(path, err);
    if (st == NULL) {
        free(copy);
        return -1;
    }
    d->files[d->n_files] = st;
    d->file_names[d->n_files] = copy;
    return d->n_files++;
}

static int open_index(StDir *d, const char *index_path, Err *err) {
    json_error_t je;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return err_set(err, "%s: line %d: %s", index_path, je.line, je.text);
    int rc = 0;
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map) || json_object_size(map) == 0) {
        rc = err_set(err, "%s: key \"weight_map\": expected a non-empty object of tensor name "
                     "-> shard file", index_path);
        goto done;
    }
    size_t n = json_object_size(map);
    d->files = calloc(n, sizeof *d->files);
    d->file_names = calloc(n, sizeof *d->file_names);
    d->names = calloc(n, sizeof *d->names);
    if (d->files == NULL || d->file_names == NULL || d->names == NULL) {
        rc = err_set(err, "%s: out of memory", index_path);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        if (!json_is_string(v)) {
            rc = err_set(err, "%s: weight_map[\"%s\"]: expected a shard file name", index_path,
                         key);
            goto done;
        }
        int f = shard_index(d, index_path, json_string_value(v), err);
        if (f < 0) {
            rc = -1;
            goto done;
        }
        if (!st_has(d->files[f], key)) {
            rc = err_set(err, "%s: tensor \"%s\" is mapped to %s, which does not hold it",
                         index_path, key, json_string_value(v));
            goto done;
        }
        if ((d->names[d->n_names].name = strdup(key)) == NULL) {
            rc = err_set(err, "%s: out of memory", index_path);
            goto done;
        }
        d->names[d->n_names++].file = f;
    }
    qsort(d->names, (size_t)d->n_names, sizeof *d->names, cmp_dir_name);
done:
    json_decref(root);
    return rc;
}

StDir *st_dir_open(const char *dir, Err *err) {
    StDir *d = calloc(1, sizeof *d);
    if (d == NULL || (d->dir = strdup(dir)) == NULL) {
        free(d);
        err_set(err, "%s: out of memory", dir);
        return NULL;
    }
    char single[PATH_MAX], index[PATH_MAX];
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    if (file_exists(single)) {
        d->files = calloc(1, sizeof *d->files);
        d->file_names = calloc(1, sizeof *d->file_names);
        if (d->files == NULL || d->file_names == NULL ||
            (d->file_names[0] = strdup("model.safetensors")) == NULL) {
            err_set(err, "%s: out of memory", single);
            goto fail;
        }
        d->n_files = 1; /* st_dir_close copes with files[0] == NULL */
        if ((d->files[0] = st_open(single, err)) == NULL)
            goto fail;
        return d;
    }
    if (!file_exists(index)) {
        err_set(err, "%s: neither model.safetensors nor model.safetensors.index.json found "
                "(tlm never loads .bin/.pt pickles)", dir);
        goto fail;
    }
    if (open_index(d, index, err) != 0)
        goto fail;
    return d;
fail:
    st_dir_close(d);
    return NULL;
}

void st_dir_close(StDir *d) {
    if (d == NULL)
        return;
    for (int i = 0; i < d->n_files; i++)
        st_close(d->files[i]);
    for (int i = 0; i < d->n_files; i++)
        free(d->file_names[i]);
    for (int i = 0; i < d->n_names; i++)
        free(d->names[i].name);
    free(d->files);
    free(d->file_names);
    free(d->names);
    free(d->dir);
    free(d);
}

static const SafeTensors *dir_find(const StDir *d, const char *name) {
    if (d->names == NULL)
        return d->files[0];
    DirName key = {(char *)name, 0};
    const DirName *hit = bsearch(&key, d->names, (size_t)d->n_names, sizeof *d->names,
                                 cmp_dir_name);
    return hit != NULL ? d->files[hit->file] : NULL;
}

int st_dir_get(const StDir *d, const char *name, int ndim, const int64_t *shape,
               StTensor *out, Err *err) {
    const SafeTensors *st = dir_find(d, name);
    if (st == NULL)
        return err_set(err, "%s: tensor \"%s\" not in model.safetensors.index.json (%d "
                       "tensors in %d shards)", d->dir, name, d->n_names, d->n_files);
    return st_get(st, name, ndim, shape, out, err);
}

int st_dir_has(const StDir *d, const char *name) {
    const SafeTensors *st = dir_find(d, name);
    return st != NULL && st_has(st, name);
}

int st_dir_n_files(const StDir *d) { return d->n_files; }

const SafeTensors *st_dir_file(const StDir *d, int i) { return d->files[i]; }
