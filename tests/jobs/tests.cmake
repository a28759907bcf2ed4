# jobs/ tests: the job spec (schema, defaults, validation, --set, the example jobs).
tlm_add_test(test_job SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job.c LABELS cpu)
target_link_libraries(test_job PRIVATE tlm_jobs)
