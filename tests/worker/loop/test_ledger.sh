#!/usr/bin/env bash
# tests/worker/loop/test_ledger.sh -- output.dir as a ledger (worker/loop/ttl_ledger.c,
# worker/loop/ttl_out.c): nothing an earlier run wrote is lost. On the bundled demo job
# (8 samples, ~1 s a run): a second run into a finished dir is refused and the dir left
# untouched; a concurrent run is refused naming the lock holder; --overwrite moves the
# results to previous-<time>/; --resume auto without a checkpoint refuses a finished run
# and moves an unfinished one aside; a file size limit mid-run (ulimit -f: EFBIG) ends
# with the file and errno named and the three JSONL files at one batch boundary; every
# record bad under on_error: skip is an error; method none says what would be selected.
# Needs TLM_BIN, TLM_SOURCE_DIR, TLM_TEST_TMP (set by CTest). Exit 0 pass, 1 fail.
set -u
BIN=${TLM_BIN:?}
cd "${TLM_SOURCE_DIR:?}" || exit 1
TMP="${TLM_TEST_TMP:?}/ledger"
rm -rf "$TMP" && mkdir -p "$TMP"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
SETS=(--set data.max_samples=8 --set method.stream_batch=4 --set generate.max_new_tokens=8
      --set output.checkpoint_every=2)
run() { # run OUTDIR LOG [args...]: the small demo into OUTDIR; returns tlm's status
    local dir=$1 log=$2; shift 2
    "$BIN" run jobs/demo.yaml "${SETS[@]}" --set "output.dir=$dir" "$@" > "$log" 2>&1
}
sums() { (cd "$1" && find . -type f ! -name .tlm.lock | sort | xargs md5sum); }
expect() { # expect NAME WANT_STATUS GOT_STATUS LOG SUBSTRING
    [ "$3" -eq "$2" ] || { fail "$1: exit $3, expected $2"; cat "$4"; return 1; }
    grep -qF -- "$5" "$4" || { fail "$1: no \"$5\" in its output"; cat "$4"; return 1; }
    echo "ok $1: exit $3: $(grep -m1 -o 'error: .*' "$4" | cut -c1-150)"
}

D="$TMP/a"
run "$D" "$TMP/a1.log" || { fail "first run failed"; cat "$TMP/a1.log"; }
before=$(sums "$D")
run "$D" "$TMP/a2.log"
expect second_run 1 $? "$TMP/a2.log" "holds the results of an earlier run (generated_predictions.jsonl, scores.jsonl, metrics.jsonl, summary.json, job.yaml, "
run "$D" "$TMP/a3.log" --set optim.lr=0.02
expect other_job 1 $? "$TMP/a3.log" "holds the results of an earlier run"
[ "$(sums "$D")" = "$before" ] || fail "a refused run changed $D"

# --resume PATH of another directory's checkpoint into a dir with other results
run "$TMP/b" "$TMP/b1.log" || fail "run into b failed"
before_b=$(sums "$TMP/b")
ck=$(ls "$D"/ckpt-*.h5 | sort -V | tail -1)
run "$TMP/b" "$TMP/b2.log" --resume "$ck"
expect resume_foreign 1 $? "$TMP/b2.log" "output.dir $TMP/b holds other results"
[ "$(sums "$TMP/b")" = "$before_b" ] || fail "a refused --resume PATH changed $TMP/b"

"$BIN" run jobs/demo.yaml --overwrite --resume auto > "$TMP/both.log" 2>&1
expect overwrite_and_resume 2 $? "$TMP/both.log" "--overwrite and --resume exclude each other"

run "$D" "$TMP/a4.log" --overwrite
expect overwrite 0 $? "$TMP/a4.log" "are in $D/previous-"
prev=$(ls -d "$D"/previous-* | head -1)
[ "$(sums "$prev")" = "$before" ] || fail "--overwrite: $prev does not hold the earlier results"
[ -s "$D/summary.json" ] || fail "--overwrite: no new summary.json"

