# io/base tests: the growable array, string buffer, string list, string map and UTF-8
# helpers every library builds on; ggml's block formats dequantized bit for bit as the
# gguf Python package does (tests/ref/make_gguf_golden.py -> tests/data/gguf/quant.json).
tlm_add_test(test_io_base SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_io_base.c LABELS cpu)
tlm_add_test(test_quant SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quant.c LABELS "cpu;golden"
             TIMEOUT 30)
