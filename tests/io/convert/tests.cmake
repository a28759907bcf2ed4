# io/convert tests: llama2.c checkpoints on synthetic files, and the bundled stories260K
# conversion (label shared: skipped without ../shared).
tlm_add_test(test_llama2c SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_llama2c.c LABELS cpu)
tlm_add_test(test_convert SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_convert.c LABELS "cpu;shared")
# GGUF: the reader on synthetic files written by the test (every refusal names the file
# and the key or tensor).
tlm_add_test(test_gguf_reader SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gguf_reader.c LABELS cpu
             TIMEOUT 30)
# The two small GGUF models of tests/data/gguf against transformers' GGUF loading.
tlm_add_test(test_gguf_tiny SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gguf_tiny.c
             ${CMAKE_CURRENT_LIST_DIR}/gguf_check.c LABELS "cpu;golden" TIMEOUT 60)
add_dependencies(test_gguf_tiny tlm) # the command-line checks run the tlm binary
# The real SmolLM2-135M-Instruct GGUF of ../shared: weights, CE of 16 prompts, greedy 8 x 32
# against transformers' GGUF loading (label shared: skipped without it). Writes a 540 MB
# F32 model.safetensors into the test tmp dir.
tlm_add_test(test_gguf_smollm SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gguf_smollm.c
             ${CMAKE_CURRENT_LIST_DIR}/gguf_check.c LABELS "cpu;shared;golden" TIMEOUT 180)
# BPE merges recovered from a vocabulary, and a fuzzer's finding (UB on no splits).
tlm_add_test(test_merges SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_merges.c LABELS cpu TIMEOUT 30)
