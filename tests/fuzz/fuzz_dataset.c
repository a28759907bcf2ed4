/* tests/fuzz/fuzz_dataset.c -- the dataset reader (JSON array or JSONL, decided by content)
 * over arbitrary bytes, failing and skipping bad records. Every delivered sample must be
 * a well-formed one: index in order, strings present, and the stream no longer than the
 * count ds_open promised. */
#include <stdint.h>

#include "fuzz_util.h"
#include "io/data/dataset.h"

static void read_all(const char *path, int skip_bad, int64_t max_samples) {
    DsConfig cfg = {.path = path, .prompt_fields = {"instruction", "input"},
                    .n_prompt_fields = 2, .response_field = "output",
                    .max_samples = max_samples, .skip_bad = skip_bad};
    Err err = {0};
    Dataset *ds = ds_open(&cfg, &err);
    if (ds == NULL) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return;
    }
    DsSample s = {0};
    int64_t n = 0;
    int rc;
    while ((rc = ds_next(ds, &s, &err)) == 1) {
        FUZZ_CHECK(s.index == n && s.prompt != NULL && s.label != NULL && s.line >= 1);
        ds_sample_free(&s);
        n++;
        FUZZ_CHECK(n + ds_skipped(ds) <= ds_total(ds));
    }
    FUZZ_CHECK(rc == 0 || (rc == -1 && err.msg[0] != '\0'));
    ds_close(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("data.jsonl", data, size);
    read_all(path, 0, -1);
    read_all(path, 1, -1);
    read_all(path, 1, 2);
    return 0;
}
