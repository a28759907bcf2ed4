/* tests/io/data/test_taskfile.c -- the task file of method ttt (io/data/taskfile.h): tasks
 * read in order with their lines, ids (strings and integers), demonstrations and queries
 * (outputs optional on queries), a field mapping, max_tasks, skipping, and one refusal per
 * defect naming file:line and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io/data/taskfile.h"
#include "tests/testutil.h"

static const char k_two[] =
    "{\"id\": \"a\", \"train\": [{\"input\": \"x\", \"output\": \"X\"}, {\"input\": \"y\", "
    "\"output\": \"Y\"}], \"test\": [{\"input\": \"z\", \"output\": \"Z\"}, {\"input\": "
    "\"w\"}]}\n"
    "\n"
    "{\"id\": 7, \"train\": [{\"input\": \"p\", \"output\": \"q\"}], \"test\": [{\"input\": "
    "\"r\", \"output\": null}]}\n";

static void test_read(void **state) {
    (void)state;
    TfConfig c = {.path = tu_write_tmp("tf_two.jsonl", k_two), .max_tasks = -1};
    Err err = {{0}};
    TaskFile *tf = tf_open(&c, &err);
    assert_non_null(tf);
    assert_int_equal(tf_total(tf), 2);
    TfTask t;
    assert_int_equal(tf_next(tf, &t, &err), 1);
    assert_string_equal(t.id, "a");
    assert_int_equal(t.line, 1);
    assert_int_equal(t.n_train, 2);
    assert_int_equal(t.n_test, 2);
    assert_string_equal(t.train[1].input, "y");
    assert_string_equal(t.train[1].output, "Y");
    assert_true(t.test[0].has_output);
    assert_false(t.test[1].has_output);
    assert_string_equal(t.test[1].output, "");
    tf_task_free(&t);
    assert_int_equal(tf_next(tf, &t, &err), 1);
    assert_string_equal(t.id, "7"); /* an integer id, as text */
    assert_int_equal(t.line, 3);    /* the blank line counted */
    assert_int_equal(t.index, 1);
    assert_false(t.test[0].has_output);
    tf_task_free(&t);
    assert_int_equal(tf_next(tf, &t, &err), 0);
    tf_close(tf);

    c.max_tasks = 1; /* the first task only; skip moves past it */
    tf = tf_open(&c, &err);
    assert_int_equal(tf_total(tf), 1);
    assert_int_equal(tf_skip(tf, 1, &err), 0);
    assert_int_equal(tf_next(tf, &t, &err), 0);
    assert_int_equal(tf_skip(tf, 1, &err), -1);
    tf_close(tf);
}

static void test_mapping(void **state) {
    (void)state;
    TfConfig c = {.path = tu_write_tmp("tf_map.jsonl",
                                       "{\"name\": \"m\", \"demos\": [{\"q\": \"1\", \"a\": "
                                       "\"2\"}], \"queries\": [{\"q\": \"3\"}]}\n"),
                  .max_tasks = -1,
                  .fields = {.id = "name", .train = "demos", .test = "queries", .input = "q",
                             .output = "a"}};
    Err err = {{0}};
    TaskFile *tf = tf_open(&c, &err);
    TfTask t;
    assert_int_equal(tf_next(tf, &t, &err), 1);
    assert_string_equal(t.id, "m");
    assert_string_equal(t.train[0].output, "2");
    assert_string_equal(t.test[0].input, "3");
    tf_task_free(&t);
    tf_close(tf);
}

