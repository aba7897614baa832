#!/usr/bin/env bash
# Shell tests of the lacgpu binary: options, naming rules, safety rules, exit codes and round
# trips (the smaller Canterbury files; the large ones are in full_canterbury.sh).
# Environment (set by ctest): LACGPU, LAC_DEFAULT_MODEL, LAC_SHARED, WEIGHTS_TOOLS.
set -u
LACGPU=${LACGPU:?LACGPU is not set}
SHARED=${LAC_SHARED:-$(dirname "$0")/../../../shared}
MODEL=${LAC_DEFAULT_MODEL:-}
CANT=$SHARED/corpus/canterbury
unset LACGPU_MODEL LACGPU_DEVICE
# one thread: OpenMP spinning makes lac-tiny far slower on a busy 2-core machine
export LACGPU_THREADS=1

T=$(mktemp -d "${TMPDIR:-/tmp}/lacgpu-cli.XXXXXX")
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
failures=0
checks=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# expect RC CMD...: runs CMD (stdout/stderr to out.txt/err.txt), checks its exit status.
expect() {
    local want=$1
    shift
    checks=$((checks + 1))
    "$@" >out.txt 2>err.txt
    local rc=$?
    if [ "$rc" != "$want" ]; then
        fail "exit $rc (want $want): $*"
        sed 's/^/    stderr: /' err.txt | head -5 >&2
        return 1
    fi
    return 0
}
# err_has TEXT: the last command's stderr contains TEXT, and every line is "lacgpu: ...".
err_has() {
    checks=$((checks + 1))
    grep -qF -- "$1" err.txt || { fail "stderr lacks '$1': $(head -c 300 err.txt)"; return 1; }
    if grep -qv '^lacgpu: ' err.txt; then fail "stderr line not 'lacgpu: ...': $(cat err.txt)"; fi
}
no_leftovers() { # no temporary files in the directory
    checks=$((checks + 1))
    if ls -a | grep -q 'lacgpu-'; then fail "temporary files left: $(ls -a | grep lacgpu-)"; fi
}

# ---- model-free checks ----------------------------------------------------------------------
expect 0 "$LACGPU" -h && { grep -q "Exit status" out.txt || fail "-h lacks exit codes"; }
grep -q -- "--block-tokens" out.txt || fail "-h lacks --block-tokens"
expect 0 "$LACGPU" --help
expect 0 "$LACGPU" -V && { grep -q "format version" out.txt && grep -q "CUDA" out.txt || fail "-V: $(cat out.txt)"; }
expect 2 "$LACGPU" --bogus && err_has "unknown option"
expect 2 "$LACGPU" -Z
expect 2 "$LACGPU" -c -d x
expect 2 "$LACGPU" -d -l x
expect 2 "$LACGPU" --device gpu x && err_has "--device"
expect 2 "$LACGPU" --threads many x
expect 2 "$LACGPU" --block-tokens 0 x
expect 2 "$LACGPU" -T 0 x
expect 2 "$LACGPU" -T nan x
expect 2 "$LACGPU" -o out a b
expect 2 "$LACGPU" -t -o out a
expect 2 "$LACGPU" -m
expect 2 "$LACGPU" - -
LACGPU_DEVICE=tpu expect 2 "$LACGPU" -h
expect 1 "$LACGPU" -l nosuchfile && err_has "lacgpu: nosuchfile: No such file"
mkdir adir
expect 1 "$LACGPU" -l adir && err_has "adir: is a directory"
printf 'plain text, not lacz' >plain.txt
expect 1 "$LACGPU" -l plain.txt && err_has "magic"
: >empty.lacz
expect 1 "$LACGPU" -l empty.lacz && err_has "empty"
expect 1 "$LACGPU" -m /nonexistent/model.lacm x && err_has "/nonexistent/model.lacm"
expect 1 "$LACGPU" -m no-such-model-name x && err_has "no-such-model-name"
LACGPU_MODEL=/nonexistent.lacm expect 1 "$LACGPU" x && err_has "/nonexistent.lacm"

