# io/model tests: safetensors + dtype conversions, config.json (with RoPE tables against
# values from transformers, rope_ref.py beside this file).
tlm_add_test(test_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c LABELS cpu)
tlm_add_test(test_model_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_model_config.c LABELS cpu)
