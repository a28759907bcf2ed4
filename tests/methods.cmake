# Method tests (worker/method_tent.c, method_eata.c, method_come.c and the shared
# method_entropy.c): each entropy objective's gradient through the whole model against
# finite differences of its full loss (and EATA's selection around E0), and each one's
# online run through ttl_run on the bundled demo job.
set(TLM_MTEST ${CMAKE_CURRENT_SOURCE_DIR}/methods/mtest.c
    ${CMAKE_CURRENT_SOURCE_DIR}/worker/wtest.c)
tlm_add_test(test_methods_grad
             SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/methods/test_methods_grad.c ${TLM_MTEST}
             LABELS cpu)
tlm_add_test(test_methods_run
             SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/methods/test_methods_run.c LABELS cpu)
