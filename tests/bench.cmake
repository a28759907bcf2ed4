# tlm bench: correctness only (it runs, writes a loadable random model, prints valid JSON,
# rejects bad options). Benchmarks are programs, never timed tests (DESIGN §8).
tlm_add_test(test_bench_json
             COMMAND ${CMAKE_COMMAND} -P ${CMAKE_CURRENT_SOURCE_DIR}/bench/check_bench_json.cmake
             LABELS cpu TIMEOUT 120)
