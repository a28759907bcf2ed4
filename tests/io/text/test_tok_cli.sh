#!/bin/sh
# tests/io/text/test_tok_cli.sh -- `tlm tokenize` end to end: the committed byte-level
# tokenizer on every golden string (with and without --special) must print the golden ids
# line for line, and a malformed stdin line must fail naming stdin:LINE.
set -u
src=${TLM_SOURCE_DIR:?}/tests/data/tok
dir=${TLM_TEST_TMP:-/tmp}/tok_cli
bin=${TLM_BIN:-tlm}
[ -x "$bin" ] || { echo "SKIPPED: no tlm binary at $bin"; exit 77; }
mkdir -p "$dir" && cp "$src/bytelevel.tokenizer.json" "$dir/tokenizer.json" || exit 1
fail=0
"$bin" tokenize "$dir" < "$src/strings.jsonl" > "$dir/got.txt" || { echo "FAIL: tlm tokenize exited $?"; fail=1; }
sed 's/^{"ids":\(\[[^]]*\]\).*/\1/' "$src/bytelevel.ids.jsonl" > "$dir/want.txt"
cmp -s "$dir/got.txt" "$dir/want.txt" || { echo "FAIL: ids differ:"; diff "$dir/got.txt" "$dir/want.txt" | head -5; fail=1; }
n=$(wc -l < "$src/bytelevel.special.ids.jsonl")
head -n "$n" "$src/strings.jsonl" | "$bin" tokenize "$dir" --special > "$dir/got_s.txt" || fail=1
sed 's/^{"ids":\(\[[^]]*\]\).*/\1/' "$src/bytelevel.special.ids.jsonl" > "$dir/want_s.txt"
cmp -s "$dir/got_s.txt" "$dir/want_s.txt" || { echo "FAIL: --special ids differ"; fail=1; }
printf '"ok"\n{"not": "a string"}\n' | "$bin" tokenize "$dir" > /dev/null 2> "$dir/err.txt"
rc=$?
if [ "$rc" -ne 1 ] || ! grep -q "stdin:2" "$dir/err.txt"; then
    echo "FAIL: malformed line: exit $rc, stderr: $(cat "$dir/err.txt")"; fail=1
fi
[ "$fail" -eq 0 ] && echo "PASS: $(wc -l < "$dir/got.txt") lines"
exit "$fail"
