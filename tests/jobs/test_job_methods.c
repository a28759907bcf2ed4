/* tests/jobs/test_job_methods.c -- the method registry (jobs/job_methods.h) as the job spec
 * uses it: method.name accepts every row and nothing else, the refusal lists the rows'
 * names; each row's needs refused at load (a table: key, file:line:column, why); the
 * rows' own parameters (method.<name>.<param>): defaults, ranges, nested and flat YAML,
 * written and compared only for the job's own method. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jobs/job.h"

static const char *const head = "model: {path: m}\ndata: {path: d}\n";

/* Err messages start with the C source position; the user-facing part ends them. */
static void assert_msg_ends(const char *msg, const char *want) {
    size_t n = strlen(msg), w = strlen(want);
    if (n < w || strcmp(msg + n - w, want) != 0) {
        printf("  got:  %s\n  want: ...%s\n", msg, want);
        fail();
    }
}

static int load(const char *body, JobSpec *s, Err *err) {
    char text[2048];
    snprintf(text, sizeof text, "%s%s", head, body);
    return job_load_string(text, "t.yaml", s, err);
}

static void test_names(void **state) {
    JobSpec s;
    Err err = {{0}};
    char want[512] = ": method.name: expected one of ", set[64];
    for (int m = 0; m < JOB_N_METHODS; m++) {
        const char *name = job_method_name((JobMethod)m);
        assert_string_equal(name, job_method_rows[m].name);
        assert_int_equal(job_method_find(name), m);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", m ? "|" : "", name);
        snprintf(set, sizeof set, "method: {name: %s}\n", name);
        assert_int_equal(load(set, &s, &err), 0);
        assert_int_equal(s.method.name, m);
    }
    assert_int_equal(job_method_find("foo"), -1);
    assert_string_equal(job_method_name(JOB_N_METHODS), "?");
    /* the unknown name is refused with the registry's list, however long it grows */
    strcat(want, ", got \"foo\"");
    char full[600];
    snprintf(full, sizeof full, "t.yaml:3:16%s", want);
    assert_int_equal(load("method: {name: foo}\n", &s, &err), -1);
    assert_msg_ends(err.msg, full);
    char joined[256], expect[256] = "";
    job_method_names(", ", joined, sizeof joined);
    for (int m = 0; m < JOB_N_METHODS; m++)
        snprintf(expect + strlen(expect), sizeof expect - strlen(expect), "%s%s",
                 m ? ", " : "", job_method_rows[m].name);
    assert_string_equal(joined, expect);
    assert_int_equal(strncmp(joined, "tlm, none, tent, eata, come", 27), 0); /* today's */
    assert_int_equal(job_load_string(head, "t.yaml", &s, &err), 0);
    assert_int_equal(s.method.name, 0); /* the first row is the default */
}

/* What a method needs, refused at load: the key, where it was given, and why. */
static void test_needs(void **state) {
    static const struct {
        const char *body, *want;
    } refused[] = {
        {"method:\n  name: tent\n  setting: offline\n",
         "t.yaml:5:3: method.setting: offline with method.name: tent (line 4): tent trains on "
         "each sample's generated answer, and offline the answers are generated only after "
         "the update epoch; use method.setting: online"},
        {"method: {name: eata}\noptim: {batch_size: 2}\n",
         "t.yaml:4:9: optim.batch_size: 2 with method.name: eata (line 3): eata trains on "
         "each sample's generated answer, and an update step hands a method the answer of "
         "one sample only; use optim.batch_size: 1"},
        {"parallel: {tp: 2}\nmethod: {name: come}\n",
         "t.yaml:3:12: parallel.tp: 2 with method.name: come (line 4): come needs every "
         "token's probability on one rank, and under tensor parallelism each rank holds a "
         "slice of the vocabulary; use parallel.tp: 1 (data parallelism still scales it)"},
    };
    JobSpec s;
    Err err = {{0}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(load(refused[i].body, &s, &err), -1);
        assert_msg_ends(err.msg, refused[i].want);
    }
    /* the same settings with the methods that need nothing */
    assert_int_equal(load("method: {name: tlm, setting: offline}\noptim: {batch_size: 2}\n"
                          "parallel: {tp: 2}\n", &s, &err), 0);
    assert_int_equal(load("method: {name: none}\noptim: {batch_size: 4}\n", &s, &err), 0);
    /* --set: refused when the combination appears, naming --set; the spec is unchanged */
    assert_int_equal(load("method: {name: tent}\n", &s, &err), 0);
    assert_int_equal(job_set(&s, "optim.batch_size=3", &err), -1);
    assert_msg_ends(err.msg, "t.yaml: optim.batch_size (--set): 3 with method.name: tent "
                             "(line 3): tent trains on each sample's generated answer, and "
                             "an update step hands a method the answer of one sample only; "
                             "use optim.batch_size: 1");
    assert_int_equal(s.optim.batch_size, 1);
    assert_int_equal(load("optim: {batch_size: 3}\n", &s, &err), 0);
    assert_int_equal(job_set(&s, "method.name=come", &err), -1);
    assert_msg_ends(err.msg, "t.yaml:3:9: optim.batch_size: 3 with method.name: come (--set): "
                             "come trains on each sample's generated answer, and an update "
                             "step hands a method the answer of one sample only; use "
                             "optim.batch_size: 1");
    /* every row that needs answers is refused offline */
    for (int m = 0; m < JOB_N_METHODS; m++) {
        char body[128];
        snprintf(body, sizeof body, "method: {name: %s, setting: offline}\n",
                 job_method_name((JobMethod)m));
        const int needs = (job_method_rows[m].needs & JOB_NEEDS_ANSWERS) != 0;
        assert_int_equal(load(body, &s, &err), needs ? -1 : 0);
    }
}

