#!/usr/bin/env bash
# tests/launcher/test_lf_run.sh -- the LLaMA-Factory example jobs (jobs/llamafactory/, the
# keys of the TLM reference's online_ttl.yaml / offline_ttl.yaml) run unchanged by
# `tlm run`, with llamafactory-cli-style key=value overrides only. Cases (first argument):
#   online, offline  on the demo model: exit 0, the ignored keys noted once, 64 predictions
#                    in tlm's layout and the same bytes in the reference's
#                    predict-temperature_0.0-max_new_tokens_24/; tlm eval reads the folder;
#                    the native job --print-job shows, run with --set, answers and
#                    scores exactly as the flat file does (16 samples); a rerun into the
#                    same output_dir works (overwrite_output_dir: true)
#   stories          both files on stories260K (converted from ../shared) over the
#                    AdaptEval GSM8K set registered in a dataset_info.json written here;
#                    label shared, exit 77 without ../shared
# Needs TLM_BIN, TLM_SOURCE_DIR, TLM_TEST_TMP (set by CTest). Exit 0 pass, 1 fail.
set -u
case_name=${1:?usage: test_lf_run.sh online|offline|stories}
BIN=${TLM_BIN:?}
cd "${TLM_SOURCE_DIR:?}" || exit 1
TMP="${TLM_TEST_TMP:?}/lf-run-$case_name"
rm -rf "$TMP" && mkdir -p "$TMP"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# check_run NAME RC OUT N_NEW N: exit 0, N predictions in both layouts, identical.
check_run() {
    local name=$1 rc=$2 out=$3 n_new=$4 n=$5
    local ref="$out/predict-temperature_0.0-max_new_tokens_$n_new/generated_predictions.jsonl"
    [ "$rc" -eq 0 ] || { fail "$name: exit $rc"; tail -5 "$TMP/$name.log"; return; }
    [ "$(wc -l < "$out/generated_predictions.jsonl")" -eq "$n" ] ||
        fail "$name: $(wc -l < "$out/generated_predictions.jsonl") predictions, expected $n"
    cmp -s "$out/generated_predictions.jsonl" "$ref" || fail "$name: $ref differs or is missing"
    [ "$(grep -c '"predict": ' "$ref")" -eq "$n" ] || fail "$name: $ref lacks predict fields"
    "$BIN" eval "$out/predict-temperature_0.0-max_new_tokens_$n_new" --metric all \
        > "$TMP/$name.eval" 2>&1 || fail "$name: tlm eval on the reference's folder"
    echo "$name: exit 0, $n predictions in $out and $ref"
}

