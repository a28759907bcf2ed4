#!/usr/bin/env bash
# tests/worker/loop/test_resume.sh -- exact resume of `tlm run` (DESIGN §5) on the bundled demo
# job (jobs/demo.yaml, 2 CPU seconds per pass). Cases (first argument):
#   signal   (AdamW state and cosine schedule across batches) SIGTERM mid-run -> exit 0 +
#            checkpoint -> --resume auto, SIGUSR1 during the resumed run -> resume again: adapter (tlm export, cmp), predictions, scores and
#            metrics (minus timings) equal the uninterrupted run's
#   kill9    kill -9 at >= 20 moments (every other one inside a checkpoint write, held open
#            by TLM_TEST_CKPT_DELAY_MS), --resume auto each time until done: the same equalities
#   refuse   a checkpoint of another model and a job with another optim.lr are refused,
#            the message naming the difference
#   offline  the offline setting, SIGTERM during generation, resumed: the same equalities
#   offline_epoch  offline, signals inside the update epoch (SIGTERM twice, kill -9), in
#            generation, and SIGTERM + SIGINT inside a checkpoint write: the same equalities
#   corrupt  a truncated newest checkpoint: --resume auto falls back to the previous one,
#            says so, and the run still ends equal to the uninterrupted one
#   nan_online  online, a NaN ce injected mid-stream (TLM_TEST_NAN_SAMPLE): the run stops
#            naming the sample and the step, the JSONL files end at the batch before
#            (no NaN in them, equal to the reference's first lines), the state after that
#            batch is a checkpoint (written then, with checkpoint_every 100, or already on
#            disk, with 4), --resume auto from it ends equal to the uninterrupted run; a
#            NaN in the first batch leaves nothing to keep and says so
# Needs TLM_BIN, TLM_SOURCE_DIR, TLM_TEST_TMP (set by CTest, tests/CMakeLists.txt).
# Exit 0 pass, 1 fail.
set -u
case_name=${1:?usage: test_resume.sh signal|kill9|refuse|offline|offline_epoch|corrupt|nan_online}
BIN=${TLM_BIN:?}
cd "${TLM_SOURCE_DIR:?}" || exit 1
TMP="${TLM_TEST_TMP:?}/resume-$case_name"
rm -rf "$TMP" && mkdir -p "$TMP"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# Progress, so that a run killed by its ctest timeout shows how far it got.
progress() { echo "[${SECONDS}s] $case_name: $*"; }

# A small demo: 32 samples in stream batches of 4, short answers, a checkpoint per batch.
SETS=(--set data.max_samples=32 --set method.stream_batch=4 --set generate.max_new_tokens=8
      --set output.checkpoint_every=4 --set output.keep=2)
run() { # run OUTDIR [args...]: the demo job into OUTDIR
    local dir=$1; shift
    "$BIN" run jobs/demo.yaml "${SETS[@]}" --set "output.dir=$dir" "$@"
}
start() { # start LOG OUTDIR [args...]: run in the background; $! is tlm's own pid
    local log=$1 dir=$2; shift 2
    "$BIN" run jobs/demo.yaml "${SETS[@]}" --set "output.dir=$dir" "$@" > "$log" 2>&1 &
}

# The uninterrupted reference run.
reference() {
    run "$TMP/ref" > "$TMP/ref.log" 2>&1 || { fail "reference run failed"; cat "$TMP/ref.log"; exit 1; }
    "$BIN" export "$(ls "$TMP"/ref/ckpt-*.h5 | sort -V | tail -1)" --peft "$TMP/ref-peft" \
        > /dev/null || fail "export of the reference checkpoint"
    progress "uninterrupted reference run done"
}

# Metrics without their timings (tokens_per_s is wall-clock).
strip_metrics() { sed -E 's/, "tokens_per_s": [^,}]*//' "$1"; }

