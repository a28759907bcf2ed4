# io/convert tests: llama2.c checkpoints on synthetic files, and the bundled stories260K
# conversion (label shared: skipped without ../shared).
tlm_add_test(test_llama2c SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_llama2c.c LABELS cpu)
tlm_add_test(test_convert SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_convert.c LABELS "cpu;shared")
