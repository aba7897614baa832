#!/usr/bin/env bash
# Issue 14, item 4 (and the argv[0] modes of item 6): the conventions of xz/zstd/gzip. -o - is
# stdout; terminals are refused as compressed input and as a silent stdin; EPIPE on stdout
# ends quietly; -r; levels refused with a reason; environment defaults only checked when used;
# --salvage keeps a truncated file's intact prefix; -l -v detail and totals; unlacgpu, lacgpucat.
. "$(dirname "$0")/lib/common.sh"
need_model
short_text >a.txt

# ---- -o - ---------------------------------------------------------------------------------------
expect 0 L -o - a.txt && check "-o - wrote a file named -" test ! -e ./-
cp out.txt a.lacz
expect 0 L -d -o - a.lacz && check "-d -o -" cmp -s out.txt a.txt

# ---- terminals (util-linux script gives the command a terminal) ---------------------------------
if command -v script >/dev/null 2>&1; then
    checks=$((checks + 1))
    timeout 20 script -qec "'$LACGPU' -m '$MODEL' -o t.lacz" /dev/null </dev/null >tty.txt 2>&1
    grep -q "stdin is a terminal, aborting" tty.txt || fail "compress from a terminal: $(cat tty.txt)"
    checks=$((checks + 1))
    timeout 20 script -qec "'$LACGPU' -m '$MODEL' -d -o t.out" /dev/null </dev/null >tty.txt 2>&1
    grep -q "refusing to read compressed data from a terminal" tty.txt || fail "-d from a terminal: $(cat tty.txt)"
    check "no output from a terminal" test ! -e t.lacz -a ! -e t.out
else
    skip "no script(1) (util-linux): the terminal checks"
fi

# ---- EPIPE: lacgpu -d --stdout f | head is quiet --------------------------------------------------
head -c 300000 /dev/urandom >rand.bin # stored raw: much output, little work
L -o rand.lacz rand.bin 2>/dev/null
checks=$((checks + 1))
"$LACGPU" -m "$MODEL" -d --stdout rand.lacz 2>pipe_err.txt | head -c 10 >/dev/null
rc=${PIPESTATUS[0]}
[ ! -s pipe_err.txt ] || fail "EPIPE printed: $(cat pipe_err.txt)"
[ "$rc" = 141 ] || fail "EPIPE: status $rc, want 141 (SIGPIPE, as xz)"

# ---- -r -------------------------------------------------------------------------------------------
mkdir -p tree/sub
cp a.txt tree/one.txt
cp a.txt tree/sub/two.txt
ln -s one.txt tree/link.txt
expect 0 L -r tree
check "-r: tree/one.txt.lacz" test -f tree/one.txt.lacz
check "-r: tree/sub/two.txt.lacz" test -f tree/sub/two.txt.lacz
check "-r followed a symlink" test ! -e tree/link.txt.lacz
rm tree/one.txt tree/sub/two.txt
expect 0 L -d -r tree && check "-d -r" cmp -s tree/sub/two.txt a.txt
expect 1 L tree && err_has "is a directory"

# ---- levels: refused with the reason --------------------------------------------------------------
for lv in -1 -9 --fast --best; do
    expect 2 L "$lv" a.txt && err_has "compression levels do not apply"
done

# ---- environment defaults that the command line overrides are not checked ---------------------
LACGPU_THREADS=bad expect 0 "$LACGPU" -m "$MODEL" --threads 1 -t a.lacz
LACGPU_DEVICE=tpu expect 0 "$LACGPU" -m "$MODEL" --device cpu -t a.lacz
LACGPU_THREADS=bad expect 2 "$LACGPU" -m "$MODEL" -t a.lacz && err_has "LACGPU_THREADS"

# ---- --salvage on a truncated file: the intact prefix, and where it stops -------------------------
text >s.txt
L -q --block-tokens 16 -o s.lacz s.txt
size=$(wc -c <s.lacz)
head -c $((size * 2 / 3)) s.lacz >cut.lacz
expect 1 L -d -o cut.out cut.lacz && check "truncated, no --salvage: output left" test ! -e cut.out
expect 1 L -d --salvage -o cut.out cut.lacz && err_has "intact prefix"
grep -q "truncated" err.txt || fail "--salvage: the cut is not named: $(cat err.txt)"
check "--salvage: no prefix written" test -s cut.out
n=$(wc -c <cut.out)
checks=$((checks + 1))
head -c "$n" s.txt | cmp -s - cut.out || fail "--salvage: not a prefix of the input"
check "--salvage: prefix $n not shorter than the input" test "$n" -lt "$(wc -c <s.txt)"

# --salvage and trailing data that is no .lacz: the intact stream before it is kept
{ cat s.lacz; printf '\0\0\0\0'; } >junk.lacz
expect 1 L -d --salvage -o junk.out junk.lacz && err_has "trailing data that is not a .lacz stream"
check "--salvage: the intact stream before trailing data was not kept" cmp -s junk.out s.txt
# nothing intact (not a .lacz at all): no output
: >empty.lacz
expect 1 L -d --salvage -o empty.out empty.lacz && err_has "nothing intact to write"
check "--salvage of nothing: an output was made" test ! -e empty.out

# ---- -l: tokens; stdout that cannot be written ----------------------------------------------------
# v2 records no token count for a partial model block: -l gives a lower bound, not 0
expect 0 L -l a.lacz && check "-l: tokens of a one-block file: $(tail -1 out.txt)" grep -q ' >=1 ' out.txt
for cmd in "-l a.lacz" "-V" "-h"; do
    expect 1 bash -c "'$LACGPU' -m '$MODEL' $cmd >/dev/full" && err_has "(stdout): write failed"
done
# ---- options the model or each other rule out: usage errors (exit 2), said once ------------------
expect 2 L --block-tokens 2000 a.txt s.txt &&
    check "--block-tokens over the context: said $(grep -c . err.txt) times" test "$(grep -c . err.txt)" = 1
expect 2 L --raw --chunk 1/2 -o piece a.txt && err_has "--chunk K/N and --raw exclude each other"
expect 2 L -o '' a.txt && err_has "-o: an empty file name"
rm -f a2.lacz
expect 0 L -o - -o a2.lacz a.txt && check "-o - -o FILE: the last -o wins" test -s a2.lacz

# ---- -l -v: details, and a totals line for several files ------------------------------------------
expect 0 "$LACGPU" -l -v a.lacz s.lacz
grep -q "tokens per block" out.txt || fail "-l -v: no detail line: $(cat out.txt)"
grep -q "(total)" out.txt || fail "-l: no totals line: $(cat out.txt)"
expect 0 "$LACGPU" -l a.lacz
grep -q "(total)" out.txt && fail "-l of one file has a totals line"

# ---- unlacgpu and lacgpucat (argv[0], as unxz and xzcat) -------------------------------------------
ln -s "$LACGPU" unlacgpu
ln -s "$LACGPU" lacgpucat
expect 0 ./lacgpucat -m "$MODEL" a.lacz && check "lacgpucat" cmp -s out.txt a.txt
cp a.lacz u.txt.lacz
expect 0 ./unlacgpu -m "$MODEL" u.txt.lacz && check "unlacgpu" cmp -s u.txt a.txt
finish