# compare DIR: outputs and final adapter of DIR against the reference.
compare() {
    local dir=$1
    progress "comparing $dir with the reference"
    for f in generated_predictions.jsonl scores.jsonl; do
        cmp -s "$TMP/ref/$f" "$dir/$f" || fail "$dir/$f differs from the uninterrupted run's"
    done
    cmp -s <(strip_metrics "$TMP/ref/metrics.jsonl") <(strip_metrics "$dir/metrics.jsonl") ||
        fail "$dir/metrics.jsonl differs (timings aside)"
    local last
    last=$(ls "$dir"/ckpt-*.h5 2>/dev/null | sort -V | tail -1)
    [ -n "$last" ] || { fail "$dir: no final checkpoint"; return; }
    rm -rf "$dir-peft"
    "$BIN" export "$last" --peft "$dir-peft" > /dev/null || { fail "export $last"; return; }
    cmp -s "$TMP/ref-peft/adapter_model.safetensors" "$dir-peft/adapter_model.safetensors" ||
        fail "final adapter of $dir ($last) is not bit-identical to the uninterrupted run's"
    echo "compared $dir: $(wc -l < "$dir/generated_predictions.jsonl") predictions," \
         "$(wc -l < "$dir/scores.jsonl") scores, adapter from $last"
}

wait_for() { # wait_for GLOB SECONDS [PID]: 0 when a file matching GLOB appears in time
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        compgen -G "$1" > /dev/null && return 0
        [ -n "${3:-}" ] && ! kill -0 "$3" 2> /dev/null && return 1
        sleep 0.02
    done
    return 1
}

wait_gone() { # wait_gone GLOB SECONDS [PID]: 0 when no file matches GLOB any more
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        compgen -G "$1" > /dev/null || return 0
        [ -n "${3:-}" ] && ! kill -0 "$3" 2> /dev/null && return 1
        sleep 0.02
    done
    return 1
}

case_signal() {
    # one AdamW state and one cosine schedule over the whole stream: the moments, the
    # optimizer step and the schedule position must all survive the checkpoint
    SETS+=(--set optim.reset_per_batch=false --set optim.schedule=cosine
           --set optim.warmup_ratio=0.1)
    reference
    # each checkpoint write held open 200 ms: on a fast, quiet machine the whole 32-sample
    # stream otherwise ends (and output.keep removes ckpt-8) before the poll sees it
    export TLM_TEST_CKPT_DELAY_MS=200
    local d="$TMP/sig"
    start "$TMP/sig1.log" "$d"; local pid=$!
    wait_for "$d/ckpt-8.h5" 60 || fail "no first checkpoint"
    kill -TERM $pid; wait $pid; local rc=$?
    [ $rc -eq 0 ] || fail "SIGTERM: exit $rc, expected 0"
    grep -q "stopped by SIGTERM.*--resume auto" "$TMP/sig1.log" || fail "no stop/resume line"
    local n1; n1=$(wc -l < "$d/scores.jsonl")
    [ "$n1" -lt 32 ] || fail "SIGTERM landed after the end ($n1 samples); test proves nothing"
    start "$TMP/sig2.log" "$d" --resume auto; pid=$!
    wait_for "$d/ckpt-$((n1 + 4)).h5" 60
    kill -USR1 $pid; wait $pid; rc=$?
    [ $rc -eq 0 ] || fail "SIGUSR1: exit $rc, expected 0"
    grep -q "resumed from $d/ckpt-$n1.h5" "$TMP/sig2.log" || fail "did not resume from ckpt-$n1"
    # activation recomputation may be switched on at a resume (the same numbers): the
    # final adapter and outputs must still be the uninterrupted run's, bit for bit
    run "$d" --resume auto --set optim.gradient_checkpointing=true > "$TMP/sig3.log" 2>&1 ||
        { fail "final resume (gradient_checkpointing on) failed"; tail -3 "$TMP/sig3.log"; }
    local last; last=$(ls "$d"/ckpt-*.h5 | sort -V | tail -1)
    "$BIN" inspect "$last" | grep -q "activations recomputed" ||
        fail "tlm inspect $last: the job line does not say activations recomputed"
    echo "SIGTERM after $n1 samples, SIGUSR1 after $(grep -o 'stopped by SIGUSR1 after [0-9]*' "$TMP/sig2.log" | grep -o '[0-9]*$')"
    compare "$d"
}