static void test_params(void **state) {
    JobSpec s, t;
    Err err = {{0}};
    assert_int_equal(load("", &s, &err), 0);
    for (int p = 0; p < JOB_N_METHOD_PARAMS; p++) {
        const JobMethodParamInfo *r = &job_method_param_rows[p];
        char prefix[64];
        snprintf(prefix, sizeof prefix, "method.%s.", job_method_name(r->method));
        assert_int_equal(strncmp(r->key, prefix, strlen(prefix)), 0); /* under its method */
        assert_true(s.method.params[p] == r->def);
        assert_true(job_method_param_default((JobMethodParam)p) == r->def);
    }
    assert_true(s.method.params[JOB_MP_EATA_FISHER_ALPHA] == 2000.0);
    assert_true(s.method.params[JOB_MP_EATA_E_MARGIN_FRAC] == 0.4);
    /* nested and flat spellings */
    assert_int_equal(load("method:\n  name: eata\n  eata:\n    fisher_alpha: 50\n"
                          "    e_margin_frac: 0.25\n", &s, &err), 0);
    assert_true(s.method.params[JOB_MP_EATA_FISHER_ALPHA] == 50.0);
    assert_true(s.method.params[JOB_MP_EATA_E_MARGIN_FRAC] == 0.25);
    assert_int_equal(load("method: {name: eata, eata.fisher_alpha: 7}\n", &s, &err), 0);
    assert_true(s.method.params[JOB_MP_EATA_FISHER_ALPHA] == 7.0);
    /* errors name the dotted key */
    assert_int_equal(load("method:\n  eata:\n    e_margin_frac: 0\n", &s, &err), -1);
    assert_msg_ends(err.msg, "t.yaml:5:20: method.eata.e_margin_frac: expected a number in "
                             "(0, 1], got \"0\"");
    assert_int_equal(load("method:\n  eata:\n    fisher_alpah: 1\n", &s, &err), -1);
    assert_msg_ends(err.msg, "t.yaml:5:5: method.eata.fisher_alpah: unknown key (did you mean "
                             "method.eata.fisher_alpha?)");
    assert_int_equal(load("method:\n  eata: 1\n", &s, &err), -1);
    assert_msg_ends(err.msg, "t.yaml:4:9: method.eata: expected a mapping of keys, got a scalar");
    assert_int_equal(load("method:\n  eata: {fisher_alpha: 1}\n  eata: {e_margin_frac: 0.5}\n",
                          &s, &err), -1);
    assert_msg_ends(err.msg, "t.yaml:5:3: method.eata: duplicate section");
    assert_int_equal(load("method: {eata: {fisher_alpha: 1}, eata.fisher_alpha: 2}\n", &s, &err),
                     -1);
    assert_msg_ends(err.msg, "t.yaml:3:35: method.eata.fisher_alpha: duplicate key (first given "
                             "on line 3)");
    assert_int_equal(job_set(&s, "method.eata=1", &err), -1);
    assert_msg_ends(err.msg, "--set method.eata: a section; set one of its keys (valid keys "
                             "under method.eata: e_margin_frac, fisher_alpha)");

    /* Written and compared for the job's own method only. */
    assert_int_equal(load("method: {name: eata, eata: {fisher_alpha: 2.5}}\n", &s, &err), 0);
    char *yaml = job_to_yaml(&s);
    assert_non_null(yaml);
    assert_non_null(strstr(yaml, "\n  eata:\n    e_margin_frac: 0.4\n    fisher_alpha: 2.5\n"));
    assert_int_equal(job_load_string(yaml, "resolved.yaml", &t, &err), 0);
    assert_int_equal(job_diff(&s, &t, NULL, 0), 0);
    assert_true(t.method.params[JOB_MP_EATA_FISHER_ALPHA] == 2.5);
    free(yaml);
    char diff[128];
    t.method.params[JOB_MP_EATA_FISHER_ALPHA] = 3.5;
    assert_int_equal(job_diff(&s, &t, diff, sizeof diff), 1);
    assert_string_equal(diff, "method.eata.fisher_alpha: 2.5 vs 3.5");
    assert_int_equal(load("method: {eata: {fisher_alpha: 2.5}}\n", &s, &err), 0); /* tlm */
    yaml = job_to_yaml(&s);
    assert_non_null(yaml);
    assert_null(strstr(yaml, "eata"));
    free(yaml);
    assert_int_equal(load("", &t, &err), 0);
    assert_int_equal(job_diff(&s, &t, NULL, 0), 0); /* another method's parameter */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_needs),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
