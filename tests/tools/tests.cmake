# tools/ tests. test_file_cycles: no two source files call each other, directly or round
# a longer loop, in the folders whose cycles issue 16 removed (tools/file_cycles.py reads
# the built objects; add a folder here once its cycles are gone).
tlm_add_test(test_file_cycles
             COMMAND python3 ${CMAKE_SOURCE_DIR}/tools/file_cycles.py ${CMAKE_BINARY_DIR}
                     --under worker/loop --under worker/adapter --under worker/methods
                     --under jobs --under io/ckpt --under kernels --under comm
                     --under worker/model
             LABELS cpu TIMEOUT 60)
# test_layout: every library edge points down the README's layers (tools/layout.py holds
# them; a new library must be placed there).
tlm_add_test(test_layout COMMAND python3 ${CMAKE_SOURCE_DIR}/tools/layout.py --check
             LABELS cpu TIMEOUT 60)