/* Each defect on line 2 (line 1 is a good task): the message's tail. */
static void test_errors(void **state) {
    (void)state;
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"{\"id\": \"b\", \"train\": [", ":2: malformed JSON at column"},
        {"[1, 2]", ":2: task: expected a JSON object per line"},
        {"{\"train\": [], \"test\": []}", ":2: id: missing (expected a string or an integer)"},
        {"{\"id\": \"\", \"train\": [], \"test\": []}",
         ":2: id: expected a non-empty string (< 256 bytes) or an integer"},
        {"{\"id\": \"b\", \"test\": [{\"input\": \"x\"}]}",
         ":2: train: missing (expected a list of {input, output} objects)"},
        {"{\"id\": \"b\", \"train\": [], \"test\": [{\"input\": \"x\"}]}",
         ":2: train: expected a non-empty list of {input, output} objects"},
        {"{\"id\": \"b\", \"train\": [3], \"test\": [{\"input\": \"x\"}]}",
         ":2: train[0]: expected an object"},
        {"{\"id\": \"b\", \"train\": [{\"output\": \"o\"}], \"test\": [{\"input\": \"x\"}]}",
         ":2: train[0].input: missing (expected a string)"},
        {"{\"id\": \"b\", \"train\": [{\"input\": \"i\", \"output\": \"o\"}, {\"input\": \"j\"}], "
         "\"test\": [{\"input\": \"x\"}]}",
         ":2: train[1].output: missing (a demonstration needs its output string)"},
        {"{\"id\": \"b\", \"train\": [{\"input\": \"i\", \"output\": 5}], \"test\": [{\"input\": "
         "\"x\"}]}",
         ":2: train[0].output: expected a string"},
        {"{\"id\": \"b\", \"train\": [{\"input\": \"i\", \"output\": \"o\"}]}",
         ":2: test: missing (expected a list of {input, output} objects)"},
        {"{\"id\": \"b\", \"train\": [{\"input\": \"i\", \"output\": \"o\"}], \"test\": "
         "[{\"input\": [1]}]}",
         ":2: test[0].input: expected a string"},
    };
    const char *good = "{\"id\": 1, \"train\": [{\"input\": \"i\", \"output\": \"o\"}], "
                       "\"test\": [{\"input\": \"x\"}]}\n";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s\n", good, bad[i].line);
        TfConfig c = {.path = tu_write_tmp("tf_bad.jsonl", text), .max_tasks = -1};
        Err err = {{0}};
        TaskFile *tf = tf_open(&c, &err);
        assert_non_null(tf);
        TfTask t;
        assert_int_equal(tf_next(tf, &t, &err), 1);
        tf_task_free(&t);
        assert_int_equal(tf_next(tf, &t, &err), -1);
        if (strstr(err.msg, bad[i].want) == NULL || strstr(err.msg, "tf_bad.jsonl:2:") == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].want);
        tf_close(tf);
    }
    /* too many demonstrations */
    char *big = malloc(64 * (TF_MAX_ITEMS + 2));
    size_t at = (size_t)sprintf(big, "{\"id\": 1, \"test\": [{\"input\": \"x\"}], \"train\": [");
    for (int i = 0; i <= TF_MAX_ITEMS; i++)
        at += (size_t)sprintf(big + at, "%s{\"input\": \"i\", \"output\": \"o\"}", i ? ", " : "");
    sprintf(big + at, "]}\n");
    TfConfig c = {.path = tu_write_tmp("tf_big.jsonl", big), .max_tasks = -1};
    Err err = {{0}};
    TaskFile *tf = tf_open(&c, &err);
    TfTask t;
    assert_int_equal(tf_next(tf, &t, &err), -1);
    assert_non_null(strstr(err.msg, ":1: train: 1025 items, at most 1024"));
    tf_close(tf);
    free(big);
    /* an empty file and a missing one */
    c.path = tu_write_tmp("tf_empty.jsonl", "\n\n");
    assert_null(tf_open(&c, &err));
    assert_non_null(strstr(err.msg, "tf_empty.jsonl: no tasks"));
    c.path = "/nonexistent/tasks.jsonl";
    assert_null(tf_open(&c, &err));
    assert_non_null(strstr(err.msg, "/nonexistent/tasks.jsonl: cannot open the task file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