# the reference-layout copy of the predictions (output.reference_layout: predict-*/) is a
# result too: named by the refusal, moved by --overwrite with the rest
P="$TMP/ref-layout" pd=predict-temperature_0.0-max_new_tokens_8
run "$P" "$TMP/p1.log" --set output.reference_layout=true || { fail "reference-layout run failed"; cat "$TMP/p1.log"; }
[ -s "$P/$pd/generated_predictions.jsonl" ] || fail "reference layout: no $pd/generated_predictions.jsonl"
before_p=$(sums "$P")
run "$P" "$TMP/p2.log"
expect predict_named 1 $? "$TMP/p2.log" "summary.json, job.yaml, $pd/, "
run "$P" "$TMP/p3.log" --overwrite
expect predict_moved 0 $? "$TMP/p3.log" "are in $P/previous-"
prev=$(ls -d "$P"/previous-* | head -1)
[ "$(sums "$prev")" = "$before_p" ] || fail "--overwrite: $prev lacks the earlier results (with $pd/)"
! compgen -G "$P/predict-*" > /dev/null || fail "--overwrite left $(ls -d "$P"/predict-*) in $P"

# a second run while one holds the lock (the demo's whole stream: several seconds)
# (each of its 64 steps slowed to >= 100 ms: it outlasts the second run on any machine)
TLM_TEST_STEP_DELAY_MS=100 "$BIN" run jobs/demo.yaml --set "output.dir=$TMP/c" > "$TMP/c1.log" 2>&1 &
pid=$!
for _ in $(seq 6000); do [ -s "$TMP/c/.tlm.lock" ] && break; sleep 0.01; done # <= 60 s
[ -s "$TMP/c/.tlm.lock" ] || fail "concurrent: the first run took no lock in 60 s"
run "$TMP/c" "$TMP/c2.log"
rc=$?
kill -0 $pid 2> /dev/null || fail "concurrent: the first run ended before the second started"
expect concurrent 1 $rc "$TMP/c2.log" "is in use by another run: pid $pid on host"
wait $pid || fail "concurrent: the first run failed"

# --resume auto without a checkpoint: a finished run of method none is refused ...
N="$TMP/none"
run "$N" "$TMP/n1.log" --set method.name=none || fail "method none run failed"
grep -q "would be selected by tlm" "$TMP/n1.log" || fail "method none: no would-be-selected line"
before=$(sums "$N")
run "$N" "$TMP/n2.log" --set method.name=none --resume auto
expect resume_finished 1 $? "$TMP/n2.log" "holds no checkpoint to resume from, but the results of a finished run"
[ "$(sums "$N")" = "$before" ] || fail "a refused --resume auto changed $N"
# ... an unfinished one (no summary.json, no job.yaml: it died) moves aside and restarts
rm "$N/summary.json" "$N/job.yaml"
run "$N" "$TMP/n3.log" --set method.name=none --resume auto
expect resume_unfinished 0 $? "$TMP/n3.log" "moving them aside and starting from the beginning"
ls -d "$N"/previous-* > /dev/null 2>&1 || fail "resume_unfinished: nothing in previous-*"

# a file size limit (8 KiB) mid-run: the write fails with EFBIG, named; the files are cut
# back to the last batch all three hold (4 samples and 4 steps per batch)
F="$TMP/full"
(ulimit -f 8; "$BIN" run jobs/demo.yaml --set data.max_samples=40 --set method.stream_batch=4 \
    --set generate.max_new_tokens=8 --set output.checkpoint_every=0 --set "output.dir=$F" \
    > "$TMP/full.log" 2>&1)
expect file_limit 1 $? "$TMP/full.log" "failed: File too large; the three JSONL files are cut back"
np=$(wc -l < "$F/generated_predictions.jsonl"); ns=$(wc -l < "$F/scores.jsonl")
nm=$(wc -l < "$F/metrics.jsonl")
{ [ "$np" -eq "$ns" ] && [ "$ns" -eq "$nm" ] && [ $((np % 4)) -eq 0 ] && [ "$np" -gt 0 ]; } ||
    fail "file_limit: $np predictions, $ns scores, $nm metrics: not one batch boundary"
for f in "$F"/*.jsonl; do
    [ -z "$(tail -c1 "$f")" ] || fail "file_limit: $f ends inside a line"
done
[ -e "$F/summary.json" ] && fail "file_limit: a summary.json for a failed run"
echo "file_limit: $np/$ns/$nm lines kept"

# every record bad under on_error: skip
printf '{"x": 1}\n{"instruction": 5}\nnot json\n' > "$TMP/bad.jsonl"
run "$TMP/bad" "$TMP/bad.log" --set "data.path=$TMP/bad.jsonl" --set data.on_error=skip
expect all_bad 1 $? "$TMP/bad.log" "every one of its 3 records was bad and skipped"

[ $FAILS -eq 0 ] && echo "PASS" || echo "FAILED ($FAILS)"
[ $FAILS -eq 0 ]
