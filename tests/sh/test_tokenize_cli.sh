#!/usr/bin/env bash
# weights_tools tokenize / detokenize: round trips, stdin, golden ids, error exits.
# Skips (77) when the default model or weights_tools is not there yet.
set -u
WT=${WEIGHTS_TOOLS:-}
MODEL=${LAC_DEFAULT_MODEL:-}
SHARED=${LAC_SHARED:-${LAC_SOURCE_DIR:-.}/../shared}
if [ -z "$MODEL" ] || [ ! -f "$MODEL" ] || [ -z "$WT" ] || [ ! -x "$WT" ]; then
    echo "skip: no default model or weights_tools"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# round trips: text, invalid UTF-8, binaries, empty input
head -c 40000 "$SHARED/corpus/canterbury/kennedy.xls" > "$tmp/xls"
printf 'caf\xc3\xa9 \xff\xfe \xed\xa0\x80 \xc0\x80 <|endoftext|>\0 end\xe2\x82' > "$tmp/bad"
: > "$tmp/empty"
for f in "$SHARED/tokenizer/golden/tricky.txt" "$SHARED/corpus/canterbury/cp.html" \
         "$SHARED/corpus/canterbury/sum" "$tmp/xls" "$tmp/bad" "$tmp/empty"; do
    "$WT" tokenize "$MODEL" "$f" > "$tmp/ids" || fail "tokenize $f"
    "$WT" detokenize "$MODEL" "$tmp/ids" > "$tmp/out" || fail "detokenize $f"
    cmp -s "$f" "$tmp/out" || fail "round trip of $f"
    # stdin ("-" and no FILE) gives the same ids
    "$WT" tokenize "$MODEL" - < "$f" | cmp -s - "$tmp/ids" || fail "tokenize - < $f"
    "$WT" tokenize "$MODEL" < "$f" | cmp -s - "$tmp/ids" || fail "tokenize < $f"
    tr '\n' ' ' < "$tmp/ids" | "$WT" detokenize "$MODEL" | cmp -s - "$f" \
        || fail "detokenize of space-separated ids from stdin ($f)"
done
[ -s "$tmp/empty" ] && fail "empty input"
"$WT" tokenize "$MODEL" "$tmp/empty" | cmp -s - /dev/null || fail "empty input gives ids"

# with the GPT-2 vocabulary (id 50256 spells <|endoftext|>), the golden ids
if [ "$(echo 50256 | "$WT" detokenize "$MODEL")" = "<|endoftext|>" ]; then
    "$WT" tokenize "$MODEL" "$SHARED/tokenizer/golden/tricky.txt" \
        | cmp -s - "$SHARED/tokenizer/golden/tricky.txt.ids" || fail "golden ids of tricky.txt"
fi

# errors: one line on stderr, exit 1 (usage: 2)
expect_err() { # expected-status command...
    local want=$1; shift
    "$@" > /dev/null 2> "$tmp/err"; local st=$?
    [ "$st" = "$want" ] || fail "exit $st (want $want): $*"
    [ "$(wc -l < "$tmp/err")" = 1 ] || fail "stderr is not one line: $*: $(cat "$tmp/err")"
}
echo "15496 abc 995" > "$tmp/badid"
expect_err 1 "$WT" detokenize "$MODEL" "$tmp/badid"
echo "15496 99999999999" > "$tmp/badid"
expect_err 1 "$WT" detokenize "$MODEL" "$tmp/badid"
echo "-1" > "$tmp/badid"
expect_err 1 "$WT" detokenize "$MODEL" "$tmp/badid"
expect_err 1 "$WT" tokenize "$MODEL" "$tmp/does-not-exist"
expect_err 1 "$WT" detokenize "$MODEL" "$tmp/does-not-exist"
expect_err 1 "$WT" tokenize "$tmp/no-model.lacm" "$tmp/bad"
expect_err 2 "$WT" tokenize
echo "ok"
