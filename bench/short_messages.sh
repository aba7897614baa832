#!/usr/bin/env bash
# Short messages: paragraphs of 100-600 bytes from the Gutenberg books (text lac-tiny never
# saw), coded as a .lacz (default), as a raw message (--raw), and by brotli -q 11 and
# zstd -19; the model's ideal is weights_tools eval's code length. All from one run.
#
# Usage: bench/short_messages.sh [--out DIR] [--count N]    (default 12 paragraphs)
# Writes short_messages.csv and short_messages.md into DIR (default bench/results/<machine>).
set -uo pipefail
. "$(dirname "$0")/common.sh"
out="" count=12
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift ;;
    --count) count=$2; shift ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) bench_die "unknown option $1" ;;
    esac
    shift
done
bench_check_tools
machine=$(bench_machine)
out=${out:-$BENCH_ROOT/bench/results/$machine}
mkdir -p "$out"
W=$(mktemp -d /tmp/lacbench-short.XXXXXX)
trap 'rm -rf "$W"' EXIT
G=$SHARED/corpus/gutenberg
# paragraphs (blank-line separated) of 100..600 bytes, taken in turn from the books, skipping
# the first 200 lines of each (front matter)
python3 - "$G" "$count" "$W" <<'PY'
import os, sys
g, count, w = sys.argv[1], int(sys.argv[2]), sys.argv[3]
books = sorted(f for f in os.listdir(g) if f.endswith(".txt"))
picked, b = [], 0
while len(picked) < count and b < 10 * len(books):
    text = open(os.path.join(g, books[b % len(books)]), "rb").read()
    paras = [p for p in text.split(b"\n\n")[200:] if 100 <= len(p) <= 600]
    want = [100, 200, 300, 400, 500, 600][len(picked) % 6]
    paras.sort(key=lambda p: abs(len(p) - want))
    if paras:
        picked.append(paras[(b // len(books)) % len(paras)] + b"\n")
    b += 1
for i, p in enumerate(picked):
    open(os.path.join(w, "m%02d.txt" % i), "wb").write(p)
PY
csv=$out/short_messages.csv
echo "file,bytes,ideal_bytes,lacz_bytes,raw_bytes,brotli_bytes,zstd_bytes" >"$csv"
for f in "$W"/m*.txt; do
    n=$(wc -c <"$f")
    bits=$("$WEIGHTS_TOOLS" eval "$MODEL" "$f" | sed -n 's/^bits: //p')
    ideal=$(awk -v b="$bits" 'BEGIN { printf "%.1f", b / 8 }')
    "$LACGPU" -q -f -m "$MODEL" -o "$f.lacz" "$f" || bench_die "lacgpu failed on $f"
    "$LACGPU" -q -f -m "$MODEL" --raw -o "$f.raw" "$f" || bench_die "lacgpu --raw failed"
    "$LACGPU" -q -f -m "$MODEL" -d -o "$f.back" "$f.lacz" && cmp -s "$f" "$f.back" || bench_die "round trip $f"
    "$LACGPU" -q -f -m "$MODEL" -d --raw -o "$f.rback" "$f.raw" && cmp -s "$f" "$f.rback" || bench_die "raw round trip $f"
    echo "$(basename "$f"),$n,$ideal,$(wc -c <"$f.lacz"),$(wc -c <"$f.raw"),$(brotli -q 11 -c <"$f" | wc -c),$(zstd -19 -q -c <"$f" | wc -c)" >>"$csv"
    bench_log "$(tail -1 "$csv")"
done
{
    echo "Short messages (Gutenberg paragraphs), model $(basename "$MODEL"), $(date -u +%Y-%m-%d) UTC,"
    echo "machine $machine, commit $(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null). Sizes in bytes;"
    echo "*ideal* = the model's code length (weights_tools eval / 8); *over* = above the ideal."
    echo
    echo "| bytes | ideal | .lacz | over | --raw | over | brotli -q 11 | zstd -19 |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
    tail -n +2 "$csv" | sort -t, -k2 -n | awk -F, '{ printf "| %d | %.1f | %d | %+.1f | %d | %+.1f | %d | %d |\n",
        $2, $3, $4, $4 - $3, $5, $5 - $3, $6, $7 }'
} >"$out/short_messages.md"
cat "$out/short_messages.md"
