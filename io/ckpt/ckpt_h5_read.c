/* io/ckpt/ckpt_h5_read.c -- the validating readers of the checkpoint files (see ckpt_h5.h):
 * every dataset is checked for presence, type class and shape before it is read, and
 * each defect becomes a message naming the file and the dataset. */
#include "io/ckpt/ckpt_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    default: return "other";
    }
}

int ckpt_h5_exists(const CkptH5 *h, const char *name) {
    char part[512];
    size_t n = strlen(name);
    if (n >= sizeof part)
        return err_set(h->err, "%s: %s: name too long", h->path, name);
    /* Check each prefix "/a", "/a/b", ...: H5Lexists fails on a missing middle group. */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && name[i] != '/')
            continue;
        memcpy(part, name, i);
        part[i] = '\0';
        htri_t e = H5Lexists(h->file, part, H5P_DEFAULT);
        if (e < 0)
            return ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, part, "H5Lexists");
        if (e == 0)
            return 0;
    }
    return 1;
}

hid_t ckpt_h5_open(const CkptH5 *h, const char *name) {
    int e = ckpt_h5_exists(h, name);
    if (e < 0)
        return -1;
    if (e == 0)
        return err_set(h->err, "%s: dataset %s missing (not a tlm checkpoint, or written by "
                       "an incompatible version)", h->path, name);
    hid_t d = H5Dopen2(h->file, name, H5P_DEFAULT);
    if (d < 0)
        return ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, name, "H5Dopen2");
    return d;
}

/* Checks the class (and size when want_size > 0) of type; names obj in the error. */
static int check_type(const CkptH5 *h, const char *obj, hid_t type, H5T_class_t want_class,
                      size_t want_size) {
    H5T_class_t c = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (c != want_class || (want_size > 0 && size != want_size))
        return err_set(h->err, "%s: %s: type %s of %zu bytes, expected %s of %zu bytes",
                       h->path, obj, class_name(c), size, class_name(want_class), want_size);
    return 0;
}

/* Checks the dataspace of space against ndim/dims (ndim 0: scalar or 1 element). */
static int check_space(const CkptH5 *h, const char *obj, hid_t space, int ndim,
                       const hsize_t *dims) {
    hsize_t got[8] = {0};
    int r = H5Sget_simple_extent_ndims(space);
    if (r < 0)
        return ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, obj, "H5Sget_simple_extent_ndims");
    if (r > 8 || H5Sget_simple_extent_dims(space, got, NULL) < 0)
        return err_set(h->err, "%s: %s: unreadable dataspace (rank %d)", h->path, obj, r);
    int same = r == ndim;
    for (int i = 0; same && i < r; i++)
        same = got[i] == dims[i];
    if (same)
        return 0;
    char g[128] = "", w[128] = "";
    for (int i = 0, o = 0; i < r && o < 120; i++)
        o += snprintf(g + o, sizeof g - o, "%s%llu", i ? "," : "", (unsigned long long)got[i]);
    for (int i = 0, o = 0; i < ndim && o < 120; i++)
        o += snprintf(w + o, sizeof w - o, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    return err_set(h->err, "%s: %s: shape [%s], expected [%s]", h->path, obj, g, w);
}

int ckpt_h5_read(const CkptH5 *h, const char *name, hid_t mem_type, H5T_class_t want_class,
                 size_t want_size, int ndim, const hsize_t *dims, void *out) {
    int rc = -1;
    hid_t dset = -1, type = -1, space = -1;
    if ((dset = ckpt_h5_open(h, name)) < 0)
        return -1;
    H5_CHECK_GOTO(h, name, type = H5Dget_type(dset), done);
    H5_CHECK_GOTO(h, name, space = H5Dget_space(dset), done);
    if (check_type(h, name, type, want_class, want_size) < 0 ||
        check_space(h, name, space, ndim, dims) < 0)
        goto done;
    H5_CHECK_GOTO(h, name, H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), done);
    rc = 0;
done:
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(dset);
    return rc;
}

int ckpt_h5_shape(const CkptH5 *h, const char *name, int want_ndim, hsize_t *dims) {
    int rc = -1;
    hid_t dset = -1, space = -1;
    if ((dset = ckpt_h5_open(h, name)) < 0)
        return -1;
    H5_CHECK_GOTO(h, name, space = H5Dget_space(dset), done);
    int r = H5Sget_simple_extent_ndims(space);
    if (r != want_ndim) {
        err_set(h->err, "%s: %s: rank %d, expected %d", h->path, name, r, want_ndim);
        goto done;
    }
    H5_CHECK_GOTO(h, name, H5Sget_simple_extent_dims(space, dims, NULL), done);
    rc = 0;
done:
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(dset);
    return rc;
}

