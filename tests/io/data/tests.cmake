# io/data tests: the test stream (JSON / JSONL, field mapping, malformed records).
tlm_add_test(test_dataset SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dataset.c LABELS cpu)
# The four AdaptEval files of the paper, read whole (exits 77 without ../shared).
tlm_add_test(test_dataset_adapteval COMMAND $<TARGET_FILE:test_dataset> ARGS --adapteval
             LABELS cpu shared)
# The task file of method ttt: reading, field mapping, one refusal per defect.
tlm_add_test(test_taskfile SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_taskfile.c LABELS cpu)
# Datasets by name through a LLaMA-Factory dataset_info.json (alpaca, sharegpt, several).
tlm_add_test(test_dataset_info SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dataset_info.c LABELS cpu)
