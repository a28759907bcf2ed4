/* io/model/safetensors_write.c -- st_write: a new .safetensors file, written atomically.
 * Layout as Hugging Face's writer: u64 header length, JSON header padded with spaces to
 * a multiple of 8 (so every tensor starts 8-byte aligned in a mapping), then the tensors
 * back to back in the order given. */
#include "io/model/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "io/base/atomic_file.h"

static int tensor_bytes(const char *path, const StOut *t, int streamed, size_t *n_bytes,
                        Err *err) {
    if (t->name == NULL || t->name[0] == '\0' || strcmp(t->name, "__metadata__") == 0)
        return err_set(err, "%s: tensor name \"%s\" is not allowed", path,
                       t->name != NULL ? t->name : "(null)");
    if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
        return err_set(err, "%s: tensor \"%s\": %d dimensions (0..%d allowed)", path, t->name,
                       t->ndim, ST_MAX_DIMS);
    size_t n = dtype_bytes(t->dtype);
    if (n == 0)
        return err_set(err, "%s: tensor \"%s\": unknown dtype %d", path, t->name, (int)t->dtype);
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0 || __builtin_mul_overflow(n, (size_t)t->shape[i], &n))
            return err_set(err, "%s: tensor \"%s\": bad shape[%d] = %lld", path, t->name, i,
                           (long long)t->shape[i]);
    if (n > 0 && t->data == NULL && !streamed)
        return err_set(err, "%s: tensor \"%s\": no data", path, t->name);
    *n_bytes = n;
    return 0;
}

/* The header text (owned-after-return, free()), already padded to a multiple of 8. */
static char *build_header(const char *path, const StOut *tensors, int n, int streamed,
                          const char *const *meta_kv, int n_meta, size_t *hlen, Err *err) {
    json_t *root = json_object();
    char *text = NULL;
    if (root == NULL)
        goto oom;
    if (n_meta > 0) {
        json_t *meta = json_object();
        if (meta == NULL || json_object_set_new(root, "__metadata__", meta) != 0)
            goto oom;
        for (int i = 0; i < n_meta; i++)
            if (json_object_set_new(meta, meta_kv[2 * i], json_string(meta_kv[2 * i + 1])) != 0) {
                err_set(err, "%s: __metadata__ key \"%s\": value must be valid UTF-8", path,
                        meta_kv[2 * i]);
                goto fail;
            }
    }
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        size_t nb;
        if (tensor_bytes(path, &tensors[i], streamed, &nb, err) != 0)
            goto fail;
        if (json_object_get(root, tensors[i].name) != NULL) {
            err_set(err, "%s: tensor \"%s\" given twice", path, tensors[i].name);
            goto fail;
        }
        json_t *shape = json_array();
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype_name(tensors[i].dtype),
                              "shape", shape, "data_offsets", (json_int_t)offset,
                              (json_int_t)(offset + nb));
        for (int d = 0; shape != NULL && d < tensors[i].ndim; d++)
            json_array_append_new(shape, json_integer(tensors[i].shape[d]));
        if (e == NULL || json_object_set_new(root, tensors[i].name, e) != 0)
            goto oom;
        offset += nb;
    }
    char *raw = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (raw == NULL)
        goto oom;
    size_t len = strlen(raw), padded = (len + 7) / 8 * 8;
    text = malloc(padded + 1);
    if (text != NULL) {
        memcpy(text, raw, len);
        memset(text + len, ' ', padded - len);
        text[padded] = '\0';
        *hlen = padded;
    }
    free(raw);
    if (text == NULL)
        goto oom;
    json_decref(root);
    return text;
oom:
    err_set(err, "%s: out of memory building the header", path);
fail:
    json_decref(root);
    return NULL;
}

int st_write_stream(const char *path, const StOut *tensors, int n, const char *const *meta_kv,
                    int n_meta, StProduce produce, void *ctx, Err *err) {
    size_t hlen = 0;
    char *header = build_header(path, tensors, n, produce != NULL, meta_kv, n_meta, &hlen, err);
    if (header == NULL)
        return -1;
    AtomicFile *af = af_open(path, err);
    if (af == NULL) {
        free(header);
        return -1;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    int rc = af_write(af, len8, sizeof len8, err);
    if (rc == 0)
        rc = af_write(af, header, hlen, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        size_t nb = 0;
        const void *data = tensors[i].data;
        tensor_bytes(path, &tensors[i], produce != NULL, &nb, NULL); /* validated above */
        if (produce != NULL && nb > 0 && (rc = produce(ctx, i, &data, err)) != 0)
            break;
        rc = af_write(af, data, nb, err);
    }
    free(header);
    if (rc != 0) {
        af_abort(af);
        return -1;
    }
    return af_commit(af, err);
}

int st_write(const char *path, const StOut *tensors, int n, const char *const *meta_kv,
             int n_meta, Err *err) {
    return st_write_stream(path, tensors, n, meta_kv, n_meta, NULL, NULL, err);
}