case_kill9() {
    # the whole demo stream in batches of 1: 64 checkpoints to land between
    SETS+=(--set data.max_samples=64 --set method.stream_batch=1 --set output.checkpoint_every=1)
    reference
    # each update step and generation chunk held 20 ms: with the fast decode kernels a quiet
    # machine otherwise finishes the stream after 13 kills
    export TLM_TEST_STEP_DELAY_MS=20
    local d="$TMP/k9" kills=0 in_write=0 runs=0 rc
    while [ $kills -lt 20 ] && [ $runs -lt 60 ]; do
        # even kills: checkpoint writes held open 150 ms to land inside one; odd: 60 ms,
        # which bounds the progress between two kills (a demo sample takes ~5 ms) so that
        # 20 kills land before the 64-sample stream ends, on any machine load
        export TLM_TEST_CKPT_DELAY_MS=$(( kills % 2 == 0 ? 150 : 60 ))
        start "$TMP/k9-$runs.log" "$d" --resume auto; local pid=$!
        runs=$((runs + 1))
        local tmpf="$d/ckpt-*.h5.tmp.$pid"
        if [ $((kills % 5)) -eq 4 ]; then # early: loading, resuming, first batch
            sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
        elif wait_for "$tmpf" 20 $pid && wait_gone "$tmpf" 20 $pid; then
            # this run's first checkpoint has landed (progress); now either inside its
            # second checkpoint write (temp file there, rename not yet done: the write is
            # held open TLM_TEST_CKPT_DELAY_MS) or at a random moment of the next batch
            if [ $((kills % 2)) -eq 0 ]; then
                wait_for "$tmpf" 20 $pid && sleep 0.0$((RANDOM % 10))
            else
                sleep "0.0$((RANDOM % 5))"
            fi
        fi
        if kill -9 $pid 2> /dev/null; then
            kills=$((kills + 1))
            progress "kill $kills (run $runs)"
            compgen -G "$d/ckpt-*.h5.tmp.$pid" > /dev/null && in_write=$((in_write + 1))
            wait $pid 2> /dev/null
        else
            wait $pid && break # it finished before the kill: done
        fi
    done
    unset TLM_TEST_CKPT_DELAY_MS
    run "$d" --resume auto > "$TMP/k9-final.log" 2>&1 || fail "final resume failed"
    rc=$(grep -c "resumed from" "$TMP"/k9-*.log | awk -F: '{s += $2} END {print s}')
    echo "kill -9: $kills kills ($in_write inside a checkpoint write), $runs runs, $rc resumes"
    [ "$kills" -ge 20 ] || fail "only $kills kills before the run finished"
    ! compgen -G "$d/ckpt-*.h5.tmp.*" > /dev/null || fail "stale checkpoint temp files left"
    [ "$in_write" -ge 1 ] || fail "no kill landed inside a checkpoint write"
    compare "$d"
}

case_refuse() {
    local d="$TMP/x"
    run "$d" > "$TMP/x.log" 2>&1 || fail "run failed"
    local ck; ck=$(ls "$d"/ckpt-*.h5 | sort -V | tail -1)
    # another model: the demo model with another rms_norm_eps (another config hash)
    cp -r jobs/demo/model "$TMP/other-model"
    sed -i 's/"rms_norm_eps": 1e-05/"rms_norm_eps": 1e-06/' "$TMP/other-model/config.json"
    run "$d" --set "model.path=$TMP/other-model" --resume "$ck" > "$TMP/x-model.log" 2>&1
    local rc=$?
    [ $rc -ne 0 ] || fail "a checkpoint of another model was accepted"
    grep -q "was written for model dir [^ ]*jobs/demo/model (config hash [0-9a-f]*), this job uses $TMP/other-model" \
        "$TMP/x-model.log" || { fail "model refusal message"; cat "$TMP/x-model.log"; }
    run "$d" --set optim.lr=0.02 --resume "$ck" > "$TMP/x-lr.log" 2>&1
    rc=$?
    [ $rc -ne 0 ] || fail "a job with another optim.lr was accepted"
    grep -q "optim.lr" "$TMP/x-lr.log" || { fail "lr refusal does not name optim.lr"; cat "$TMP/x-lr.log"; }
    # output.* may change: the same checkpoint resumes into another directory's files
    grep -h "error" "$TMP"/x-*.log
}