if [ -z "$MODEL" ] || [ ! -f "$MODEL" ]; then
    echo "checks: $checks, failures: $failures; the model ($MODEL) is missing: skipping the rest"
    [ "$failures" = 0 ] || exit 1
    exit 77
fi
# one thread: OpenMP spinning makes lac-tiny far slower on a busy 2-core machine
L() { "$LACGPU" -m "$MODEL" --threads 1 "$@"; }

# ---- round trips ------------------------------------------------------------------------------
rt() { # rt FILE [notest]: compress, keep input, decompress to another name, compare; -t, -l agree
    local f=$1 b
    b=$(basename "$f")
    cp "$f" "rt_$b"
    expect 0 L -q "rt_$b" || return
    [ -f "rt_$b" ] || fail "input rt_$b was removed"
    [ -f "rt_$b.lacz" ] || { fail "no rt_$b.lacz"; return; }
    expect 0 L -d -o "back_$b" "rt_$b.lacz" || return
    cmp -s "rt_$b" "back_$b" || fail "round trip of $b differs"
    [ -n "${2:-}" ] || expect 0 L -t "rt_$b.lacz" || fail "-t of $b"
    expect 0 "$LACGPU" -l "rt_$b.lacz" || return
    local size
    size=$(wc -c <"rt_$b")
    awk -v s="$size" 'NR==2 { exit !($2 == s) }' out.txt || fail "-l of $b: $(cat out.txt)"
    rm -f "rt_$b" "rt_$b.lacz" "back_$b"
}

: >empty.bin
printf 'x' >one.bin
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 3)' >all256.bin
printf 'caf\xc3\xa9 \xff\xfe\xc3( \xed\xa0\x80 \xf8\x88\x80\x80\x80 end\xc3' >badutf8.txt
head -c 20000 /dev/zero >nul.bin
printf 'text\0\0\0\0more text\0' >somenul.bin
printf 'line one\r\nline two\r\n\r\nend\r\n' >crlf.txt
printf '<|endoftext|>Hello<|endoftext|>\n<|endoftext|' >eot.txt
for f in empty.bin one.bin all256.bin badutf8.txt nul.bin somenul.bin crlf.txt eot.txt \
    "$CANT/sum" "$CANT/ptt5" "$CANT/kennedy.xls"; do
    rt "$f"
done
# one whole Canterbury text here (lac-tiny on CPU decodes ~100 tokens/s); all of them in full_*
rt "$CANT/xargs.1" notest

# empty input: a valid file of header + end + footer
: >e
expect 0 L e && [ "$(wc -c <e.lacz)" = 212 ] || fail "empty .lacz is $(wc -c <e.lacz) bytes, want 132+28+52"
expect 0 L -d -f e.lacz && [ -f e ] && [ ! -s e ] || fail "empty round trip"
rm -f e e.lacz

# ---- naming rules, -f, -k, --rm ------------------------------------------------------------
head -c 300 "$CANT/grammar.lsp" >grammar.ref
cp grammar.ref g.lsp
expect 0 L g.lsp && [ -f g.lsp ] && [ -f g.lsp.lacz ] || fail "compress g.lsp"
expect 1 L g.lsp && err_has "g.lsp.lacz: already exists"
cp g.lsp.lacz saved.lacz
expect 1 L g.lsp.lacz && err_has "already has the .lacz suffix"
expect 1 L -d g.lsp.lacz && err_has "g.lsp: already exists"
cmp -s g.lsp grammar.ref || fail "input changed by a refused decompress"
rm g.lsp
expect 0 L -d g.lsp.lacz && cmp -s g.lsp grammar.ref || fail "-d strips .lacz"
[ -f g.lsp.lacz ] || fail "-d removed its input without --rm"
expect 0 L -f g.lsp && cmp -s g.lsp.lacz saved.lacz || fail "-f recompress (deterministic)"
expect 0 L -d -f -k g.lsp.lacz && [ -f g.lsp.lacz ] || fail "-k"
cp g.lsp.lacz other.name
expect 1 L -d other.name && err_has "unknown suffix"
expect 0 L -d -o other.out other.name && cmp -s other.out g.lsp || fail "-d -o"
expect 0 L -d --stdout other.name && cmp -s out.txt g.lsp || fail "-d --stdout"
rm g.lsp.lacz
expect 0 L --rm g.lsp && [ ! -e g.lsp ] && [ -f g.lsp.lacz ] || fail "--rm compress"
expect 0 L -d --rm g.lsp.lacz && [ -f g.lsp ] && [ ! -e g.lsp.lacz ] || fail "--rm decompress"
chmod 640 g.lsp
expect 0 L g.lsp && [ "$(stat -c %a g.lsp.lacz)" = 640 ] || fail "mode not kept: $(stat -c %a g.lsp.lacz)"
expect 1 L -o g.lsp -f g.lsp && err_has "same file"
no_leftovers

