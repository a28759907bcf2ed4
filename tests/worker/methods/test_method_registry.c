/* tests/worker/methods/test_method_registry.c -- the method registry's rows (jobs/
 * job_methods.h) against their implementations (worker/methods/method.c): every row has
 * its Method under the row's name, found by name and by id; a row that needs answers
 * has an objective that trains on generated tokens, and the others do not; a method's
 * parameters read the job's values, or the rows' defaults without them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "worker/methods/method.h"

static void test_rows(void **state) {
    for (int m = 0; m < JOB_N_METHODS; m++) {
        const JobMethodInfo *row = job_method_info((JobMethod)m);
        const Method *impl = method_of((JobMethod)m);
        assert_non_null(row);
        assert_non_null(impl);
        assert_string_equal(impl->name, row->name);
        assert_ptr_equal(method_find(row->name), impl);
        assert_non_null(impl->score);
        assert_true(!impl->updates || impl->backward != NULL);
        /* the row's needs and the objective agree on what it trains on */
        assert_int_equal((row->needs & JOB_NEEDS_ANSWERS) != 0, impl->gen_tokens > 0);
    }
    assert_null(method_of(JOB_N_METHODS));
    assert_null(method_find("foo"));
}

static void test_params(void **state) {
    MethodParams p = {.threshold = 3.0, .lamb = 0.1};
    for (int i = 0; i < JOB_N_METHOD_PARAMS; i++)
        assert_true(method_param(&p, (JobMethodParam)i) == job_method_param_rows[i].def);
    double values[JOB_METHOD_PARAM_SLOTS];
    for (int i = 0; i < JOB_N_METHOD_PARAMS; i++)
        values[i] = 10.0 + i;
    p.params = values;
    for (int i = 0; i < JOB_N_METHOD_PARAMS; i++)
        assert_true(method_param(&p, (JobMethodParam)i) == 10.0 + i);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rows), cmocka_unit_test(test_params)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
