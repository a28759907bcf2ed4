# Worker tests: the full model's LoRA gradients against finite differences, generation
# against a recompute-everything decoder, the golden files of tests/ref/make_golden.py
# (logits, per-sample ce, LoRA gradients, 20 online TLM steps, greedy generations), and
# the bundled stories260K model (label shared: skipped without ../shared).
set(TLM_WTEST ${CMAKE_CURRENT_SOURCE_DIR}/worker/wtest.c)
tlm_add_test(test_worker_grad SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_worker_grad.c
             ${TLM_WTEST} LABELS cpu)
tlm_add_test(test_worker_generate
             SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_worker_generate.c ${TLM_WTEST}
             LABELS cpu)
tlm_add_test(test_worker_golden
             SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_worker_golden.c
             ${CMAKE_CURRENT_SOURCE_DIR}/worker/golden_ttl.c ${TLM_WTEST}
             LABELS "cpu;golden")
tlm_add_test(test_worker_stories
             SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_worker_stories.c ${TLM_WTEST}
             LABELS "cpu;shared;golden")
tlm_add_test(test_worker_cuda SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker/test_worker_cuda.c
             ${TLM_WTEST} LABELS "gpu;golden")
