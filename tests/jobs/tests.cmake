# jobs/ tests: the job spec (schema, defaults, validation, --set, the example jobs).
tlm_add_test(test_job SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job.c LABELS cpu)
target_link_libraries(test_job PRIVATE tlm_jobs)
# The method registry as the job spec uses it: names, refusals at load, own parameters.
tlm_add_test(test_job_methods SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job_methods.c LABELS cpu)
target_link_libraries(test_job_methods PRIVATE tlm_jobs)
