#!/usr/bin/env bash
# Chunked compression (--chunk K/N, docs/SCALE.md): what N pieces cost against one, and how the
# throughput of W workers compares with one worker.
#   size:       13 KiB texts (the start of alice29.txt and a Gutenberg excerpt) cut into
#               N = 1, 2, 4, 8 pieces; the target is <= 3% + 64 bytes over N = 1
#   throughput: W workers (GNU parallel, --threads 1 each) on W chunks of one text, against
#               one worker on the whole text; the target is >= 0.8 x W x one worker. Only
#               meaningful on an otherwise idle machine with W free cores.
#
# Usage: bench/chunks.sh [--out DIR] [--workers W] [--no-throughput | --throughput-only]
# Writes chunks.csv and chunks.md into DIR (default bench/results/<machine>); --throughput-only
# appends to chunks_throughput.md instead.
set -uo pipefail
. "$(dirname "$0")/common.sh"
out="" W=$(nproc) tput=1 sizes=1
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift ;;
    --workers) W=$2; shift ;;
    --no-throughput) tput=0 ;;
    --throughput-only) sizes=0 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) bench_die "unknown option $1" ;;
    esac
    shift
done
[ -x "$LACGPU" ] || bench_die "no lacgpu at $LACGPU"
command -v parallel >/dev/null || bench_die "GNU parallel is missing (scripts/install-deps.sh)"
machine=$(bench_machine)
out=${out:-$BENCH_ROOT/bench/results/$machine}
mkdir -p "$out"
D=$(mktemp -d /tmp/lacbench-chunks.XXXXXX)
trap 'rm -rf "$D"' EXIT
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
head -c 13312 "$SHARED/corpus/canterbury/alice29.txt" > "$D/alice29-13k.txt"
tail -n +300 "$SHARED/corpus/gutenberg/book01.txt" | head -c 13312 > "$D/book01-13k.txt"
L() { "$LACGPU" -m "$MODEL" -q --threads 1 "$@"; }
export -f L
export LACGPU MODEL

md=$out/chunks.md
if [ "$sizes" = 1 ]; then
csv=$out/chunks.csv
echo "text,bytes,n,compressed,over_bytes,over_pct,target_bytes,ok" > "$csv"
for t in alice29-13k book01-13k; do
    f=$D/$t.txt
    size=$(stat -c %s "$f")
    base=""
    for n in 1 2 4 8; do
        bench_log "$t: $n piece(s)"
        parallel --will-cite -j "$W" L -c --chunk {}/"$n" "$f" -o "$D/$t.$n.{}.lacz" ::: $(seq "$n") ||
            bench_die "$t: --chunk failed"
        cat $(for k in $(seq "$n"); do echo "$D/$t.$n.$k.lacz"; done) > "$D/$t.$n.lacz"
        L -t "$D/$t.$n.lacz" || bench_die "$t: $n pieces do not verify"
        c=$(stat -c %s "$D/$t.$n.lacz")
        base=${base:-$c}
        over=$((c - base))
        target=$((base * 3 / 100 + 64))
        pct=$(awk -v o="$over" -v b="$base" 'BEGIN { printf "%.2f", 100 * o / b }')
        echo "$t,$size,$n,$c,$over,$pct,$target,$([ "$over" -le "$target" ] && echo yes || echo no)" >> "$csv"
    done
done

{
    echo "# Chunked compression (bench/chunks.sh, $(date -u +%Y-%m-%d), lac-tiny, --threads 1)"
    echo
    echo "N pieces cut at line ends (lacgpu -c --chunk K/N), concatenated, verified with -t."
    echo "Target: N pieces cost <= 3% + 64 bytes more than one piece."
    echo
    echo "| text | bytes | N | .lacz bytes | over N=1 | % | target (bytes) | met |"
    echo "|---|---|---|---|---|---|---|---|"
    tail -n +2 "$csv" | awk -F, '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
} > "$md"
else
    md=$out/chunks_throughput.md
fi

if [ "$tput" = 1 ]; then
    f=$D/alice29-13k.txt
    bench_log "throughput: 1 worker, then $W workers"
    t1=$( { /usr/bin/time -f %e "$LACGPU" -m "$MODEL" -q --threads 1 -c -f "$f" -o "$D/one.lacz"; } 2>&1 | tail -1)
    tw=$( { /usr/bin/time -f %e parallel --will-cite -j "$W" L -c --chunk {}/"$W" "$f" -o "$D/w.{}.lacz" ::: $(seq "$W"); } 2>&1 | tail -1)
    load=$(cut -d' ' -f1 /proc/loadavg)
    {
        echo
        echo "## Throughput ($W workers on $(nproc) cores, load average $load before the run)"
        echo
        awk -v t1="$t1" -v tw="$tw" -v w="$W" -v b="$(stat -c %s "$f")" 'BEGIN {
            r1 = b / t1; rw = b / tw
            printf "| workers | seconds | bytes/s | x one worker | target |\n|---|---|---|---|---|\n"
            printf "| 1 | %.2f | %.0f | 1.00 | |\n", t1, r1
            printf "| %d | %.2f | %.0f | %.2f | >= %.2f (0.8 x W) |\n", w, tw, rw, rw / r1, 0.8 * w
        }'
        echo
        echo "Wall times include process start and model load (13 KiB: a few seconds of work each)."
    } >> "$md"
fi
cat "$md"
