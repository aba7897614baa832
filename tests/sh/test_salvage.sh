#!/usr/bin/env bash
# lacgpu -d --salvage: bytes flipped inside one block of a multi-block file (--block-tokens 24),
# in its payload or its header, cost exactly that block. The intact blocks come back byte for byte, the damaged one is
# reported on stderr with its index and plaintext byte range, and the exit status is 1.
# Without --salvage the same file fails, names the block and leaves no output. Uses the default model.
set -euo pipefail
LACGPU=${LACGPU:-build/bin/lacgpu}
[ -x "$LACGPU" ] || { echo "skip: no lacgpu at $LACGPU"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ~2.5 KB of plain English (coded blocks)
for i in 1 2 3 4 5 6; do
  cat <<'TXT'
It was a bright cold day in April, and the clocks were striking thirteen. The hallway smelt
of boiled cabbage and old rag mats. At one end of it a coloured poster, too large for indoor
display, had been tacked to the wall. It depicted simply an enormous face, more than a metre
wide: the face of a man of about forty-five, with a heavy black moustache.
TXT
done > "$tmp/plain.txt"
"$LACGPU" -q -c --block-tokens 24 --threads 1 -o "$tmp/a.lacz" "$tmp/plain.txt"

u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
# walk the block list: offsets, types, plain lengths, plaintext offsets
size=$(stat -c %s "$tmp/a.lacz")
pos=132 plain=0 n=0
declare -a boff btype blen bplain bpacked
while [ $((pos + 28)) -le "$size" ]; do
  t=$(od -An -tx1 -j "$pos" -N1 "$tmp/a.lacz" | tr -d ' ')
  [ "$t" = 45 ] && break # end marker
  boff[n]=$pos btype[n]=$t blen[n]=$(u32 "$tmp/a.lacz" $((pos + 8)))
  bpacked[n]=$(u32 "$tmp/a.lacz" $((pos + 12))) bplain[n]=$plain
  plain=$((plain + blen[n]))
  pos=$((pos + 28 + bpacked[n]))
  n=$((n + 1))
done
[ "$n" -ge 4 ] || fail "only $n blocks"
[ "$plain" -eq "$(stat -c %s "$tmp/plain.txt")" ] || fail "walk: $plain plaintext bytes"

flip() { # file offset: xor the byte with 0x5a
  local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 0x5a)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

for k in 1 $((n - 1)); do
  [ "${btype[k]}" = 43 ] || fail "block $k is not coded"
  cp "$tmp/a.lacz" "$tmp/d.lacz"
  p0=$((boff[k] + 28))
  flip "$tmp/d.lacz" "$p0"
  flip "$tmp/d.lacz" $((p0 + bpacked[k] / 2))
  rc=0
  "$LACGPU" -q -d --salvage --threads 1 -f -o "$tmp/out" "$tmp/d.lacz" 2> "$tmp/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "block $k: exit status $rc, expected 1"
  a=${bplain[k]} b=$((bplain[k] + blen[k]))
  grep -q "damaged block $k of stream 0 (file offset ${boff[k]}) skipped: plaintext bytes \[$a, $b)" "$tmp/err" \
    || { cat "$tmp/err" >&2; fail "block $k: no report of [$a, $b)"; }
  [ "$(grep -c "skipped: plaintext bytes" "$tmp/err")" -eq 1 ] || { cat "$tmp/err" >&2; fail "block $k: more than one report"; }
  { head -c "$a" "$tmp/plain.txt"; tail -c +$((b + 1)) "$tmp/plain.txt"; } > "$tmp/expect"
  cmp "$tmp/out" "$tmp/expect" || fail "block $k: the intact blocks did not come back exactly"

  [ "$k" -eq 1 ] || continue
  rc=0
  "$LACGPU" -q -d --threads 1 -f -o "$tmp/out2" "$tmp/d.lacz" 2> "$tmp/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "block $k without --salvage: exit status $rc"
  grep -q "block $k at offset ${boff[k]}" "$tmp/err" || { cat "$tmp/err" >&2; fail "block $k not named"; }
  [ ! -e "$tmp/out2" ] || fail "block $k without --salvage: output left behind"
done
# a damaged block header (its n_tokens field): the decoder finds the next header and the
# footer gives the lost range
k=2
cp "$tmp/a.lacz" "$tmp/d.lacz"
flip "$tmp/d.lacz" $((boff[k] + 5))
rc=0
"$LACGPU" -q -d --salvage --threads 1 -f -o "$tmp/out" "$tmp/d.lacz" 2> "$tmp/err" || rc=$?
[ "$rc" -eq 1 ] || fail "header of block $k: exit status $rc, expected 1"
a=${bplain[k]} b=$((bplain[k] + blen[k]))
grep -q "damaged block $k of stream 0 (file offset ${boff[k]}) skipped: plaintext bytes \[$a, $b)" "$tmp/err" \
  || { cat "$tmp/err" >&2; fail "header of block $k: no report of [$a, $b)"; }
{ head -c "$a" "$tmp/plain.txt"; tail -c +$((b + 1)) "$tmp/plain.txt"; } > "$tmp/expect"
cmp "$tmp/out" "$tmp/expect" || fail "header of block $k: the intact blocks did not come back"
echo "ok: $n blocks, damage in the payloads of blocks 1 and $((n - 1)) and the header of block 2 salvaged"
