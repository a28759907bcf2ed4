# jobs/ tests: the job spec (schema, defaults, validation, --set, the example jobs).
tlm_add_test(test_job SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job.c LABELS cpu)
target_link_libraries(test_job PRIVATE tlm_jobs)
# The method registry as the job spec uses it: names, refusals at load, own parameters.
tlm_add_test(test_job_methods SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job_methods.c LABELS cpu)
target_link_libraries(test_job_methods PRIVATE tlm_jobs)
# The guard before libyaml: NUL bytes, BOM, a second document, nesting past 64.
tlm_add_test(test_job_guard SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job_guard.c LABELS cpu
             TIMEOUT 30)
target_link_libraries(test_job_guard PRIVATE tlm_jobs)
# The keys of method ttt (ttt.*): defaults, round trip, refusals, written only for ttt.
tlm_add_test(test_job_ttt SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job_ttt.c LABELS cpu)
target_link_libraries(test_job_ttt PRIVATE tlm_jobs)
# LLaMA-Factory flat job files: every key of jobs/llamafactory/*.yaml, notes, defaults,
# refusals, key=value overrides, the native job written back (jobs/lf_job.h).
tlm_add_test(test_lf_job SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lf_job.c LABELS cpu)
target_link_libraries(test_lf_job PRIVATE tlm_jobs)
