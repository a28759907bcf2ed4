# io tests: safetensors + dtype conversions, config.json (with RoPE tables against values
# from transformers, tests/io/rope_ref.py), llama2.c checkpoints on synthetic files, and
# the bundled stories260K conversion (label shared: skipped without ../shared).
set(TLM_IO_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/io)
tlm_add_test(test_safetensors SOURCES ${TLM_IO_TESTS}/test_safetensors.c LABELS cpu)
tlm_add_test(test_model_config SOURCES ${TLM_IO_TESTS}/test_model_config.c LABELS cpu)
tlm_add_test(test_llama2c SOURCES ${TLM_IO_TESTS}/test_llama2c.c LABELS cpu)
tlm_add_test(test_convert SOURCES ${TLM_IO_TESTS}/test_convert.c LABELS "cpu;shared")
