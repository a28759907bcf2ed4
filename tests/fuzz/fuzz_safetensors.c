/* tests/fuzz/fuzz_safetensors.c -- st_open on arbitrary bytes: the header's JSON, every
 * dtype, shape and offset checked against the file. An accepted file's tensors are read
 * to the last byte (ASan sees any extent past the mapping) and must agree with their
 * dtype and shape. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "io/model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err = {0};
    SafeTensors *st = st_open(fuzz_write("model.safetensors", data, size), &err);
    if (st == NULL) {
        FUZZ_CHECK(err.msg[0] != '\0'); /* a refusal always says why */
        return 0;
    }
    unsigned sum = 0;
    for (int i = 0; i < st_count(st); i++) {
        StTensor t = st_at(st, i);
        FUZZ_CHECK(t.name != NULL && t.ndim >= 0 && t.ndim <= ST_MAX_DIMS);
        size_t n = dtype_bytes(t.dtype);
        for (int d = 0; d < t.ndim; d++)
            n *= (size_t)t.shape[d];
        FUZZ_CHECK(n == t.n_bytes);
        for (size_t b = 0; b < t.n_bytes; b++)
            sum += ((const unsigned char *)t.data)[b];
        FUZZ_CHECK(st_has(st, t.name));
    }
    st_close(st);
    return (int)(sum & 0); /* the sum only makes the reads real */
}
