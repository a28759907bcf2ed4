# tests/launcher/bench/check_bench_json.cmake -- correctness (never speed) of `tlm bench`.
# Run by CTest as `cmake -P` with TLM_BIN and TLM_TEST_TMP in the environment. Checks that
# a tiny random model is written by --save-model, measured, and reported as one valid
# JSON line whose sizes echo the options and whose rates are positive; that the saved
# directory loads again through --model; and that bad options fail with status 2. Speed
# is proven by running tlm bench / tools/bench_torch.py, not here (DESIGN §8).
set(tlm "$ENV{TLM_BIN}")
set(dir "$ENV{TLM_TEST_TMP}/bench_llama_2x64")
file(REMOVE_RECURSE "${dir}")
set(opts --backend cpu --tokens 8 --batch 2 --new-tokens 3 --repeat 1 --json)

# Runs tlm bench ARGN; checks status 0 and one JSON line; sets json_line in the caller.
function(run_bench)
  execute_process(COMMAND "${tlm}" bench ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tlm bench ${ARGN}: status ${rc}\n${out}${err}")
  endif()
  string(REGEX MATCHALL "\n{[^\n]*}" lines "\n${out}")
  list(LENGTH lines n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "tlm bench ${ARGN}: ${n} JSON lines, expected 1:\n${out}")
  endif()
  string(STRIP "${lines}" line)
  set(json_line "${line}" PARENT_SCOPE)
endfunction()

# Fails unless the JSON line's key equals want.
function(expect_eq line key want)
  string(JSON got ERROR_VARIABLE jerr GET "${line}" ${key})
  if(jerr OR NOT got STREQUAL "${want}")
    message(FATAL_ERROR "JSON ${key}: got \"${got}\" (${jerr}), expected ${want}\n${line}")
  endif()
endfunction()

# Fails unless every rate and time of the JSON line is a positive number.
function(expect_positive line)
  foreach(key forward_tok_s step_tok_s gen1_tok_s genb_tok_s forward_s step_s gen1_s genb_s)
    string(JSON got ERROR_VARIABLE jerr GET "${line}" ${key})
    if(jerr OR NOT got MATCHES "^[0-9.e+-]+$" OR NOT got GREATER 0)
      message(FATAL_ERROR "JSON ${key}: got \"${got}\" (${jerr}), expected > 0\n${line}")
    endif()
  endforeach()
endfunction()

file(MAKE_DIRECTORY "${dir}")
run_bench(--random llama-2x64 --save-model "${dir}" ${opts})
expect_eq("${json_line}" model llama-2x64)
expect_eq("${json_line}" T 8)
expect_eq("${json_line}" B 2)
expect_eq("${json_line}" N 3)
expect_eq("${json_line}" R 1)
expect_eq("${json_line}" backend cpu)
expect_positive("${json_line}")
foreach(f config.json model.safetensors)
  if(NOT EXISTS "${dir}/${f}")
    message(FATAL_ERROR "--save-model ${dir}: ${f} was not written")
  endif()
endforeach()
set(first "${json_line}")

# The saved directory is a model like any other, with the same weights: same ce.
run_bench(--model "${dir}" ${opts})
expect_positive("${json_line}")
string(JSON ce_saved GET "${first}" mean_ce)
expect_eq("${json_line}" mean_ce "${ce_saved}")

# --profile: every op call is counted where it belongs. llama-2x64 (L 2, D 64, KVH*HD 32,
# F 172, V 256) with LoRA q,v: a step runs 6 layer matmuls forward per layer (gate_proj
# and up_proj stacked: one), 6 backward in the top layer and 3 in the bottom one (no
# q/k/v input gradient below layer 0), and
# the lm_head and each layer's attention once each way, LoRA q,v once each way per
# layer; a decode step reads every frozen weight once.
run_bench(--model "${dir}" ${opts} --new-tokens 4 --profile)
expect_positive("${json_line}")
foreach(check "step;groups;matmul;1;21" "step;groups;lm_head;1;2" "step;groups;lora;1;8"
        "step;groups;attention;1;4" "decode1;groups;matmul;1;12" "decode1;groups;lm_head;1;1"
        "decodeB;groups;lm_head;1;1" "decode1;weight_bytes;428032")
  list(POP_BACK check want)
  expect_eq("${json_line}" "profile;${check}" "${want}")
endforeach()
foreach(w forward step decode1 decodeB)
  string(JSON t GET "${json_line}" profile ${w} wall_s)
  string(JSON a GET "${json_line}" profile ${w} matmuls 0 alone_s)
  if(NOT t GREATER 0 OR NOT a GREATER 0)
    message(FATAL_ERROR "profile ${w}: wall_s ${t}, first matmul alone_s ${a}: expected > 0")
  endif()
endforeach()
execute_process(COMMAND "${tlm}" bench --model "${dir}" ${opts} --new-tokens 1 --profile
                OUTPUT_QUIET ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc EQUAL 0 OR NOT err MATCHES "N >= 2 to profile")
  message(FATAL_ERROR "--profile with 1 new token: status ${rc}, expected a refusal:\n${err}")
endif()

foreach(bad "--tokens;0" "--random;no-such-model" "--frobnicate" "--model;a;--random;b")
  execute_process(COMMAND "${tlm}" bench ${bad} OUTPUT_QUIET ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "tlm bench ${bad}: status ${rc}, expected 2 (usage error)")
  endif()
endforeach()
file(REMOVE_RECURSE "${dir}")
