# io/eval tests (`tlm eval`): the metrics against the Python reference's numbers in
# tests/data/eval (made by tests/ref/make_eval_golden.py: rouge-score, nltk and the
# TLM reference's extractors), unit tests of the Porter stemmer / Punkt / word
# tokenizer / extractors, and the command end to end through cmd_eval().
set(TLM_EVAL_TESTS ${CMAKE_CURRENT_LIST_DIR})
tlm_add_test(test_eval_golden SOURCES ${TLM_EVAL_TESTS}/test_eval_golden.c LABELS "cpu;golden")
tlm_add_test(test_eval_units SOURCES ${TLM_EVAL_TESTS}/test_eval_units.c LABELS cpu)
tlm_add_test(test_eval_cli SOURCES ${TLM_EVAL_TESTS}/test_eval_cli.c
             ${CMAKE_SOURCE_DIR}/launcher/cmd_eval.c LABELS cpu)