# several inputs
head -c 400 "$CANT/xargs.1" >x1
printf 'second file\n' >x2
expect 0 L x1 x2 && [ -f x1.lacz ] && [ -f x2.lacz ] || fail "two inputs"
# one bad input among good ones: exit 1, the good ones are done
rm -f x1.lacz x2.lacz
expect 1 L x1 missing x2 && [ -f x1.lacz ] && [ -f x2.lacz ] || fail "bad input in the middle"
err_has "missing"

# ---- stdin / stdout, concatenation -----------------------------------------------------------
expect 0 L <x1 && cp out.txt s.lacz
expect 0 L -d <s.lacz && cmp -s out.txt x1 || fail "stdin to stdout"
expect 0 L -d - <s.lacz && cmp -s out.txt x1 || fail "- as stdin"
expect 0 L -o s2.lacz - <x1 && cmp -s s2.lacz s.lacz || fail "stdin to -o"
expect 0 L --stdout x1 && cmp -s out.txt s.lacz || fail "--stdout"
cat x1.lacz x2.lacz x1.lacz >cat.lacz
cat x1 x2 x1 >cat.txt
expect 0 L -d --stdout cat.lacz && cmp -s out.txt cat.txt || fail "concatenated streams"
expect 0 L -t cat.lacz
expect 0 "$LACGPU" -l cat.lacz
expect 0 L --stdout x1 x2 && cat x1.lacz x2.lacz | cmp -s - out.txt || fail "two inputs to --stdout"

# ---- damaged inputs: exit 1, one line, nothing left behind -------------------------------------
head -c 80 x1 >x3
expect 0 L x3
size=$(wc -c <x3.lacz)
for cut in 0 3 4 100 131 132 150 $((size / 2)) $((size - 53)) $((size - 52)) $((size - 1)); do
    head -c "$cut" x3.lacz >t.lacz
    expect 1 L -d -f t.lacz || continue
    [ "$(wc -l <err.txt)" = 1 ] || fail "truncated at $cut: $(cat err.txt)"
    [ ! -e t ] || fail "partial output after truncation at $cut"
    expect 1 "$LACGPU" -l t.lacz
done
no_leftovers
for pos in 10 140 $((size / 2)) $((size - 10)); do
    cp x3.lacz c.lacz
    printf '\x5a' | dd of=c.lacz bs=1 seek="$pos" conv=notrunc status=none
    cmp -s c.lacz x3.lacz && printf '\xa5' | dd of=c.lacz bs=1 seek="$pos" conv=notrunc status=none
    expect 1 L -d c.lacz && err_has "c.lacz: "
    [ ! -e c ] || fail "output left after corruption at $pos"
    expect 1 L -t c.lacz
done
no_leftovers
# --salvage keeps the intact blocks (exit status still 1)
expect 0 L -f --block-tokens 16 -o b16.lacz x1
plen=$(od -An -tu4 -j 144 -N4 b16.lacz | tr -d ' ')
cp b16.lacz s16.lacz
printf '\xff' | dd of=s16.lacz bs=1 seek=$((132 + 28 + plen - 1)) conv=notrunc status=none
cmp -s b16.lacz s16.lacz || {
    expect 1 L -d -o s16.out s16.lacz && [ ! -e s16.out ] || fail "damaged block without --salvage"
    expect 1 L -d --salvage -o s16.out s16.lacz && err_has "damaged"
    [ -s s16.out ] && [ "$(wc -c <s16.out)" -lt "$(wc -c <x1)" ] || fail "--salvage output"
    tail -c "$(wc -c <s16.out)" x1 | cmp -s - s16.out || fail "--salvage: not the intact tail"
}
expect 1 L -d -o plain.out plain.txt && err_has "magic"
[ ! -e plain.out ] || fail "output left for a non-lacz input"
cat x1.lacz >junk.lacz
printf 'junk' >>junk.lacz
expect 1 L -t junk.lacz && err_has "trailing"

