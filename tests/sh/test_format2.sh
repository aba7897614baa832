#!/usr/bin/env bash
# Format v2 through lacgpu with the default model: the sizes users see first (an empty file, a
# sentence, a raw message), --check sha256, --raw both ways, binary data taken by a classic
# codec, a tar of text and binary members, and -l -v's methods line.
set -euo pipefail
LACGPU=${LACGPU:-build/bin/lacgpu}
[ -x "$LACGPU" ] || { echo "skip: no lacgpu at $LACGPU"; exit 77; }
CANT=${LAC_SHARED:-../shared}/corpus/canterbury
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
M=()
[ -n "${LAC_DEFAULT_MODEL:-}" ] && M=(-m "$LAC_DEFAULT_MODEL")
L() { "$LACGPU" "${M[@]}" -q "$@"; }
size() { wc -c < "$1" | tr -d ' '; }
rt() { # FILE [compress options]: round trip, prints the .lacz size
  local f=$1; shift
  L -c -f "$@" -o "$f.lacz" "$f" && L -d -f -o "$f.out" "$f.lacz" && cmp -s "$f" "$f.out" \
    || fail "round trip of $f $*"
  size "$f.lacz"
}

: > empty
[ "$(rt empty)" -le 20 ] || fail "empty input: $(size empty.lacz) bytes (want <= 20)"
printf 'The quick brown fox jumps over the lazy dog.\n' > fox
n=$(rt fox)
[ "$n" -le 40 ] || fail "a 45-byte sentence: $n bytes"
L -c -f --raw -o fox.raw fox
r=$(size fox.raw)
[ "$r" -le $((n - 15)) ] || fail "--raw: $r bytes, .lacz $n"
L -d -f --raw -o fox.rout fox.raw && cmp -s fox fox.rout || fail "--raw round trip"
# --raw checks nothing: a .lacz read as raw gives some text and exit 0, or, when no message
# could be those bytes (no end symbol within them), a one-line refusal and no output
rc=0
L -d -f --raw -o junk.out fox.lacz 2>raw_err.txt || rc=$?
if [ "$rc" = 1 ]; then
    grep -q "fox.lacz: input: not a raw message" raw_err.txt && [ "$(wc -l <raw_err.txt)" = 1 ] ||
        fail "--raw refusal: $(cat raw_err.txt)"
    [ ! -e junk.out ] || fail "--raw refusal left an output"
elif [ "$rc" != 0 ]; then
    fail "--raw on a .lacz: exit $rc"
fi
# an empty input is no message (the empty text codes to 2 bytes): refused at once, not after
# minutes of decoding zeros
rc=0
timeout 60 "$LACGPU" "${M[@]}" --threads 1 -d --raw --stdout </dev/null >/dev/null 2>raw_err.txt || rc=$?
[ "$rc" = 1 ] && grep -q "not a raw message" raw_err.txt || fail "--raw of nothing: exit $rc, $(cat raw_err.txt)"
# --check sha256: 28 bytes more, the footer ends with the SHA-256
s=$(rt fox --check sha256)
[ "$s" -eq $((n + 28)) ] || fail "--check sha256: $s bytes, default $n"
[ "$(tail -c 32 fox.lacz | od -An -tx1 | tr -d ' \n')" = "$(sha256sum < fox | cut -c1-64)" ] \
  || fail "--check sha256: the footer is not the SHA-256"
# binary data: a classic codec, not larger than xz
head -c 100000 "$CANT/kennedy.xls" > xls
x=$(rt xls)
if command -v xz > /dev/null; then
  [ "$x" -le "$(xz -9e -c < xls | wc -c)" ] || fail "kennedy.xls piece: $x bytes, more than xz"
fi
"$LACGPU" -l -v xls.lacz > list
grep -q 'methods: lzma2 1 block' list || fail "-l -v: $(cat list)"
# framing: header 11, tag 3, plain_len 3, check 2, end 1, plain_bytes 3, stream check 4
grep -q "stream 0 block 0 at 11: lzma2, 100000 -> $((x - 27)) bytes" list \
  || fail "-l -v: no block line: $(cat list)"
# a tar of text and binary members: tar headers do not push the text out of the model
mkdir t && head -c 3000 "$CANT/alice29.txt" > t/a.txt && head -c 2000 "$CANT/ptt5" > t/p.bin \
  && head -c 2500 "$CANT/asyoulik.txt" > t/b.txt
tar -cf t.tar -C t a.txt p.bin b.txt
tsize=$(rt t.tar)
"$LACGPU" -l -v t.tar.lacz > list
grep -q 'model ' list || fail "tar: no model blocks: $(cat list)"
L -c -f --methods zstd -o t.zst.lacz t.tar
[ "$tsize" -lt "$(size t.zst.lacz)" ] || fail "tar: $tsize bytes, zstd alone $(size t.zst.lacz)"
# tar -I lacgpu (not in the sanitizer run, LAC_TEST_QUICK: the model is slow there)
if [ -z "${LAC_TEST_QUICK:-}" ]; then
  (cd t && tar -I "$LACGPU ${M[*]}" -cf ../ti.tar.lacz a.txt b.txt) && mkdir u \
    && tar -I "$LACGPU ${M[*]}" -xf ti.tar.lacz -C u && cmp -s t/a.txt u/a.txt && cmp -s t/b.txt u/b.txt \
    || fail "tar -I lacgpu"
fi
echo "ok: empty $(size empty.lacz), sentence $n (raw $r), kennedy piece $x, tar $tsize bytes"
