# io/base tests: the growable array, string buffer, string list, string map and UTF-8
# helpers every library builds on.
tlm_add_test(test_io_base SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_io_base.c LABELS cpu)
