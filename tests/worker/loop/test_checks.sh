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
refused memory 1 "per rank (weights" --set data.cutoff_len=2000000000
grep -q "but this host has [0-9.]* [GMK]iB free of [0-9.]* [GMK]iB (MemAvailable [0-9.]* GiB in /proc/meminfo" \
    "$TMP/memory.log" || fail "memory: the refusal lacks the room and where it comes from"
# ... and against the backend's own memory (ops->mem_info: MemAvailable on CPU,
# cudaMemGetInfo on CUDA), here made too small by the test hook: the demo needs ~10 MiB
TLM_TEST_DEVICE_FREE=1048576 refused device_memory 1 \
    "this host has 1.0 MiB free of" --set data.max_samples=8
grep -q "MiB per rank (.*) but this host has 1.0 MiB free of [0-9.]* [GMK]iB (TLM_TEST_DEVICE_FREE=1048576, a test hook, in place of MemAvailable)" \
    "$TMP/device_memory.log" || fail "device_memory: the refusal lacks both numbers"
# ttt.tasks_per_pass: the stack of P adapters and a pass of P tasks' steps are counted
# (the demo ttt job: 8.5 MiB at P = 1, 1.45 GiB at P = 256, LoRA+AdamW 224 KiB -> 84.2 MiB)
CASES=$((CASES + 1))
TLM_TEST_DEVICE_FREE=536870912 "$BIN" run jobs/demo-ttt.yaml --set "output.dir=$TMP/ttt_p256" \
    --set ttt.tasks_per_pass=256 > "$TMP/ttt_p256.log" 2>&1 && fail "ttt_p256: accepted"
grep -q "LoRA+AdamW 84.2 MiB, .*and ttt.tasks_per_pass set them" "$TMP/ttt_p256.log" ||
    { fail "ttt_p256: the refusal does not count the stack"; cat "$TMP/ttt_p256.log"; }
TLM_TEST_DEVICE_FREE=lots refused device_free_malformed 1 \
    "TLM_TEST_DEVICE_FREE=lots: expected a byte count (tests only)"
# the same job with room enough runs (the hook only replaces the number compared)
CASES=$((CASES + 1))
TLM_TEST_DEVICE_FREE=1073741824 "$BIN" run jobs/demo.yaml --set "output.dir=$TMP/device-room" \
    --set data.max_samples=2 --set method.stream_batch=2 --set generate.max_new_tokens=2 \
    > "$TMP/device-room.log" 2>&1 || { fail "device_room: exit $?"; cat "$TMP/device-room.log"; }
[ "$(wc -l < "$TMP/device-room/scores.jsonl" 2>/dev/null)" = 2 ] || fail "device_room: not 2 scores"

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

# a NaN and an infinity in the weights: refused at load, naming the tensor and element
nan_model() { # nan_model DIR BITS: the demo model with element 5 of q_proj (layer 1) = BITS
    mk_model "$1"
    python3 - "$1/model.safetensors" "$2" << 'PY'
import json, struct, sys
path, bits = sys.argv[1], int(sys.argv[2], 16)
with open(path, "r+b") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    head = json.loads(f.read(n))
    t = head["model.layers.1.self_attn.q_proj.weight"]
    size = {"F32": 4, "BF16": 2, "F16": 2}[t["dtype"]]
    f.seek(8 + n + t["data_offsets"][0] + 5 * size)
    f.write(struct.pack("<I", bits) if size == 4 else struct.pack("<H", bits >> 16))
PY
}
nan_model "$TMP/model-nan" 7fc00000
refused weights_nan 1 "tensor \"model.layers.1.self_attn.q_proj.weight\": element [0, 5] is NaN" \
    --set "model.path=$TMP/model-nan"
nan_model "$TMP/model-inf" ff800000
refused weights_inf 1 "tensor \"model.layers.1.self_attn.q_proj.weight\": element [0, 5] is infinite" \
    --set "model.path=$TMP/model-inf"

# a diverging run (lr 1e30): the first non-finite gradient norm stops it before the step;
# offline the last good state is checkpointed mid-epoch and resumes; JSON never sees a NaN;
# online it diverges in the first batch, which leaves no state to keep (test_resume.sh
# nan_online checks the checkpoint of a later batch's NaN)
small=(--set data.max_samples=16 --set method.stream_batch=4 --set generate.max_new_tokens=4
       --set output.checkpoint_every=4 --set optim.lr=1e30)
CASES=$((CASES + 1))
out="$TMP/nan-offline"
"$BIN" run jobs/demo.yaml "${small[@]}" --set method.setting=offline --set "output.dir=$out" \
    > "$TMP/nan-offline.log" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "nan_offline: exit $rc, expected 1"
msg=$(grep -o "error: .*" "$TMP/nan-offline.log")
echo "$msg" | grep -q "offline epoch, stream sample [0-9]* on: $out/ckpt-[0-9]*.h5 holds the state before it: .*update step [0-9]*.*the gradient norm is .*nan; stopped before the step changed the adapter" ||
    fail "nan_offline: message: $msg"
k=$(wc -l < "$out/scores.jsonl")
[ -f "$out/ckpt-$k.h5" ] && [ "$(wc -l < "$out/metrics.jsonl")" -eq "$k" ] ||
    fail "nan_offline: no checkpoint of the $k good steps beside $k scores"
! grep -qi "nan\|inf" "$out/scores.jsonl" "$out/metrics.jsonl" || fail "nan_offline: a NaN in the JSONL"
echo "ok nan_offline: ${msg:0:160}"
CASES=$((CASES + 1))
out="$TMP/nan-online"
"$BIN" run jobs/demo.yaml "${small[@]}" --set "output.dir=$out" > "$TMP/nan-online.log" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "nan_online: exit $rc, expected 1"
msg=$(grep -o "error: .*" "$TMP/nan-online.log")
echo "$msg" | grep -qF "online, the stream batch of samples 0..3 (not written; the first batch: no good state beyond the fresh start to keep): " &&
    echo "$msg" | grep -q "update step 2 (stream samples 1..1): the gradient norm is" ||
    fail "nan_online: message: $msg"
! grep -qi "nan\|inf" "$out"/*.jsonl || fail "nan_online: a NaN in the JSONL"
echo "ok nan_online: ${msg:0:160}"

echo "$CASES cases"
[ $FAILS -eq 0 ] && echo "PASS" || echo "FAILED ($FAILS)"
[ $FAILS -eq 0 ]
