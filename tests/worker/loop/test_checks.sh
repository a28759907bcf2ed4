#!/usr/bin/env bash
# tests/worker/loop/test_checks.sh -- the refusals before loading (worker/loop/ttl_check.c,
# jobs/job_schema.c's integer ranges): each case runs `tlm run` on the bundled demo job,
# asserts the exit status, a substring of the one error message, and that nothing was
# written to output.dir. Needs TLM_BIN, TLM_SOURCE_DIR, TLM_TEST_TMP (set by CTest).
set -u
BIN=${TLM_BIN:?}
cd "${TLM_SOURCE_DIR:?}" || exit 1
TMP="${TLM_TEST_TMP:?}/checks"
rm -rf "$TMP" && mkdir -p "$TMP"
FAILS=0 CASES=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# refused NAME STATUS SUBSTRING [tlm run args...]: the demo job with those args must exit
# STATUS with SUBSTRING in its output and leave output.dir without outputs.
refused() {
    local name=$1 want=$2 text=$3; shift 3
    CASES=$((CASES + 1))
    local out="$TMP/$name"
    "$BIN" run jobs/demo.yaml --set "output.dir=$out" "$@" > "$TMP/$name.log" 2>&1
    local rc=$?
    [ $rc -eq "$want" ] || { fail "$name: exit $rc, expected $want"; cat "$TMP/$name.log"; return; }
    grep -qF -- "$text" "$TMP/$name.log" || { fail "$name: no \"$text\""; cat "$TMP/$name.log"; return; }
    ! compgen -G "$out/*.jsonl" > /dev/null || fail "$name: outputs written"
    echo "ok $name: $(grep -m1 -o 'error: .*' "$TMP/$name.log" | cut -c1-160)"
}

# integer keys above what they are stored in (they were truncated to int)
refused rank_2p32 1 "lora.rank: 4294967304 is above 2147483647" --set lora.rank=4294967304
refused stream_batch_2p31 1 "method.stream_batch: 2147483648 is above 2147483647" \
    --set method.stream_batch=2147483648
refused keep_2p32 1 "output.keep: 4294967296 is above 2147483647" --set output.keep=4294967296
refused keep_0 1 "output.keep: expected a positive integer" --set output.keep=0
refused cutoff_2p31 1 "data.cutoff_len: 2147483648 is above" --set data.cutoff_len=2147483648
refused new_tokens_2p31 1 "generate.max_new_tokens: 3000000000 is above" \
    --set generate.max_new_tokens=3000000000
refused batch_2p31 1 "optim.batch_size: 2147483648 is above" --set optim.batch_size=2147483648
# against the model: the demo's q_proj is 64 x 64, its k/v_proj 64 -> 32
refused rank_q 1 "lora.rank: 65 exceeds q_proj's smaller dimension" --set lora.rank=65
refused rank_v 1 "lora.rank: 1000000 exceeds q_proj's smaller dimension" --set lora.rank=1000000
refused rank_kv 1 "lora.rank: 40 exceeds v_proj's smaller dimension: the model's v_proj maps 64 to 32" \
    --set lora.rank=40
# the memory estimate against MemAvailable / the cgroup limit
refused memory 1 "GiB available (MemAvailable" --set data.cutoff_len=2000000000

# vocabulary: a token, or a config id, past the model's vocab_size (2002)
mk_model() { # mk_model DIR: a copy of the demo model
    rm -rf "$1" && cp -r jobs/demo/model "$1"
}
M="$TMP/model-added"; mk_model "$M"
sed -i 's/"added_tokens": *\[/"added_tokens": [{"id": 2050, "content": "<|extra|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}, /' \
    "$M/tokenizer.json"
refused vocab_added 1 "token \"<|extra|>\" has id 2050, but the model's vocab_size is 2002" \
    --set "model.path=$M" --set model.template=llama3
M="$TMP/model-eos"; mk_model "$M"
sed -i 's/"eos_token_id": \[/"eos_token_id": [2002, /' "$M/generation_config.json"
refused vocab_eos 1 "eos_token_id 2002 (config.json or generation_config.json) is not below the model's vocab_size 2002" \
    --set "model.path=$M"
M="$TMP/model-pad"; mk_model "$M"
sed -i 's/"bos_token_id": 0,/"bos_token_id": 0, "pad_token_id": 5000,/' "$M/generation_config.json"
refused vocab_pad 1 "pad_token_id 5000" --set "model.path=$M"

echo "$CASES cases"
[ $FAILS -eq 0 ] && echo "PASS" || echo "FAILED ($FAILS)"
[ $FAILS -eq 0 ]
