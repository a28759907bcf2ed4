# jobs/ and the io/ modules that feed it: the job spec, the test stream, chat templates.
tlm_add_test(test_job SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jobs/test_job.c LABELS cpu)
target_link_libraries(test_job PRIVATE tlm_jobs)

tlm_add_test(test_dataset SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jobs/test_dataset.c LABELS cpu)
# The four AdaptEval files of the paper, read whole (exits 77 without ../shared).
tlm_add_test(test_dataset_adapteval COMMAND $<TARGET_FILE:test_dataset> ARGS --adapteval
             LABELS cpu shared)

# Goldens from tests/ref/make_template_golden.py; the Llama 2 tokenizer ids are checked
# only where ../shared is present, the byte-level ones always.
tlm_add_test(test_chat_template SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/jobs/test_chat_template.c
             LABELS cpu golden)