int ckpt_h5_read_string(const CkptH5 *h, const char *name, char **out) {
    int rc = -1;
    hid_t dset = -1, type = -1, mem = -1;
    char *buf = NULL;
    *out = NULL;
    if ((dset = ckpt_h5_open(h, name)) < 0)
        return -1;
    H5_CHECK_GOTO(h, name, type = H5Dget_type(dset), done);
    if (check_type(h, name, type, H5T_STRING, 0) < 0)
        goto done;
    if (H5Tis_variable_str(type) != 0) {
        err_set(h->err, "%s: %s: variable-length string, expected fixed-length", h->path, name);
        goto done;
    }
    size_t n = H5Tget_size(type);
    if (n == 0 || (buf = calloc(n + 1, 1)) == NULL) {
        err_set(h->err, "%s: %s: cannot hold a %zu-byte string", h->path, name, n);
        goto done;
    }
    H5_CHECK_GOTO(h, name, mem = H5Tcopy(type), done);
    H5_CHECK_GOTO(h, name, H5Dread(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), done);
    *out = buf;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    if (mem >= 0)
        H5Tclose(mem);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(dset);
    return rc;
}

/* Opens attribute attr of obj with a "missing attribute" message. */
static hid_t open_attr(const CkptH5 *h, const char *obj, const char *attr, char *what,
                       size_t what_bytes) {
    snprintf(what, what_bytes, "%s attribute %s", obj, attr);
    int e = ckpt_h5_exists(h, obj);
    if (e < 0)
        return -1;
    htri_t a = e ? H5Aexists_by_name(h->file, obj, attr, H5P_DEFAULT) : 0;
    if (a < 0)
        return ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, what, "H5Aexists_by_name");
    if (a == 0)
        return err_set(h->err, "%s: %s missing", h->path, what);
    hid_t id = H5Aopen_by_name(h->file, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0)
        return ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, what, "H5Aopen_by_name");
    return id;
}

int ckpt_h5_read_attr(const CkptH5 *h, const char *obj, const char *attr, hid_t mem_type,
                      H5T_class_t want_class, hsize_t n, void *out) {
    char what[256];
    int rc = -1;
    hid_t a = -1, type = -1, space = -1;
    if ((a = open_attr(h, obj, attr, what, sizeof what)) < 0)
        return -1;
    H5_CHECK_GOTO(h, what, type = H5Aget_type(a), done);
    H5_CHECK_GOTO(h, what, space = H5Aget_space(a), done);
    if (check_type(h, what, type, want_class, 0) < 0 ||
        check_space(h, what, space, n == 0 ? 0 : 1, &n) < 0)
        goto done;
    H5_CHECK_GOTO(h, what, H5Aread(a, mem_type, out), done);
    rc = 0;
done:
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Aclose(a);
    return rc;
}

int ckpt_h5_read_attr_strings(const CkptH5 *h, const char *obj, const char *attr,
                              char *strs, int max_n, size_t stride, int *n_out) {
    char what[256];
    int rc = -1;
    hid_t a = -1, type = -1, space = -1, mem = -1;
    if ((a = open_attr(h, obj, attr, what, sizeof what)) < 0)
        return -1;
    H5_CHECK_GOTO(h, what, type = H5Aget_type(a), done);
    H5_CHECK_GOTO(h, what, space = H5Aget_space(a), done);
    hsize_t n = 0;
    if (check_type(h, what, type, H5T_STRING, 0) < 0)
        goto done;
    if (H5Tis_variable_str(type) != 0 || H5Tget_size(type) > stride ||
        H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, &n, NULL) < 0 || n < 1 || n > (hsize_t)max_n) {
        err_set(h->err, "%s: %s: expected 1..%d fixed-length strings of at most %zu bytes",
                h->path, what, max_n, stride);
        goto done;
    }
    H5_CHECK_GOTO(h, what, mem = H5Tcopy(type), done); /* same cset and padding */
    H5_CHECK_GOTO(h, what, H5Tset_size(mem, stride), done);
    H5_CHECK_GOTO(h, what, H5Aread(a, mem, strs), done);
    for (hsize_t i = 0; i < n; i++)
        strs[i * stride + stride - 1] = '\0';
    *n_out = (int)n;
    rc = 0;
done:
    if (mem >= 0)
        H5Tclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Aclose(a);
    return rc;
}
