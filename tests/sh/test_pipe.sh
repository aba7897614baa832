#!/usr/bin/env bash
# Pipes: `cat file | lacgpu -c - > out` gives the same bytes as compressing the file by name,
# for text with binary inside and for empty input, also when the pipe delivers the input in
# small, delayed pieces (short reads); `cat out | lacgpu -d -` gives the file back, also for
# concatenated streams. Uses the default model.
set -euo pipefail
LACGPU=${LACGPU:-build/bin/lacgpu}
[ -x "$LACGPU" ] || { echo "skip: no lacgpu at $LACGPU"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
L() { "$LACGPU" -q --threads 1 --block-tokens 64 "$@"; }

for i in 1 2; do
  printf 'Call me Ishmael. Some years ago, never mind how long precisely, having little or no\n'
  printf 'money in my purse, and nothing particular to interest me on shore, I thought I would\n'
  printf 'sail about a little and see the watery part of the world. (%d)\n' "$i"
done > "$tmp/text"
head -c 3000 /dev/urandom > "$tmp/binary"
{ head -c 700 "$tmp/text"; head -c 500 "$tmp/binary"; tail -c +701 "$tmp/text"; } > "$tmp/mixed"
: > "$tmp/empty"

for f in mixed empty; do
  L -c -o "$tmp/$f.byname.lacz" "$tmp/$f"
  cat "$tmp/$f" | L -c - > "$tmp/$f.pipe.lacz"
  cmp "$tmp/$f.byname.lacz" "$tmp/$f.pipe.lacz" || fail "$f: pipe output differs from file output"
done
cat "$tmp/mixed.pipe.lacz" | L -d - > "$tmp/mixed.back"
cmp "$tmp/mixed" "$tmp/mixed.back" || fail "pipe round trip differs"
# a slow writer: pieces of 100 bytes with pauses, so lacgpu sees short reads
size=$(stat -c %s "$tmp/mixed")
{ for ((o = 0; o < size; o += 100)); do
    tail -c +$((o + 1)) "$tmp/mixed" | head -c 100; sleep 0.01
  done; } | L -c - > "$tmp/mixed.slow.lacz"
cmp "$tmp/mixed.byname.lacz" "$tmp/mixed.slow.lacz" || fail "short reads change the output"
L -c < "$tmp/mixed" > "$tmp/mixed.stdin.lacz" # no FILE at all
cmp "$tmp/mixed.byname.lacz" "$tmp/mixed.stdin.lacz" || fail "stdin output differs"
# concatenated streams through one pipe decode to the concatenation
cat "$tmp/mixed.pipe.lacz" "$tmp/empty.pipe.lacz" "$tmp/mixed.pipe.lacz" | L -d - > "$tmp/cat.back"
cat "$tmp/mixed" "$tmp/mixed" | cmp - "$tmp/cat.back" || fail "concatenated streams through a pipe"
echo "ok: pipe output equals file output (text with binary inside, empty; whole and short reads)"