case_corrupt() {
    reference
    local d="$TMP/cor"
    cp -r "$TMP/ref" "$d"
    rm -f "$d"/ckpt-32.h5 # leave ckpt-28 (valid) and make a truncated newest
    cp "$TMP/ref/ckpt-32.h5" "$d/ckpt-32.h5"
    truncate -s 3000 "$d/ckpt-32.h5"
    run "$d" --resume auto > "$TMP/cor.log" 2>&1 || { fail "resume past a corrupt checkpoint failed"; cat "$TMP/cor.log"; }
    grep -q "skipping checkpoint $d/ckpt-32.h5" "$TMP/cor.log" || fail "no message about the corrupt ckpt-32"
    grep -q "resumed from $d/ckpt-28.h5" "$TMP/cor.log" || fail "did not fall back to ckpt-28"
    compare "$d"
}

case_offline() {
    # offline checkpoints: after the update epoch and per generation chunk (of stream_batch).
    # Long answers keep the generation phase long enough (~1 s) for the signal to land in
    # it; the signal goes after the first answered chunk, not after a guessed sleep.
    SETS+=(--set method.setting=offline --set generate.max_new_tokens=200)
    reference
    local d="$TMP/off"
    # each step and generation chunk >= 100 ms: the 8 chunks outlast the signal's way in
    # however fast decoding is
    TLM_TEST_STEP_DELAY_MS=100 start "$TMP/off1.log" "$d"; local pid=$!
    wait_for "$d/ckpt-32.h5" 60 $pid
    for _ in $(seq 600); do
        [ "$(wc -l < "$d/generated_predictions.jsonl" 2>/dev/null || echo 0)" -ge 4 ] && break
        sleep 0.01
    done
    kill -TERM $pid; wait $pid; local rc=$?
    [ $rc -eq 0 ] || fail "SIGTERM offline: exit $rc, expected 0"
    local n1; n1=$(wc -l < "$d/generated_predictions.jsonl")
    [ "$n1" -lt 32 ] || fail "SIGTERM landed after the end ($n1 answers); test proves nothing"
    run "$d" --resume auto > "$TMP/off2.log" 2>&1 || fail "offline resume failed"
    grep -q "resumed from $d/ckpt-32.h5: step 32, 32 samples done, $n1 answered" \
        "$TMP/off2.log" || fail "offline: did not resume at $n1 answers"
    echo "offline: SIGTERM after $n1 of 32 answers"
    compare "$d"
}

