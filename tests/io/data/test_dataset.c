/* tests/io/data/test_dataset.c -- the test stream: the four AdaptEval files (when ../shared
 * is here: counts, record lines and byte totals computed with Python's json and the
 * reference's "\n".join rule), and small JSON/JSONL files written here for each error
 * kind, skipping, max_samples and format detection by content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io/data/dataset.h"
#include "tests/testutil.h"


static void assert_msg_ends(const char *msg, const char *want) {
    assert_true(tu_ends_with(msg, want));
}

static DsConfig alpaca(const char *path) {
    DsConfig c = {.path = path, .prompt_fields = {"instruction", "input"}, .n_prompt_fields = 2,
                  .response_field = "output", .max_samples = -1};
    return c;
}

typedef struct Expect {
    const char *file, *prompt0, *prompt1, *response;
    int64_t prompt_bytes, label_bytes, newlines, last_line;
} Expect;

static void test_adapteval(void **state) {
    /* Totals over the 5,000 records, from Python: sum(len(p.encode())) with
     * p = "\n".join(r[k] for k in fields if r.get(k)). */
    const Expect sets[] = {
        {"GenMedGPT_random_5k.json", "instruction", "input", "output", 1125389, 1182677, 5000, 24997},
        {"agriculture-qa_random_5k.json", "question", NULL, "answers", 264880, 764418, 83, 19998},
        {"wealth-alpaca_lora_random_5k.json", "instruction", "input", "output", 377778, 2971775, 1524, 24997},
        {"gsm8k_random_5k.json", "instruction", "input", "output", 2001872, 11567, 25000, 24997},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const Expect *e = &sets[i];
        char rel[256];
        snprintf(rel, sizeof rel, "data/adapteval/%s", e->file);
        DsConfig c = {.path = tu_path(tu_shared_dir(), rel), .prompt_fields = {e->prompt0, e->prompt1},
                      .n_prompt_fields = e->prompt1 ? 2 : 1, .response_field = e->response,
                      .max_samples = -1};
        Err err = {{0}};
        Dataset *ds = ds_open(&c, &err);
        if (ds == NULL)
            printf("%s\n", err.msg);
        assert_non_null(ds);
        assert_int_equal(ds_total(ds), 5000);
        int64_t n = 0, pb = 0, lb = 0, nl = 0, last = 0;
        DsSample s;
        int rc;
        while ((rc = ds_next(ds, &s, &err)) == 1) {
            assert_int_equal(s.index, n);
            assert_int_equal(s.record, n);
            assert_true(s.has_response);
            if (n == 1)
                assert_int_equal(s.line, e->prompt1 ? 7 : 6);
            pb += (int64_t)strlen(s.prompt);
            lb += (int64_t)strlen(s.label);
            for (const char *p = s.prompt; *p; p++)
                nl += *p == '\n';
            last = s.line;
            n++;
            ds_sample_free(&s);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(n, 5000);
        assert_int_equal(pb, e->prompt_bytes);
        assert_int_equal(lb, e->label_bytes);
        assert_int_equal(nl, e->newlines);
        assert_int_equal(last, e->last_line);
        assert_int_equal(ds_skipped(ds), 0);
        ds_close(ds);
    }
}

static void test_jsonl_and_mapping(void **state) {
    /* .json extension, JSONL content: decided by content. */
    const char *path = tu_write_tmp("small.json",
                                 "{\"instruction\": \"Say hi\", \"input\": \"to Bob\", \"output\": \"hi Bob\"}\n"
                                 "\n"
                                 "  {\"instruction\": \"Count\", \"input\": \"\", \"output\": 3}\n"
                                 "{\"instruction\": \"caf\\u00e9\", \"input\": null}\r\n"
                                 "{\"instruction\": \"\", \"input\": \"only input\", \"output\": null}\n");
    DsConfig c = alpaca(path);
    Err err = {{0}};
    Dataset *ds = ds_open(&c, &err);
    assert_non_null(ds);
    assert_int_equal(ds_total(ds), 4);
    DsSample s;
    assert_int_equal(ds_next(ds, &s, &err), 1);
    assert_string_equal(s.prompt, "Say hi\nto Bob");
    assert_string_equal(s.label, "hi Bob");
    assert_int_equal(s.line, 1);
    assert_int_equal(s.has_response, 1);
    ds_sample_free(&s);
    assert_int_equal(ds_next(ds, &s, &err), 1);
    assert_string_equal(s.prompt, "Count"); /* empty input: no trailing "\n" */
    assert_string_equal(s.label, "");        /* a number: the reference drops it */
    assert_int_equal(s.has_response, 0);
    assert_int_equal(s.line, 3);
    ds_sample_free(&s);
    assert_int_equal(ds_next(ds, &s, &err), 1);
    assert_string_equal(s.prompt, "caf\xc3\xa9");
    assert_int_equal(s.has_response, 0); /* missing response field */
    ds_sample_free(&s);
    assert_int_equal(ds_next(ds, &s, &err), 1);
    assert_string_equal(s.prompt, "only input");
    assert_int_equal(s.index, 3);
    ds_sample_free(&s);
    assert_int_equal(ds_next(ds, &s, &err), 0);
    ds_close(ds);

    /* .jsonl extension, a compact JSON array; max_samples takes the first records. */
    path = tu_write_tmp("array.jsonl", "\xef\xbb\xbf\n [{\"instruction\":\"a\",\"input\":\"b\"},"
                                    "{\"instruction\":\"c\",\"input\":\"[}\\\"\"},\n"
                                    "{\"instruction\":\"e\",\"input\":\"\"}]\n");
    c = alpaca(path);
    c.max_samples = 2;
    ds = ds_open(&c, &err);
    assert_non_null(ds);
    assert_int_equal(ds_total(ds), 2);
    assert_int_equal(ds_next(ds, &s, &err), 1);
    assert_string_equal(s.prompt, "a\nb");
    assert_int_equal(s.line, 2);
    ds_sample_free(&s);
    assert_int_equal(ds_next(ds, &s, &err), 1);
    assert_string_equal(s.prompt, "c\n[}\"");
    ds_sample_free(&s);
    assert_int_equal(ds_next(ds, &s, &err), 0);
    ds_close(ds);
}

