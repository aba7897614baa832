#!/usr/bin/env bash
# Format v1 files written by the last v1 writer (tests/fixtures/v1/README.md) decode byte for
# byte, forever; -l lists them. The concatenation holds the text, binary, empty and
# non-default-parameter streams; mixed.lacz has coded and stored blocks.
set -euo pipefail
LACGPU=${LACGPU:-build/bin/lacgpu}
[ -x "$LACGPU" ] || { echo "skip: no lacgpu at $LACGPU"; exit 77; }
F=${LAC_SOURCE_DIR:-.}/tests/fixtures/v1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
M=()
[ -n "${LAC_DEFAULT_MODEL:-}" ] && M=(-m "$LAC_DEFAULT_MODEL")
for f in concat:concat.bin mixed:mixed.bin empty:empty.txt binary:binary.bin; do
  z=${f%%:*} p=${f#*:}
  "$LACGPU" "${M[@]}" -q -d -f -o "$tmp/$z.out" "$F/$z.lacz" || fail "$z.lacz does not decode"
  cmp "$tmp/$z.out" "$F/$p" || fail "$z.lacz decodes to other bytes"
  "$LACGPU" -l "$F/$z.lacz" > "$tmp/list" || fail "-l $z.lacz"
  grep -q "lac-tiny (fe9217bf)" "$tmp/list" || { cat "$tmp/list"; fail "-l $z.lacz: no v1 model name"; }
done
"$LACGPU" -l -v "$F/concat.lacz" | grep -q "format 1" || fail "-l -v: not format 1"
# a v1 stream and a v2 stream concatenated
printf 'and a new stream\n' > "$tmp/new.txt"
"$LACGPU" "${M[@]}" -q -c -f -o "$tmp/new.lacz" "$tmp/new.txt"
cat "$F/binary.lacz" "$tmp/new.lacz" > "$tmp/both.lacz"
"$LACGPU" "${M[@]}" -q -d -f -o "$tmp/both.out" "$tmp/both.lacz" || fail "v1 + v2 does not decode"
cat "$F/binary.bin" "$tmp/new.txt" | cmp - "$tmp/both.out" || fail "v1 + v2: other bytes"
echo "ok: v1 fixtures decode"