demo() { # demo online|offline
    local s=$1 file="jobs/llamafactory/$1_ttl.yaml"
    "$BIN" run "$file" "output_dir=$TMP/$s" > "$TMP/$s.log" 2>&1
    check_run "$s" $? "$TMP/$s" 24 64
    # a job of named datasets says which in its summary (data.path is empty)
    grep -qF '"data": "garden_demo from jobs/llamafactory/data/dataset_info.json"' \
        "$TMP/$s/summary.json" || fail "$s: summary.json does not name the dataset: $(grep '"data"' "$TMP/$s/summary.json")"
    for key in do_train do_predict trust_remote_code overwrite_cache preprocessing_num_workers \
               logging_steps plot_loss bf16 ddp_timeout do_eval \
               per_device_eval_batch_size predict_with_generate report_to; do
        [ "$(grep -c "  $key: ignored: " "$TMP/$s.log")" -eq 1 ] ||
            fail "$s: $key is not noted once as ignored"
    done
    # resuming with another dataset is refused, naming both (one registry, two names for
    # one file, so only the name differs)
    local ds="$TMP/$s-ds"
    mkdir -p "$ds"
    printf '{"garden_demo": {"file_name": "%s/jobs/demo/data.jsonl"}, "garden_b": {"file_name": "%s/jobs/demo/data.jsonl"}}\n' \
        "$PWD" "$PWD" > "$ds/dataset_info.json"
    "$BIN" run "$file" "output_dir=$ds/out" "dataset_dir=$ds" max_samples=8 save_steps=4 \
        > "$ds/first.log" 2>&1 || { fail "$s: a run from $ds/dataset_info.json"; tail -3 "$ds/first.log"; }
    "$BIN" run "$file" "output_dir=$ds/out" "dataset_dir=$ds" max_samples=8 save_steps=4 \
        dataset=garden_b eval_dataset=garden_b --resume auto > "$ds/resume.log" 2>&1
    local rc=$?
    [ $rc -eq 1 ] && grep -qF "was written for a different job: data.dataset: [garden_demo] vs [garden_b]" \
        "$ds/resume.log" || { fail "$s: resume with another dataset: exit $rc"; tail -3 "$ds/resume.log"; }
    # The native job it maps to is the same job: equal answers and scores.
    "$BIN" run "$file" max_samples=16 "output_dir=$TMP/$s-flat" > "$TMP/$s-flat.log" 2>&1 ||
        fail "$s: flat run of 16 samples"
    "$BIN" run "$file" max_samples=16 --print-job > "$TMP/$s-native.yaml" 2> /dev/null ||
        fail "$s: --print-job"
    grep -q '^  reference_layout: true$' "$TMP/$s-native.yaml" || fail "$s: --print-job output"
    "$BIN" run "$TMP/$s-native.yaml" --set "output.dir=$TMP/$s-native" \
        > "$TMP/$s-native.log" 2>&1 || fail "$s: the printed native job does not run"
    for f in generated_predictions.jsonl scores.jsonl; do
        cmp -s "$TMP/$s-flat/$f" "$TMP/$s-native/$f" || fail "$s: $f differs from the native job's"
    done
    ! ls -d "$TMP/$s-flat"/previous-* > /dev/null 2>&1 ||
        fail "$s: a first run into a fresh output_dir moved nothing aside, yet made previous-*"
    # overwrite_output_dir: true runs again into the same output_dir, the first run's
    # results moved to previous-<time>/ (tlm run --overwrite).
    "$BIN" run "$file" max_samples=16 "output_dir=$TMP/$s-flat" > "$TMP/$s-again.log" 2>&1 ||
        fail "$s: a second run into the same output_dir (overwrite_output_dir: true)"
    ls -d "$TMP/$s-flat"/previous-* > /dev/null 2>&1 || fail "$s: no previous-* after the rerun"
    cmp -s "$TMP/$s-flat/generated_predictions.jsonl" "$TMP/$s-native/generated_predictions.jsonl" ||
        fail "$s: the rerun answers differently"
}

stories() {
    local shared=${TLM_SHARED_DIR:-}
    if [ -z "$shared" ] || [ ! -f "$shared/models/stories260K/stories260K.bin" ]; then
        echo "SKIP: ../shared (stories260K, AdaptEval GSM8K) is absent"
        exit 77
    fi
    "$BIN" convert llama2c "$shared/models/stories260K/stories260K.bin" \
        "$shared/models/stories260K/tok512.bin" "$TMP/stories260K" > /dev/null ||
        { fail "tlm convert llama2c"; exit 1; }
    mkdir -p "$TMP/data"
    printf '{"gsm8k_5k": {"file_name": "%s/data/adapteval/gsm8k_random_5k.json"}}\n' \
        "$(cd "$shared" && pwd)" > "$TMP/data/dataset_info.json"
    # What a user of the reference changes on the command line: model, data, lengths, and
    # the values a 260K-parameter model needs (jobs/stories260k-gsm8k-online.yaml).
    local ov=("model_name_or_path=$TMP/stories260K" "dataset_dir=$TMP/data" dataset=gsm8k_5k
              eval_dataset=gsm8k_5k template=empty max_samples=48 cutoff_len=512 threshold=3
              learning_rate=1e-3 max_new_tokens=16)
    for s in online offline; do
        "$BIN" run "jobs/llamafactory/${s}_ttl.yaml" "${ov[@]}" "output_dir=$TMP/$s" \
            > "$TMP/$s.log" 2>&1
        check_run "stories-$s" $? "$TMP/$s" 16 48
        grep -h "mean input ppl" "$TMP/$s.log"
    done
}

case $case_name in
online | offline) demo "$case_name" ;;
stories) stories ;;
*) echo "unknown case $case_name"; exit 1 ;;
esac
[ "$FAILS" -eq 0 ] && echo "PASS: $case_name" && exit 0
echo "$FAILS failure(s)"
exit 1