case_offline_epoch() {
    # offline preemption inside the update epoch (TLM_TEST_STEP_DELAY_MS slows each step
    # to ~40 ms so that signals land in a 32-step epoch): SIGTERM mid-epoch -> checkpoint at
    # the next step, exit 0; resume, SIGTERM again mid-epoch; resume, kill -9 mid-epoch
    # (back to the mid-epoch checkpoint); resume, SIGTERM in generation; resume, SIGTERM
    # and then SIGINT inside the stop's checkpoint write (dies mid-write); resume to the
    # end: every output and the final adapter equal the uninterrupted run's
    SETS+=(--set method.setting=offline)
    reference
    local d="$TMP/ep" pid rc k1 k2
    export TLM_TEST_STEP_DELAY_MS=40
    scored() { wc -l < "$d/scores.jsonl" 2> /dev/null || echo 0; }
    wait_log() { # wait_log LOG PATTERN: the run's log shows PATTERN (<= 60 s)
        for _ in $(seq 3000); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.02; done
        return 1
    }
    start "$TMP/ep1.log" "$d"; pid=$!
    wait_log "$TMP/ep1.log" "memory estimate"; sleep 0.4
    kill -TERM $pid; wait $pid; rc=$?
    k1=$(scored)
    [ $rc -eq 0 ] || fail "SIGTERM in the epoch: exit $rc, expected 0"
    { [ "$k1" -gt 0 ] && [ "$k1" -lt 32 ]; } || fail "first SIGTERM not inside the epoch ($k1 scored)"
    [ -f "$d/ckpt-$k1.h5" ] || fail "no mid-epoch checkpoint ckpt-$k1.h5"
    [ "$(wc -l < "$d/metrics.jsonl")" -eq "$k1" ] || fail "metrics lines != $k1 steps"
    progress "SIGTERM in the epoch after $k1 of 32 steps"
    start "$TMP/ep2.log" "$d" --resume auto; pid=$!
    wait_log "$TMP/ep2.log" "resumed from"; sleep 0.3
    kill -TERM $pid; wait $pid; rc=$?
    k2=$(scored)
    [ $rc -eq 0 ] || fail "second SIGTERM: exit $rc"
    grep -q "resumed from $d/ckpt-$k1.h5: step $k1, $k1 samples done, 0 answered" "$TMP/ep2.log" ||
        fail "did not resume mid-epoch from ckpt-$k1"
    { [ "$k2" -gt "$k1" ] && [ "$k2" -lt 32 ]; } || fail "second SIGTERM not inside the epoch ($k2)"
    progress "SIGTERM in the resumed epoch after $k2 steps"
    start "$TMP/ep3.log" "$d" --resume auto; pid=$!
    wait_log "$TMP/ep3.log" "resumed from"; sleep 0.2
    kill -9 $pid; wait $pid 2> /dev/null
    local k3; k3=$(scored)
    progress "kill -9 in the resumed epoch ($k3 scores on disk)"
    # slower: the rest of the epoch, then 8 generation chunks of >= 150 ms, so the SIGTERM
    # after the first chunk lands inside generation
    TLM_TEST_STEP_DELAY_MS=150 start "$TMP/ep4.log" "$d" --resume auto; pid=$!
    for _ in $(seq 3000); do
        [ "$(wc -l < "$d/generated_predictions.jsonl" 2>/dev/null || echo 0)" -ge 4 ] && break
        sleep 0.02
    done
    kill -TERM $pid; wait $pid; rc=$?
    grep -q "resumed from $d/ckpt-$k2.h5: step $k2, $k2 samples done, 0 answered" "$TMP/ep4.log" ||
        fail "after kill -9: did not resume from the mid-epoch ckpt-$k2"
    local n4; n4=$(wc -l < "$d/generated_predictions.jsonl")
    [ $rc -eq 0 ] || fail "SIGTERM in generation: exit $rc"
    [ "$n4" -lt 32 ] || fail "SIGTERM in generation landed after the end ($n4 answers)"
    progress "SIGTERM in generation after $n4 answers"
    unset TLM_TEST_STEP_DELAY_MS
    # a stop, then a second signal (SIGINT: stop at once) inside the stop's checkpoint write
    local good; good=$(ls "$d"/ckpt-*.h5 | sort -V | tail -1)
    # (after its first chunk: a stop before it has nothing new to checkpoint)
    TLM_TEST_CKPT_DELAY_MS=400 TLM_TEST_STEP_DELAY_MS=150 start "$TMP/ep5.log" "$d" --resume auto
    pid=$!
    for _ in $(seq 3000); do
        [ "$(wc -l < "$d/generated_predictions.jsonl")" -gt "$n4" ] && break
        sleep 0.02
    done
    kill -TERM $pid
    if wait_for "$d/ckpt-*.h5.tmp.$pid" 30 $pid; then
        kill -INT $pid; wait $pid; rc=$?
        [ $rc -eq 130 ] || fail "SIGINT inside the checkpoint write: exit $rc, expected 130"
        progress "SIGTERM + SIGINT inside a checkpoint write: exit $rc"
    else
        wait $pid; fail "the stop wrote no checkpoint to interrupt"
    fi
    run "$d" --resume auto > "$TMP/ep6.log" 2>&1 || fail "final resume failed"
    grep -q "resumed from $good" "$TMP/ep6.log" || fail "final resume not from $good (the newest complete checkpoint)"
    ! compgen -G "$d/ckpt-*.h5.tmp.*" > /dev/null || fail "stale checkpoint temp files left"
    echo "offline epoch: SIGTERM at step $k1, SIGTERM at step $k2, kill -9 at ~$k3, SIGTERM at" \
         "$n4 of 32 answers, SIGTERM+SIGINT in a checkpoint write"
    compare "$d"
}

