# Tokenizer tests: unit tests of io/tokenizer.h and io/llama2c_tokenizer.h, and golden
# tokenizations from tests/ref/make_tok_golden.py (Hugging Face tokenizers/transformers)
# for the committed byte-level BPE and, from ../shared, llama2.c's tok512 and Llama 2
# (both converted here with l2c_tokenizer_convert).
set(TLM_TOK_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/tok)
tlm_add_test(test_tokenizer SOURCES ${TLM_TOK_TESTS}/test_tokenizer.c LABELS cpu)
add_executable(test_tok_golden ${TLM_TOK_TESTS}/test_tok_golden.c)
target_link_libraries(test_tok_golden PRIVATE tlm_testutil)
tlm_add_test(test_tok_golden_bytelevel COMMAND test_tok_golden ARGS bytelevel
             LABELS "cpu;golden")
tlm_add_test(test_tok_golden_tok512 COMMAND test_tok_golden ARGS tok512
             LABELS "cpu;shared;golden")
tlm_add_test(test_tok_golden_llama2 COMMAND test_tok_golden ARGS llama2
             LABELS "cpu;shared;golden")
tlm_add_test(test_tok_cli COMMAND sh ${TLM_TOK_TESTS}/test_tok_cli.sh LABELS "cpu;golden")
