/* tests/jobs/test_job_guard.c -- what a job text must pass before libyaml builds a document
 * (jobs/job_yaml_guard.h): NUL bytes (a binary file), a UTF-8 BOM, a second document and
 * nesting past 64 are refused naming file:line:col, also through --set; a 200 KB job
 * nested 100k deep is refused at depth 65 (it used to spend > 120 s in
 * yaml_parser_load; the ctest timeout is what would catch a regression to that). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/job.h"
#include "tests/testutil.h"

static const char ok_head[] = "model: {path: m}\ndata: {path: d}\n";

/* Loads n bytes through a file (job_load, as tlm run does) and expects err to end with
 * "<path><want>". */
static void expect_refused(const char *text, size_t n, const char *want) {
    const char *path = tu_path(tu_tmp_dir(), "guard.yaml");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    char full[4096];
    snprintf(full, sizeof full, "%s%s", path, want);
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load(path, &s, &err), -1);
    if (!tu_ends_with(err.msg, full))
        fail_msg("got: %s\nwant the end: %s", err.msg, full);
}

static void test_nul_and_binary(void **state) {
    static const char nul[] = "model: {path: m}\ndata: {path: d}\n\0optim: {lr: -5}\n";
    expect_refused(nul, sizeof nul - 1, ":3:1: a NUL byte in the job file: expected YAML "
                                        "text (is it a binary file?)");
    static const char binary[] = "\x89HDF\r\n\x1a\n\0\0\0\0";
    expect_refused(binary, sizeof binary - 1, ":3:1: a NUL byte in the job file: expected "
                                              "YAML text (is it a binary file?)");
    static const char starts[] = "\0\1\2";
    expect_refused(starts, 3, ":1:1: a NUL byte in the job file: expected YAML text (is it a "
                              "binary file?)");
    /* job_load_text takes the length, so a NUL inside is seen there too */
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load_text(nul, sizeof nul - 1, "t.yaml", &s, &err), -1);
    assert_true(tu_ends_with(err.msg, "t.yaml:3:1: a NUL byte in the job file: expected "
                                      "YAML text (is it a binary file?)"));
    (void)state;
}

static void test_bom(void **state) {
    char text[256];
    snprintf(text, sizeof text, "\xEF\xBB\xBF%s", ok_head);
    expect_refused(text, strlen(text), ":1:1: the job file starts with a UTF-8 byte-order "
                                       "mark (BOM, bytes EF BB BF); save it as UTF-8 without "
                                       "a BOM");
    (void)state;
}

static void test_documents(void **state) {
    char text[256];
    snprintf(text, sizeof text, "%s---\noptim: {lr: -5}\n", ok_head);
    expect_refused(text, strlen(text), ":3:1: a second YAML document: a job file holds one "
                                       "(remove the \"---\" and what follows, or merge the "
                                       "documents)");
    snprintf(text, sizeof text, "%s...\n---\n", ok_head);
    expect_refused(text, strlen(text), ":4:1: a second YAML document: a job file holds one "
                                       "(remove the \"---\" and what follows, or merge the "
                                       "documents)");
    /* one document with its markers is a job */
    snprintf(text, sizeof text, "%%YAML 1.1\n---\n%s...\n", ok_head);
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load_string(text, "one.yaml", &s, &err), 0);
    assert_string_equal(s.model.path, "m");
    (void)state;
}

/* "x: " then depth nested flow lists around a scalar. */
static char *nested(int depth, char open, char close) {
    char *t = malloc((size_t)depth * 2 + 16);
    assert_non_null(t);
    size_t n = (size_t)sprintf(t, "x: ");
    memset(t + n, open, (size_t)depth);
    n += (size_t)depth;
    t[n++] = '1';
    memset(t + n, close, (size_t)depth);
    n += (size_t)depth;
    strcpy(t + n, "\n");
    return t;
}

static void test_depth(void **state) {
    /* The root mapping is the first level: 63 lists inside it pass the guard and reach
     * the schema (x is no key), 64 are refused at the 64th "[" (column 3 + 64). */
    char *t = nested(63, '[', ']');
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load_string(t, "d.yaml", &s, &err), -1);
    assert_non_null(strstr(err.msg, "d.yaml:1:1: x: unknown key"));
    free(t);
    t = nested(64, '[', ']');
    expect_refused(t, strlen(t), ":1:67: mappings and lists nested more than 64 deep: "
                                 "expected a job (sections, keys, lists of names)");
    free(t);
    /* the case: 200 KB, 100k deep */
    t = nested(100000, '[', ']');
    expect_refused(t, strlen(t), ":1:67: mappings and lists nested more than 64 deep: "
                                 "expected a job (sections, keys, lists of names)");
    free(t);
    /* block lists nested on one line */
    char *b = malloc(200016);
    strcpy(b, "x:\n  ");
    for (int i = 0; i < 100000; i++)
        strcat(b + 5 + 2 * i, "- ");
    strcat(b + 5 + 200000, "1\n");
    expect_refused(b, strlen(b), ":2:129: mappings and lists nested more than 64 deep: "
                                 "expected a job (sections, keys, lists of names)");
    free(b);
    (void)state;
}

static void test_set_value(void **state) {
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(job_load_string(ok_head, "ok.yaml", &s, &err), 0);
    char *deep = nested(100000, '[', ']');
    char set[200100];
    snprintf(set, sizeof set, "lora.targets=%s", deep + 3);
    set[strlen(set) - 1] = '\0'; /* the newline */
    assert_int_equal(job_set(&s, set, &err), -1);
    assert_true(tu_ends_with(err.msg, "--set lora.targets:1:65: mappings and lists nested "
                                      "more than 64 deep: expected a job (sections, keys, "
                                      "lists of names)"));
    free(deep);
    assert_int_equal(job_set(&s, "lora.rank=8\n---\n9", &err), -1);
    assert_true(tu_ends_with(err.msg, "--set lora.rank:2:1: a second YAML document: a value "
                                      "holds one (remove the \"---\" and what follows, or "
                                      "merge the documents)"));
    assert_int_equal(job_set(&s, "lora.rank=8", &err), 0);
    (void)state;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_and_binary), cmocka_unit_test(test_bom),
        cmocka_unit_test(test_documents),      cmocka_unit_test(test_depth),
        cmocka_unit_test(test_set_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