# nan_stop DIR SAMPLE CKPT [args...]: a run with a NaN ce at stream sample SAMPLE (in the
# batch from B = SAMPLE rounded down to 4) must exit 1 naming it, leave ckpt-CKPT.h5 the
# newest checkpoint and the JSONL files at the reference's first B lines (metrics: one step
# per sample), then resume to the end.
nan_stop() {
    local d=$1 k=$2 ck=$3; shift 3
    local b=$((k / 4 * 4)) log="$TMP/nan-$k.log"
    TLM_TEST_NAN_SAMPLE=$k run "$d" "$@" > "$log" 2>&1
    local rc=$?
    [ $rc -eq 1 ] || { fail "NaN at $k: exit $rc, expected 1"; cat "$log"; return; }
    local msg; msg=$(grep -o "error: .*" "$log")
    echo "$msg" | grep -qF "online, the stream batch of samples $b..$((b + 3)) (not written): $d/ckpt-$ck.h5 holds the state after the $b samples before it (--resume auto continues there): " ||
        fail "NaN at $k: message: $msg"
    echo "$msg" | grep -qE "update step $((k + 1)): the sum of the step's ce is nan: stream sample $k \($((k - b)) of the batch\) has ce nan" ||
        fail "NaN at $k: the message does not name step $((k + 1)) and sample $k: $msg"
    [ "$(ls "$d"/ckpt-*.h5 | sort -V | tail -1)" = "$d/ckpt-$ck.h5" ] ||
        fail "NaN at $k: newest checkpoint $(ls "$d"/ckpt-*.h5 | sort -V | tail -1), expected ckpt-$ck.h5"
    ! grep -qiE '[:,[] *-?(nan|inf)' "$d"/*.jsonl || fail "NaN at $k: a NaN or Inf in the JSONL files"
    for f in generated_predictions.jsonl scores.jsonl; do
        cmp -s <(head -n "$b" "$TMP/ref/$f") "$d/$f" ||
            fail "NaN at $k: $f is not the reference's first $b lines"
    done
    cmp -s <(strip_metrics "$TMP/ref/metrics.jsonl" | head -n "$b") <(strip_metrics "$d/metrics.jsonl") ||
        fail "NaN at $k: metrics.jsonl is not the reference's first $b lines (timings aside)"
    "$BIN" inspect "$d/ckpt-$ck.h5" > "$TMP/nan-$k.inspect" 2>&1 &&
        grep -q "step $ck" "$TMP/nan-$k.inspect" &&
        grep -q "activations kept" "$TMP/nan-$k.inspect" ||
        { fail "NaN at $k: tlm inspect ckpt-$ck.h5"; cat "$TMP/nan-$k.inspect"; }
    run "$d" "$@" --resume auto > "$TMP/nan-$k-resume.log" 2>&1 ||
        { fail "NaN at $k: the resume failed"; tail -3 "$TMP/nan-$k-resume.log"; return; }
    grep -q "resumed from $d/ckpt-$ck.h5" "$TMP/nan-$k-resume.log" ||
        fail "NaN at $k: did not resume from ckpt-$ck.h5"
    progress "NaN at sample $k: stopped, ckpt-$ck kept, resumed"
    compare "$d"
}

case_nan_online() {
    # one AdamW state across batches, so the kept state's moments matter
    SETS+=(--set optim.reset_per_batch=false)
    reference
    # checkpoints every 100 steps: none on disk at the batch boundary, the kept one is written
    nan_stop "$TMP/nan-kept" 13 12 --set output.checkpoint_every=100
    # a checkpoint per batch: the boundary's is on disk already and named
    nan_stop "$TMP/nan-disk" 21 20
    # the first batch: nothing to keep
    local d="$TMP/nan-first"
    TLM_TEST_NAN_SAMPLE=2 run "$d" > "$TMP/nan-first.log" 2>&1
    local rc=$?
    [ $rc -eq 1 ] || fail "NaN at 2: exit $rc, expected 1"
    grep -qF "online, the stream batch of samples 0..3 (not written; the first batch: no good state beyond the fresh start to keep): " \
        "$TMP/nan-first.log" || fail "NaN at 2: message: $(grep -o 'error: .*' "$TMP/nan-first.log")"
    ! compgen -G "$d/ckpt-*.h5" > /dev/null || fail "NaN at 2: a checkpoint was written"
    [ ! -s "$d/scores.jsonl" ] || fail "NaN at 2: scores written"
}

"case_$case_name"
[ $FAILS -eq 0 ] && echo "PASS: $case_name" || echo "FAILED: $case_name ($FAILS)"
[ $FAILS -eq 0 ]
