/* tests/jobs/test_job_ttt.c -- the keys of method ttt (ttt.*, jobs/job.h): defaults, a job
 * that sets them all read back equal through job_to_yaml, --set, the refusals (naming the
 * key and file:line:column), and ttt.* written and compared only for a ttt job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/job.h"

static const char *const head = "model: {path: m}\ndata: {path: tasks.jsonl}\n";

static int load(const char *body, JobSpec *s, Err *err) {
    char text[2048];
    snprintf(text, sizeof text, "%s%s", head, body);
    return job_load_string(text, "t.yaml", s, err);
}

static void assert_msg_ends(const char *msg, const char *want) {
    size_t n = strlen(msg), w = strlen(want);
    if (n < w || strcmp(msg + n - w, want) != 0) {
        printf("  got:  %s\n  want: ...%s\n", msg, want);
        fail();
    }
}

static void test_defaults(void **state) {
    (void)state;
    JobSpec s;
    Err err = {{0}};
    assert_int_equal(load("method: {name: ttt}\n", &s, &err), 0);
    assert_int_equal(s.method.name, JOB_TTT);
    assert_int_equal(s.ttt.epochs, 2);
    assert_int_equal(s.ttt.leave_one_out, 1);
    assert_int_equal(s.ttt.permutations, 1);
    assert_int_equal(s.ttt.loss_on, JOB_TTT_LOSS_OUTPUT);
    assert_int_equal(s.ttt.max_demos, 8);
    assert_int_equal(s.ttt.tasks_per_pass, 1);
    assert_int_equal(s.ttt.save_adapters, 0);
    assert_string_equal(s.ttt.separator, "\n\n");
    assert_string_equal(s.ttt.join, "\n");
    assert_string_equal(s.ttt.fields.id, "id");
    assert_string_equal(s.ttt.fields.output, "output");
}

static void test_roundtrip(void **state) {
    (void)state;
    JobSpec s, t;
    Err err = {{0}};
    assert_int_equal(load("method: {name: ttt}\n"
                          "ttt:\n  epochs: 0\n  leave_one_out: false\n  permutations: 4\n"
                          "  loss_on: all\n  max_demos: 3\n  separator: \"\\n---\\n\"\n"
                          "  join: \" => \"\n"
                          "  fields: {id: name, train: demos, test: queries, input: q, "
                          "output: a}\n", &s, &err), 0);
    assert_int_equal(s.ttt.epochs, 0);
    assert_int_equal(s.ttt.leave_one_out, 0);
    assert_int_equal(s.ttt.permutations, 4);
    assert_int_equal(s.ttt.loss_on, JOB_TTT_LOSS_ALL);
    assert_string_equal(s.ttt.separator, "\n---\n");
    assert_string_equal(s.ttt.join, " => ");
    assert_string_equal(s.ttt.fields.test, "queries");
    char *yaml = job_to_yaml(&s);
    assert_non_null(strstr(yaml, "ttt:"));
    assert_int_equal(job_load_string(yaml, "back.yaml", &t, &err), 0);
    char diff[256] = "";
    assert_int_equal(job_diff(&s, &t, diff, sizeof diff), 0);
    free(yaml);
    assert_int_equal(job_set(&s, "ttt.permutations=2", &err), 0);
    assert_int_equal(job_diff(&s, &t, diff, sizeof diff), 1);
    assert_string_equal(diff, "ttt.permutations: 2 vs 4");
}

static void test_other_methods(void **state) {
    (void)state;
    JobSpec s, t;
    Err err = {{0}};
    assert_int_equal(load("", &s, &err), 0); /* tlm: no ttt section written */
    char *yaml = job_to_yaml(&s);
    assert_null(strstr(yaml, "ttt"));
    free(yaml);
    assert_int_equal(load("ttt: {epochs: 5}\n", &t, &err), 0);
    assert_int_equal(job_diff(&s, &t, NULL, 0), 0); /* not compared for tlm */
}

static void test_refusals(void **state) {
    (void)state;
    static const struct {
        const char *body, *want;
    } bad[] = {
        {"ttt: {permutations: 0}\n", "t.yaml:3:21: ttt.permutations: expected a positive "
                                     "integer, got \"0\""},
        {"ttt: {epochs: -1}\n", "t.yaml:3:15: ttt.epochs: expected a non-negative integer, "
                                "got \"-1\""},
        {"ttt: {loss_on: inputs}\n", "t.yaml:3:16: ttt.loss_on: expected one of output|all, "
                                     "got \"inputs\""},
        {"ttt: {max_demos: 0}\n", "t.yaml:3:18: ttt.max_demos: expected a positive integer, "
                                  "got \"0\""},
        {"ttt: {fields: {id: \"\"}}\n", "t.yaml:3:20: ttt.fields.id: expected a non-empty "
                                        "string, got \"\" (a quoted string)"},
        {"ttt: {tasks_per_pass: 0}\n", "t.yaml:3:23: ttt.tasks_per_pass: expected a positive "
                                       "integer, got \"0\""},
        {"ttt: {tasks_per_pass: 257}\n", "t.yaml:3:23: ttt.tasks_per_pass: 257 is above 256, "
                                         "the largest value this key can hold"},
        {"ttt: {leave_one_out: maybe}\n", "t.yaml:3:22: ttt.leave_one_out: expected true or "
                                          "false, got \"maybe\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        JobSpec s;
        Err err = {{0}};
        char body[256];
        snprintf(body, sizeof body, "%s", bad[i].body);
        assert_int_equal(load(body, &s, &err), -1);
        assert_msg_ends(err.msg, bad[i].want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_other_methods),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
