/* io/ckpt/ckpt_h5.c -- HDF5 error capture and the writing helpers of the checkpoint files
 * (see ckpt_h5.h); the reading helpers are in ckpt_h5_read.c. */
#include "io/ckpt/ckpt_h5.h"

#include <stdio.h>
#include <string.h>

/* What the error-stack walk keeps: the outermost (API) and innermost descriptions. */
typedef struct StackText {
    int n;
    char first[256], last[256];
} StackText;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    StackText *t = data;
    const char *desc = (e->desc != NULL && e->desc[0] != '\0') ? e->desc : "(no description)";
    if (t->n == 0)
        snprintf(t->first, sizeof t->first, "%s: %s", e->func_name ? e->func_name : "?", desc);
    snprintf(t->last, sizeof t->last, "%s", desc);
    t->n++;
    (void)n;
    return 0;
}

int ckpt_h5_fail(const CkptH5 *h, const char *src, int line, const char *func,
                 const char *obj, const char *expr) {
    StackText t = {0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &t);
    H5Eclear2(H5E_DEFAULT);
    const char *why = t.n == 0 ? "no HDF5 error recorded" : t.first;
    if (t.n > 1)
        return err_setf(h->err, src, line, func, "%s: %s: %s failed: %s (%s)", h->path, obj,
                        expr, why, t.last);
    return err_setf(h->err, src, line, func, "%s: %s: %s failed: %s", h->path, obj, expr, why);
}

void ckpt_h5_quiet(CkptH5Quiet *q) {
    q->func = NULL;
    q->data = NULL;
    if (H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) < 0)
        q->func = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void ckpt_h5_restore(const CkptH5Quiet *q) {
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

hid_t ckpt_h5_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    if (H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) < 0
#if H5_VERSION_GE(1, 10, 7)
        || H5Pset_file_locking(fapl, 1, 1) < 0
#endif
    ) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

int ckpt_h5_write(const CkptH5 *h, hid_t loc, const char *name, hid_t mem_type,
                  hid_t file_type, int ndim, const hsize_t *dims, const void *data) {
    int rc = -1;
    hid_t space = -1, dset = -1;
    H5_CHECK_GOTO(h, name, space = ndim == 0 ? H5Screate(H5S_SCALAR)
                                             : H5Screate_simple(ndim, dims, NULL), out);
    H5_CHECK_GOTO(h, name, dset = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT,
                                             H5P_DEFAULT, H5P_DEFAULT), out);
    H5_CHECK_GOTO(h, name, H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), out);
    rc = 0;
out:
    if (dset >= 0 && H5Dclose(dset) < 0 && rc == 0)
        rc = ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, name, "H5Dclose");
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* A fixed-length NUL-terminated C string type of n_bytes (> 0). */
static hid_t string_type(size_t n_bytes) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    if (H5Tset_size(t, n_bytes) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

int ckpt_h5_write_string(const CkptH5 *h, hid_t loc, const char *name, const char *s) {
    hid_t type = -1;
    H5_CHECK(h, name, type = string_type(strlen(s) + 1));
    int rc = ckpt_h5_write(h, loc, name, type, type, 0, NULL, s);
    H5Tclose(type);
    return rc;
}

int ckpt_h5_write_attr(const CkptH5 *h, hid_t obj, const char *obj_name, const char *name,
                       hid_t mem_type, hid_t file_type, hsize_t n, const void *data) {
    char what[256];
    snprintf(what, sizeof what, "%s attribute %s", obj_name, name);
    int rc = -1;
    hid_t space = -1, attr = -1;
    H5_CHECK_GOTO(h, what, space = n == 0 ? H5Screate(H5S_SCALAR)
                                          : H5Screate_simple(1, &n, NULL), out);
    H5_CHECK_GOTO(h, what, attr = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT,
                                             H5P_DEFAULT), out);
    H5_CHECK_GOTO(h, what, H5Awrite(attr, mem_type, data), out);
    rc = 0;
out:
    if (attr >= 0 && H5Aclose(attr) < 0 && rc == 0)
        rc = ckpt_h5_fail(h, TLM_SRC_FILE, __LINE__, __func__, what, "H5Aclose");
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

int ckpt_h5_write_attr_strings(const CkptH5 *h, hid_t obj, const char *obj_name,
                               const char *name, const char *strs, int n, size_t stride) {
    hid_t type = -1;
    H5_CHECK(h, name, type = string_type(stride));
    int rc = ckpt_h5_write_attr(h, obj, obj_name, name, type, type, (hsize_t)n, strs);
    H5Tclose(type);
    return rc;
}

uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n_bytes) {
    uint32_t table[256]; /* built per call: 256 x 8 shifts, negligible next to the data */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n_bytes; i++)
        crc = table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}
