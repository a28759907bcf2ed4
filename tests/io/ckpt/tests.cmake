# io/ckpt tests: HDF5 checkpoints (round trip, score table across checkpoints, corrupt and
# truncated files, atomic writes, listing/pruning/fallback) and the PEFT export against
# what PEFT 0.12 and 0.21 wrote and loaded (tests/ref/make_peft_golden.py -> tests/data/peft/).
set(TLM_CKPT_TESTS ${CMAKE_CURRENT_LIST_DIR})
add_library(tlm_ckpt_fixture STATIC ${TLM_CKPT_TESTS}/ckpt_fixture.c)
target_link_libraries(tlm_ckpt_fixture PUBLIC tlm_testutil)
tlm_add_test(test_ckpt SOURCES ${TLM_CKPT_TESTS}/test_ckpt.c LABELS cpu)
tlm_add_test(test_ckpt_dir SOURCES ${TLM_CKPT_TESTS}/test_ckpt_dir.c LABELS cpu)
tlm_add_test(test_ckpt_export SOURCES ${TLM_CKPT_TESTS}/test_ckpt_export.c LABELS "cpu;golden")
target_link_libraries(test_ckpt PRIVATE tlm_ckpt_fixture)
target_link_libraries(test_ckpt_dir PRIVATE tlm_ckpt_fixture)
target_link_libraries(test_ckpt_export PRIVATE tlm_ckpt_fixture)
add_dependencies(test_ckpt_export tlm) # test_commands runs the tlm binary
