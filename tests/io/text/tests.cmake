# io/text tests: unit tests of io/text/tokenizer.h and io/convert/llama2c_tokenizer.h, and
# golden tokenizations from tests/ref/make_tok_golden.py (Hugging Face
# tokenizers/transformers) for the committed byte-level BPE and, from ../shared,
# llama2.c's tok512 and Llama 2 (both converted here with l2c_tokenizer_convert), and the
# SmolLM2 GGUF's vocabulary (gguf_write_tokenizer; Digits + ByteLevel pre-tokenizer).
# Chat templates against tests/ref/make_template_golden.py; the Llama 2 tokenizer ids are
# checked only where ../shared is present, the byte-level ones always.
tlm_add_test(test_tokenizer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer.c LABELS cpu)
add_executable(test_tok_golden ${CMAKE_CURRENT_LIST_DIR}/test_tok_golden.c)
target_link_libraries(test_tok_golden PRIVATE tlm_testutil)
tlm_add_test(test_tok_golden_bytelevel COMMAND test_tok_golden ARGS bytelevel
             LABELS "cpu;golden")
tlm_add_test(test_tok_golden_tok512 COMMAND test_tok_golden ARGS tok512
             LABELS "cpu;shared;golden")
tlm_add_test(test_tok_golden_llama2 COMMAND test_tok_golden ARGS llama2
             LABELS "cpu;shared;golden")
tlm_add_test(test_tok_golden_smollm2 COMMAND test_tok_golden ARGS smollm2
             LABELS "cpu;shared;golden")
tlm_add_test(test_tok_cli COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_tok_cli.sh LABELS "cpu;golden")
tlm_add_test(test_chat_template SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_chat_template.c
             LABELS cpu golden)
# The model's own template: chatml against transformers' apply_chat_template on SmolLM2's
# (tests/ref/make_chatml_golden.py), model.template auto's recognition and refusals.
tlm_add_test(test_chat_template_auto SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_chat_template_auto.c
             LABELS "cpu;golden" TIMEOUT 60)
# The tokens of a sample's own text (method.loss_tokens: content).
tlm_add_test(test_chat_template_content
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_chat_template_content.c LABELS cpu TIMEOUT 30)