# ---- models ------------------------------------------------------------------------------------
expect 0 "$LACGPU" -q x1 -f -o def.lacz && cmp -s def.lacz x1.lacz || fail "default model lookup"
expect 0 "$LACGPU" -m lac-tiny -t x1.lacz || fail "-m NAME lookup"
LACGPU_MODEL="$MODEL" expect 0 "$LACGPU" -t x1.lacz || fail "LACGPU_MODEL"
expect 0 L -t --device cpu --threads 1 x1.lacz
LACGPU_DEVICE=cpu LACGPU_THREADS=1 expect 0 L -t x1.lacz
if [ -n "${WEIGHTS_TOOLS:-}" ] && "$WEIGHTS_TOOLS" random --config tiny --seed 1 \
    --vocab-from "$MODEL" -o wrong.lacm >/dev/null 2>&1; then
    expect 1 "$LACGPU" -m ./wrong.lacm -d -o w.out x1.lacz && err_has "made with model"
    [ ! -e w.out ] || fail "output left after model mismatch"
else
    echo "note: weights_tools random is not available: wrong-model check skipped"
fi

# ---- options -----------------------------------------------------------------------------------
expect 0 L -v -f x1 && { grep -q "bits/byte" err.txt && grep -q "tokens/s" err.txt || fail "-v: $(cat err.txt)"; }
expect 0 L -q -f x1 && [ ! -s err.txt ] || fail "-q is not quiet: $(cat err.txt)"
expect 0 L -f --block-tokens 64 -o b64.lacz x1 && expect 0 "$LACGPU" -l b64.lacz
awk 'NR==2 { exit !($5 > 1) }' out.txt || fail "--block-tokens 64 gave one block: $(cat out.txt)"
expect 0 L -d --stdout b64.lacz && cmp -s out.txt x1 || fail "--block-tokens round trip"
expect 0 L -f -T 1.5 -o t15.lacz x1 && expect 0 L -d --stdout t15.lacz && cmp -s out.txt x1 || fail "-T round trip"
expect 1 L --block-tokens 5000 -f x1 && err_has "context"

# ---- terminals: compressed data is never written to one (needs util-linux script) ----------------
if command -v script >/dev/null 2>&1; then
    checks=$((checks + 1))
    script -qec "'$LACGPU' -m '$MODEL' --stdout x2" /dev/null >tty.txt 2>&1
    grep -q "refusing to write compressed data to a terminal" tty.txt || fail "tty: $(cat tty.txt)"
    checks=$((checks + 1))
    script -qec "'$LACGPU' -m '$MODEL' -d --stdout x2.lacz" /dev/null >tty.txt 2>&1
    grep -q "second file" tty.txt || fail "-d to a terminal: $(cat tty.txt)"
fi

# ---- SIGINT: no partial output, input untouched ------------------------------------------------
cp "$CANT/cp.html" big.html
"$LACGPU" -m "$MODEL" big.html 2>sig_err.txt &
pid=$!
sleep 1
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
checks=$((checks + 1))
if [ "$rc" = 0 ]; then
    echo "note: compression finished before SIGINT"
else
    [ "$rc" = 1 ] || fail "SIGINT exit $rc"
    [ ! -e big.html.lacz ] || fail "partial output after SIGINT"
    grep -q "interrupted" sig_err.txt || fail "SIGINT message: $(cat sig_err.txt)"
fi
cmp -s big.html "$CANT/cp.html" || fail "input changed by SIGINT"
no_leftovers

echo "checks: $checks, failures: $failures"
[ "$failures" = 0 ]
