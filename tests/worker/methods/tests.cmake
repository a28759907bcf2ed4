# Method tests (worker/methods/method_tent.c, method_eata.c, method_come.c and the shared
# method_entropy.c): each entropy objective's gradient through the whole model against
# finite differences of its full loss (and EATA's selection around E0), and each one's
# online run through ttl_run on the bundled demo job.
set(TLM_MTEST ${CMAKE_CURRENT_LIST_DIR}/mtest.c
    ${CMAKE_SOURCE_DIR}/tests/worker/wtest.c)
tlm_add_test(test_methods_grad
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_methods_grad.c ${TLM_MTEST}
             LABELS cpu)
tlm_add_test(test_methods_run
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_methods_run.c LABELS cpu)
# The registry's rows against their implementations (worker/methods/method.c).
tlm_add_test(test_method_registry
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_method_registry.c LABELS cpu)
