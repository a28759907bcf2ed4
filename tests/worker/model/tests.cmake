# worker/model tests: the full model's LoRA gradients against finite differences, generation
# against a recompute-everything decoder, the golden files of tests/ref/make_golden.py
# (logits, per-sample ce, LoRA gradients, 20 online TLM steps, greedy generations), and
# the bundled stories260K model (label shared: skipped without ../shared).
set(TLM_WTEST ${CMAKE_SOURCE_DIR}/tests/worker/wtest.c)
tlm_add_test(test_worker_grad SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_grad.c
             ${TLM_WTEST} LABELS cpu)
# A stack of adapters through the per-row pass (model_forward_rows): each sequence's ce and
# each adapter's gradients as with that adapter alone.
tlm_add_test(test_lora_stack SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lora_stack.c ${TLM_WTEST}
             LABELS cpu)
tlm_add_test(test_worker_generate
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_generate.c ${TLM_WTEST}
             LABELS cpu)
# The decode step graphs' promise on the CPU: one key, one op sequence, no syncs inside.
tlm_add_test(test_worker_graph_key
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_graph_key.c ${TLM_WTEST}
             LABELS cpu)
tlm_add_test(test_worker_golden
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_golden.c
             ${CMAKE_CURRENT_LIST_DIR}/golden_ttl.c ${TLM_WTEST}
             LABELS "cpu;golden")
# The chunked lm_head + cross-entropy against the whole logits (issue 18 item 4): ce and
# LoRA gradients for chunks dividing T, not dividing it and above it.
tlm_add_test(test_worker_chunk SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_chunk.c
             ${TLM_WTEST} LABELS cpu)
tlm_add_test(test_worker_chunk_smollm2 COMMAND $<TARGET_FILE:test_worker_chunk> ARGS smollm2
             LABELS "cpu;shared")
# Activation recomputation (ModelOptions.gradient_checkpointing) against the kept
# activations: ce, LoRA gradients and a TLM loop's adapter bit-equal, the memory estimate.
tlm_add_test(test_worker_ckpt SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_ckpt.c
             ${TLM_WTEST} LABELS cpu)
tlm_add_test(test_worker_ckpt_smollm2 COMMAND $<TARGET_FILE:test_worker_ckpt> ARGS smollm2
             LABELS "cpu;shared")
tlm_add_test(test_worker_stories
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_stories.c ${TLM_WTEST}
             LABELS "cpu;shared;golden")
tlm_add_test(test_worker_cuda SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_cuda.c
             ${TLM_WTEST} LABELS "gpu;golden")

# Tensor-parallel tests (owner: worker/, DESIGN §3): tp = 2 and tp = 4, and tp = 2 x dp = 2,
# against the single-rank engine each rank also runs and against the goldens; refusals
# of a tp that does not divide the kv heads. Registered as MPI tests
# (tests/CMakeLists.txt: tlm_add_mpi_test).
set(TLM_TP_TESTS ${CMAKE_CURRENT_LIST_DIR})
add_executable(test_tp ${TLM_TP_TESTS}/test_tp.c ${TLM_TP_TESTS}/tp_checks.c
               ${TLM_TP_TESTS}/tptest.c ${TLM_WTEST})
target_link_libraries(test_tp PRIVATE tlm_testutil)

# (name, ranks, tp, cases, labels)
tlm_add_mpi_test(test_tp_n2_tp2 RANKS 2 LABELS "mpi;cpu;golden"
  COMMAND ${TLM_MPIEXEC} -n 2 $<TARGET_FILE:test_tp> 2 llama_gqa qwen2_bias uneven)
tlm_add_mpi_test(test_tp_n4_tp2_dp2 RANKS 4 LABELS "mpi;cpu;golden"
  COMMAND ${TLM_MPIEXEC} -n 4 $<TARGET_FILE:test_tp> 2 llama_gqa qwen2_bias)
tlm_add_mpi_test(test_tp_n4_tp4 RANKS 4 LABELS "mpi;cpu;golden"
  COMMAND ${TLM_MPIEXEC} -n 4 $<TARGET_FILE:test_tp> 4 uneven refuse:qwen2_bias
          refuse:llama_gqa)
foreach(n 2 4)
  tlm_add_mpi_test(test_tp_stories_n${n}_tp${n} RANKS ${n} LABELS "mpi;cpu;shared;golden"
    COMMAND ${TLM_MPIEXEC} -n ${n} $<TARGET_FILE:test_tp> ${n} stories260k)
endforeach()
# SmolLM2's Q4_1 GGUF read in place at tp 3 (its 9 heads, 3 kv heads): block-aligned
# column slices and per-rank un-permuted q/k rows against tp = 1 (issue 18).
tlm_add_mpi_test(test_tp_gguf_n3_tp3 RANKS 3 LABELS "mpi;cpu;shared;golden"
  COMMAND ${TLM_MPIEXEC} -n 3 $<TARGET_FILE:test_tp> 3 smollm2_gguf)

# bf16 frozen weights against fp32 (logits <= 1e-2 rel, greedy >= 95% identical on the real
# models; kernels/cpu/weights.c).
tlm_add_test(test_worker_bf16 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_bf16.c
             ${TLM_WTEST} LABELS "cpu;golden")
tlm_add_test(test_worker_bf16_shared COMMAND test_worker_bf16 ARGS shared
             LABELS "cpu;shared;golden" TIMEOUT 300)
# The same program on the block formats quantized at load (model.weights, issue 18): q8_0
# and nf4 on the golden models, and a K format refused for safetensors.
foreach(fmt q8_0 nf4)
  tlm_add_test(test_worker_quant_${fmt} COMMAND test_worker_bf16 ARGS ${fmt}
               LABELS "cpu;golden")
  # and on stories260K and SmolLM2-135M (measured: q8_0 logits 4.5e-3 / 9.6e-3 rel, greedy
  # 98% / 100%; nf4 8.9e-2 / 0.149, 80% / 70%)
  tlm_add_test(test_worker_quant_${fmt}_shared COMMAND test_worker_bf16 ARGS shared ${fmt}
               LABELS "cpu;shared;golden" TIMEOUT 300)
endforeach()

# A .gguf model.path read in place (issue 18) against its F32 conversion: SmolLM2-135M's
# Q4_1/Q8_0 blocks kept give the conversion's logits (<= 1e-4 rel) and the same TLM
# selected set; f32 from the GGUF, the refusal of a format the file cannot give exactly.
tlm_add_test(test_worker_gguf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_gguf.c
             ${TLM_WTEST} LABELS "cpu;shared;golden" TIMEOUT 300)