/* Opens text as a file and reads to the first error; returns the samples read. */
static int read_until_error(const char *name, const char *text, int skip_bad, const char *want,
                            int64_t want_skipped) {
    const char *path = tu_write_tmp(name, text);
    DsConfig c = alpaca(path);
    c.skip_bad = skip_bad;
    Err err = {{0}};
    Dataset *ds = ds_open(&c, &err);
    assert_non_null(ds);
    DsSample s;
    int rc, n = 0;
    while ((rc = ds_next(ds, &s, &err)) == 1) {
        n++;
        ds_sample_free(&s);
    }
    if (want != NULL) {
        char full[4096];
        snprintf(full, sizeof full, "%s%s", path, want);
        assert_int_equal(rc, -1);
        assert_msg_ends(err.msg, full);
    } else {
        if (rc != 0)
            printf("%s\n", err.msg);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(ds_skipped(ds), want_skipped);
    ds_close(ds);
    return n;
}

static void test_errors(void **state) {
    const char *jsonl = "{\"instruction\": \"a\", \"input\": \"\"}\n"
                        "{\"instruction\": \"b\", \"input\": \"\"}\n"
                        "{\"instruction\": \"c\", \"input\": }\n"
                        "[1, 2]\n"
                        "{\"instruction\": 5, \"input\": \"\"}\n"
                        "{\"instruction\": \"f\"}\n"
                        "{\"instruction\": \"g\", \"input\": \"\"}\n";
    assert_int_equal(read_until_error("bad.jsonl", jsonl, 0,
                                      ":3: record 2: malformed JSON: unexpected token near '}' "
                                      "(line 3, column 31)", 0), 2);
    assert_int_equal(read_until_error("bad.jsonl", jsonl, 1, NULL, 4), 3);
    assert_int_equal(read_until_error("bad.jsonl", "{\"instruction\": \"a\", \"input\": \"\"}\n[1]\n",
                                      0, ":2: record 1: expected a JSON object, got an array", 0),
                     1);
    /* Starting with '[' makes the file a JSON array: its first record is the number 1. */
    assert_int_equal(read_until_error("bad.jsonl", strstr(jsonl, "[1, 2]"), 0,
                                      ":1: record 0: expected a JSON object, got a number", 0), 0);
    assert_int_equal(read_until_error("bad.jsonl", strstr(jsonl, "{\"instruction\": 5"), 0,
                                      ":1: record 0: prompt field \"instruction\": expected a "
                                      "string, got a number", 0), 0);
    assert_int_equal(read_until_error("bad.jsonl", strstr(jsonl, "{\"instruction\": \"f\"}"), 0,
                                      ":1: record 0: missing prompt field \"input\"", 0), 0);

    const char *array = "[\n  {\"instruction\": \"a\", \"input\": \"\"},\n"
                        "  {\"instruction\": \"b\",\n   \"input\": tru},\n"
                        "  {\"instruction\": \"c\", \"input\": \"\"}\n]\n";
    assert_int_equal(read_until_error("bad.json", array, 0,
                                      ":3: record 1: malformed JSON: invalid token near 'tru' "
                                      "(line 4, column 15)", 0), 1);
    assert_int_equal(read_until_error("bad.json", array, 1, NULL, 1), 2);
    /* Structure broken between records: fatal even when skipping. */
    assert_int_equal(read_until_error("bad.json", "[{\"instruction\": \"a\", \"input\": \"\"}\n"
                                                  " {\"instruction\": \"b\", \"input\": \"\"}]", 1,
                                      ":2: expected ',' or ']' after a record", 0), 1);
    assert_int_equal(read_until_error("bad.json", "[{\"instruction\": \"a\", \"input\": \"\"},\n"
                                                  " {\"instruction\": \"b\", \"in", 0,
                                      ":2: unexpected end of file inside a record (truncated "
                                      "file?)", 0), 1);
    assert_int_equal(read_until_error("bad.json", "[{\"instruction\": \"a\", \"input\": \"\"},]",
                                      0, ":1: expected a record", 0), 1);
    assert_int_equal(read_until_error("bad.json", "[{\"instruction\": \"a\", \"input\": \"\"}\n",
                                      0, ":2: unexpected end of file (truncated array?)", 0), 1);
    assert_int_equal(read_until_error("empty.json", "[ ]", 0, NULL, 0), 0);

    DsConfig c = alpaca(tu_write_tmp("blank.json", " \n\n"));
    Err err = {{0}};
    assert_null(ds_open(&c, &err));
    assert_msg_ends(err.msg, "blank.json: empty data file (no records)");
    c.path = "/nonexistent/data.json";
    assert_null(ds_open(&c, &err));
    assert_msg_ends(err.msg, "/nonexistent/data.json: cannot open data file: No such file or "
                             "directory");
}

/* No argument: the small files written here. --adapteval: the AdaptEval files in
 * ../shared (ctest test_dataset_adapteval, label shared; skipped without them). */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--adapteval") == 0) {
        if (tu_shared_dir() == NULL)
            tu_skip("../shared (the AdaptEval files) is absent");
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_adapteval)};
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_and_mapping),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
