#!/usr/bin/env bash
# lacgpu -d --salvage on format v2: bytes flipped inside one block of a multi-block file
# (--block-tokens 24, the model only), in its payload or its record, cost exactly that block.
# The intact blocks come back byte for byte, the damaged one is reported on stderr with its
# index and plaintext byte range, and the exit status is 1. Without --salvage the same file
# fails, names the block and leaves no output. Uses the default model.
set -euo pipefail
LACGPU=${LACGPU:-build/bin/lacgpu}
[ -x "$LACGPU" ] || { echo "skip: no lacgpu at $LACGPU"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ~2.5 KB of plain English (model blocks)
for i in 1 2 3 4 5 6; do
  cat <<'TXT'
It was a bright cold day in April, and the clocks were striking thirteen. The hallway smelt
of boiled cabbage and old rag mats. At one end of it a coloured poster, too large for indoor
display, had been tacked to the wall. It depicted simply an enormous face, more than a metre
wide: the face of a man of about forty-five, with a heavy black moustache.
TXT
done > "$tmp/plain.txt"
"$LACGPU" -q -c --block-tokens 24 --methods model --threads 1 -o "$tmp/a.lacz" "$tmp/plain.txt"
python3 "$here/lacz_walk.py" "$tmp/a.lacz" > "$tmp/records"
n=$(grep -c -E ' (full|part|last|stored) ' "$tmp/records")
[ "$n" -ge 8 ] || fail "only $n blocks"
declare -a roff rkind rpay rlen
i=0
while read -r off kind len pay; do roff[i]=$off rkind[i]=$kind rlen[i]=$len rpay[i]=$pay; i=$((i + 1)); done < "$tmp/records"

flip() { # file offset: xor the byte with 0x5a
  local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 0x5a)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# decode with --salvage; the one report must give a range [a, b) such that the output is the
# plaintext without it
salvaged() { # WHAT BLOCK
  local what=$1 k=$2 rc=0
  "$LACGPU" -q -d --salvage --threads 1 -f -o "$tmp/out" "$tmp/d.lacz" 2> "$tmp/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "$what: exit status $rc, expected 1"
  [ "$(grep -c "skipped: plaintext bytes" "$tmp/err")" -eq 1 ] || { cat "$tmp/err" >&2; fail "$what: not one report"; }
  local r a b
  r=$(sed -n "s/.*damaged block $k of stream 0 (file offset ${roff[k]}) skipped: plaintext bytes \[\([0-9]*\), \([0-9]*\)).*/\1 \2/p" "$tmp/err")
  [ -n "$r" ] || { cat "$tmp/err" >&2; fail "$what: no report naming block $k at ${roff[k]}"; }
  read -r a b <<<"$r"
  [ "$b" -gt "$a" ] || fail "$what: empty range [$a, $b)"
  { head -c "$a" "$tmp/plain.txt"; tail -c +$((b + 1)) "$tmp/plain.txt"; } > "$tmp/expect"
  cmp "$tmp/out" "$tmp/expect" || fail "$what: the intact blocks did not come back exactly"
}

for k in 1 $((n / 2)) $((n - 1)); do
  cp "$tmp/a.lacz" "$tmp/d.lacz"
  flip "$tmp/d.lacz" "${rpay[k]}"
  salvaged "payload of block $k (${rkind[k]})" "$k"
  [ "$k" -eq 1 ] || continue
  rc=0
  "$LACGPU" -q -d --threads 1 -f -o "$tmp/out2" "$tmp/d.lacz" 2> "$tmp/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "block $k without --salvage: exit status $rc"
  grep -q "block $k at offset ${roff[k]}" "$tmp/err" || { cat "$tmp/err" >&2; fail "block $k not named"; }
  [ ! -e "$tmp/out2" ] || fail "block $k without --salvage: output left behind"
done
# a damaged record tag: the decoder searches for the next intact record; the footer gives the
# lost range
k=2
cp "$tmp/a.lacz" "$tmp/d.lacz"
flip "$tmp/d.lacz" "${roff[k]}"
salvaged "record of block $k" "$k"
# two damaged model blocks: the format records no model block's length, so each report says
# where the bytes are missing in the output and what the two miss together (the footer's
# length less what came back), and the second one's original offset is not claimed
k1=1 k2=$((n / 2))
cp "$tmp/a.lacz" "$tmp/d.lacz"
flip "$tmp/d.lacz" "${rpay[k1]}"
flip "$tmp/d.lacz" "${rpay[k2]}"
rc=0
"$LACGPU" -q -d --salvage --threads 1 -f -o "$tmp/out" "$tmp/d.lacz" 2> "$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "two blocks: exit status $rc, expected 1"
missing=$(( $(wc -c < "$tmp/plain.txt") - $(wc -c < "$tmp/out") ))
for k in $k1 $k2; do
  grep -q "damaged block $k of stream 0 (file offset ${roff[k]}) skipped: its plaintext .* is missing, length unknown (the format records none): the stream's 2 damaged blocks of unknown length miss $missing bytes together" "$tmp/err" ||
    { cat "$tmp/err" >&2; fail "two blocks: block $k not reported with the $missing bytes missing together"; }
done
grep -q "block $k2 .*its plaintext at byte [0-9]* of the output is missing" "$tmp/err" ||
  { cat "$tmp/err" >&2; fail "two blocks: the second is not placed in the output"; }
# a truncated file: the blocks before the cut come back (exit 1, the cut named)
head -c $((roff[n / 2] + 3)) "$tmp/a.lacz" > "$tmp/t.lacz"
rc=0
"$LACGPU" -q -d --salvage --threads 1 -f -o "$tmp/out" "$tmp/t.lacz" 2> "$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "truncated: exit status $rc"
grep -q "truncated" "$tmp/err" || { cat "$tmp/err" >&2; fail "truncated: no message"; }
[ -s "$tmp/out" ] || fail "truncated: the intact prefix was not written"
cmp -s "$tmp/out" <(head -c "$(wc -c < "$tmp/out")" "$tmp/plain.txt") || fail "truncated: not a prefix"
echo "ok: $n blocks; damage in payloads of blocks 1, $((n / 2)), $((n - 1)), the record of block 2, blocks 1 and $((n / 2)) together and a cut salvaged"
