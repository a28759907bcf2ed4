#!/usr/bin/env bash
# The table-driven bad-input test (tests/launcher/bad_inputs.table): every row runs one tlm
# command on one broken input and must end with the row's exit status and a message
# holding the row's text (the file, key or tensor, and what was expected), while the
# previous run's outputs in the job's output.dir ($PREV: predictions, scores, metrics,
# summary, job.yaml, two checkpoints) stay byte for byte as they were (sha256 of every file
# before and after each row). Rows are `name | exit | message | arguments`, split at
# " | "; the arguments are shell words after the tlm binary, with $F (the fixtures of
# bad_inputs_fixtures.py), $OK (a valid job writing to $PREV), $PREV, $FRESH (an empty
# directory of the row's own, for rows that must get past the output.dir checks), $NOCKPT
# (a finished run's outputs without checkpoints) and $ROOT. Leading NAME=VALUE words of the
# arguments (a TLM_TEST_* hook) go into tlm's environment.
# argv: the tlm binary, the table.
set -uo pipefail
TLM=$1
table=$2
ROOT=${TLM_SOURCE_DIR:?}
work="${TLM_TEST_TMP:?}/bad-inputs"
F="$work/fixtures"
PREV="$work/prev"
OK="$F/jobs/ok.yaml"
rm -rf "$work" && mkdir -p "$work"
python3 "$ROOT/tests/launcher/bad_inputs_fixtures.py" "$F" "$ROOT" "$PREV" || exit 1

# The previous run: 16 samples, checkpoints at steps 8 and 16.
if ! "$TLM" run "$OK" > "$work/prev.log" 2>&1; then
    echo "FAIL: the valid job does not run:"; cat "$work/prev.log"; exit 1
fi
# ... and a finished run without checkpoints (for --resume auto).
NOCKPT="$work/prev-no-ckpt"
mkdir -p "$NOCKPT" && cp "$PREV"/*.jsonl "$PREV/summary.json" "$PREV/job.yaml" "$NOCKPT/"
# Every file of both but the lock file (.tlm.lock names its last holder's pid).
digest() {
    (cd "$work" && find prev prev-no-ckpt -type f ! -name .tlm.lock | LC_ALL=C sort |
         xargs sha256sum) | sha256sum
}
before=$(digest)
[ -f "$PREV/ckpt-16.h5" ] && [ -f "$PREV/summary.json" ] ||
    { echo "FAIL: the previous run left no outputs"; ls -la "$PREV"; exit 1; }

n=0 bad=0
declare -A by_exit
printf '%-28s %4s %4s  %s\n' case want got result

# has_message TEXT LOG: LOG holds TEXT, or one of its " or: "-separated alternatives (a
# refusal worded by what the build holds, e.g. with or without the CUDA backend).
has_message() {
    local rest=$1 alt
    while [ -n "$rest" ]; do
        alt=${rest%% or: *}
        grep -qF -- "$alt" "$2" && return 0
        [ "$alt" = "$rest" ] && return 1
        rest=${rest#* or: }
    done
    return 1
}

while IFS= read -r row; do
    [[ "$row" =~ ^[[:space:]]*(#|$) ]] && continue
    # columns are split at " | " (a message may hold a bare |, as in online|offline)
    sep=' | '
    name=${row%%"$sep"*}; row=${row#*"$sep"}
    want=${row%%"$sep"*}; row=${row#*"$sep"}
    text=${row%%"$sep"*}; args=${row#*"$sep"}
    name=${name// /}; want=${want// /}
    text=$(sed 's/^ *//; s/ *$//' <<< "$text")
    n=$((n + 1))
    FRESH=$(mktemp -d "$work/fresh.XXXXXX")
    envs=""
    while [[ "$args" =~ ^(TLM_[A-Z0-9_]*=[^ ]*)\ +(.*)$ ]]; do
        envs+="${BASH_REMATCH[1]} " args=${BASH_REMATCH[2]}
    done
    # shellcheck disable=SC2086  # the arguments are shell words by design
    eval "$envs timeout 60 \"\$TLM\" $args" > "$work/$name.log" 2>&1 < /dev/null
    got=$?
    result=ok
    if [ "$got" != "$want" ]; then
        result="exit $got, expected $want"
    elif ! has_message "$text" "$work/$name.log"; then
        result="message lacks: $text"
    elif [ "$(digest)" != "$before" ]; then
        result="the previous outputs in $PREV changed"
    fi
    if [ "$result" != ok ]; then
        bad=$((bad + 1))
        printf '%-28s %4s %4s  FAIL: %s\n' "$name" "$want" "$got" "$result"
        sed 's/^/    | /' "$work/$name.log" | tail -5
        before=$(digest) # the next rows compare with what this one left
    else
        printf '%-28s %4s %4s  ok\n' "$name" "$want" "$got"
    fi
    by_exit[$want]=$(( ${by_exit[$want]:-0} + 1 ))
    rm -rf "$FRESH"
done < "$table"

summary=""
for code in $(printf '%s\n' "${!by_exit[@]}" | sort -n); do
    summary+=" exit $code: ${by_exit[$code]};"
done
echo "$n cases ($summary previous outputs checked after each), $bad failed"
[ "$n" -ge 60 ] || { echo "FAIL: the table has $n cases, fewer than 60"; exit 1; }
[ "$bad" -eq 0 ]
