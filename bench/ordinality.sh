#!/usr/bin/env bash
# The ordinality ramp: inputs of 10^0 .. 10^7 bytes cut from the Gutenberg books (concatenated
# in MANIFEST order) through lacgpu (CPU, and CUDA when it works) and xz -9, zstd -19,
# bzip2 -9, brotli -q 11: compressed size, bits per byte, compress/decompress time (median of
# several runs), throughput in bytes/s and tokens/s, round trip checked with cmp, and the
# model's ideal bits per byte (weights_tools eval).
#
# Usage: bench/ordinality.sh [--short] [--out DIR] [--max-exp K] [--runs N] [--max-s S]
#   --short     sizes 10^0..10^3, one run, output into a temporary dir (checks the script)
#   --out DIR   output folder (default bench/results/<machine>)
#   --max-exp K largest size 10^K (default 7)
#   --runs N    runs per point (default 3; 1 when one run takes more than 60 s)
#   --max-s S   skip a lacgpu point (and the larger ones) when its estimated time for one
#               compress + decompress is over S seconds (default 240)
# Writes ordinality.csv, ordinality.md, throughput.png, bpb.png.
set -uo pipefail
. "$(dirname "$0")/common.sh"

short=0 out="" max_exp="" max_s=240
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1 ;;
    --out) out=$2; shift ;;
    --max-exp) max_exp=$2; shift ;;
    --runs) export BENCH_RUNS=$2; shift ;;
    --max-s) max_s=$2; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) bench_die "unknown option $1" ;;
    esac
    shift
done
if [ "$short" = 1 ]; then
    max_exp=${max_exp:-3}
    export BENCH_RUNS=1
fi
max_exp=${max_exp:-7}
bench_check_tools
GUT=$SHARED/corpus/gutenberg
[ -f "$GUT/MANIFEST.tsv" ] || bench_die "no $GUT/MANIFEST.tsv (set LAC_SHARED)"

devices=$(bench_devices)
machine=$(bench_machine)
W=$(mktemp -d "${TMPDIR:-/tmp}/lacbench-ord.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
if [ -z "$out" ]; then
    if [ "$short" = 1 ]; then out=$W/results; else out=$BENCH_ROOT/bench/results/$machine; fi
fi
mkdir -p "$out" || bench_die "cannot create $out"
bench_log "machine $machine, devices: $devices, sizes 10^0..10^$max_exp, output $out"

# The books concatenated in MANIFEST order, cut to the largest size.
maxn=$((10 ** max_exp))
tail -n +2 "$GUT/MANIFEST.tsv" | cut -f1 | while read -r b; do cat "$GUT/$b"; done |
    head -c "$maxn" >"$W/gutenberg"
have=$(wc -c <"$W/gutenberg")
[ "$have" -ge "$maxn" ] || bench_die "the Gutenberg books hold $have bytes, fewer than $maxn"

csv=$out/ordinality.csv
echo "bytes,tokens,codec,device,runs,compressed_bytes,bpb,ideal_bpb,compress_s,decompress_s,compress_Bps,decompress_Bps,compress_tokps,decompress_tokps,roundtrip,note" >"$csv"
failures=0
# row BYTES TOKENS CODEC DEVICE RUNS SIZE IDEAL TC TD ROUNDTRIP NOTE
row() {
    local n=$1 tok=$2 codec=$3 dev=$4 runs=$5 size=$6 ideal=$7 tc=$8 td=$9 ok=${10} note=${11}
    local bpb="" cbps="" dbps="" ctps="" dtps=""
    if [ -n "$size" ]; then
        bpb=$(bench_div "$((size * 8))" "$n")
        cbps=$(bench_div "$n" "$tc" %.1f); dbps=$(bench_div "$n" "$td" %.1f)
        if [ "$codec" = lacgpu ]; then
            ctps=$(bench_div "$tok" "$tc" %.1f); dtps=$(bench_div "$tok" "$td" %.1f)
        fi
    fi
    echo "$n,$tok,$codec,$dev,$runs,$size,$bpb,$ideal,$tc,$td,$cbps,$dbps,$ctps,$dtps,$ok,$note" >>"$csv"
    [ "$ok" = FAIL ] && { echo "FAIL: $codec $dev round trip of $n bytes differs" >&2; failures=$((failures + 1)); }
}

declare -A last_s=() last_tok=() skip=()
eval_last_s="" eval_last_tok="" eval_skip=0
for ((k = 0; k <= max_exp; k++)); do
    n=$((10 ** k))
    f=$W/in.$n
    head -c "$n" "$W/gutenberg" >"$f"
    tok=$(bench_tokens "$f")
    # the model's ideal code length: one eval per size (deterministic), skipped with lacgpu
    ideal=""
    est=$([ -n "$eval_last_s" ] && awk -v s="$eval_last_s" -v a="$eval_last_tok" -v b="$tok" 'BEGIN { print s * b / a }')
    if [ "$eval_skip" = 0 ] && [ -n "$est" ] && awk -v e="$est" -v m="$max_s" 'BEGIN { exit !(e > m) }'; then
        eval_skip=1
    fi
    if [ "$eval_skip" = 0 ]; then
        t0=$EPOCHREALTIME
        ideal=$(bench_ideal_bpb "$f")
        eval_last_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
        eval_last_tok=$tok
        [ -n "$ideal" ] || { echo "FAIL: weights_tools eval of $n bytes" >&2; failures=$((failures + 1)); }
    fi
    for dev in $devices; do
        if [ -z "${skip[$dev]:-}" ] && [ -n "${last_s[$dev]:-}" ]; then
            est=$(awk -v s="${last_s[$dev]}" -v a="${last_tok[$dev]}" -v b="$tok" 'BEGIN { print s * b / a }')
            awk -v e="$est" -v m="$max_s" 'BEGIN { exit !(e > m) }' && skip[$dev]=1
        fi
        if [ -n "${skip[$dev]:-}" ]; then
            bench_log "10^$k bytes: lacgpu $dev skipped (estimated > $max_s s)"
            row "$n" "$tok" lacgpu "$dev" 0 "" "$ideal" "" "" "" "skipped: > $max_s s on ${dev^^}"
            continue
        fi
        if r=$(bench_measure lacgpu "$dev" "$f" "$W"); then
            read -r size tc td runs ok <<<"$r"
            last_s[$dev]=$(awk -v a="$tc" -v b="$td" 'BEGIN { print a + b }')
            last_tok[$dev]=$tok
            bench_log "10^$k bytes ($tok tokens): lacgpu $dev -> $size bytes, ${tc}s / ${td}s, $runs runs, $ok"
            row "$n" "$tok" lacgpu "$dev" "$runs" "$size" "$ideal" "$tc" "$td" "$ok" ""
        else
            row "$n" "$tok" lacgpu "$dev" 0 "" "$ideal" "" "" FAIL "error"
        fi
    done
    for c in "${CLASSIC_NAMES[@]}"; do
        if r=$(bench_measure classic "$c" "$f" "$W"); then
            read -r size tc td runs ok <<<"$r"
            row "$n" "$tok" "$c" cpu "$runs" "$size" "" "$tc" "$td" "$ok" ""
        else
            row "$n" "$tok" "$c" cpu 0 "" "" "" "" FAIL "error"
        fi
    done
    bench_log "10^$k bytes: classic compressors done"
    rm -f "$f"
done

# ---- markdown ---------------------------------------------------------------------------------
md=$out/ordinality.md
commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo "# Ordinality ramp — $machine"
    echo
    echo "Inputs: the first 10^k bytes of the Gutenberg books (shared/corpus/gutenberg, MANIFEST order)."
    echo "Model $(basename "$MODEL"), lacgpu commit $commit, $(date -u +%Y-%m-%d\ %H:%M) UTC."
    echo "Times are wall-clock medians of the runs shown (3, or 1 when a run takes over 60 s);"
    echo "every round trip was checked with cmp. bpb = compressed bits per input byte; *ideal* is the"
    echo "model's own code length (weights_tools eval, 1024-token blocks), which lacgpu cannot beat."
    echo
    echo "## Bits per byte"
    echo
    awk -F, 'NR > 1 {
        n = $1; if (!(n in seen)) { seen[n] = 1; order[++cnt] = n; tok[n] = $2 }
        if ($3 == "lacgpu") { if ($8 != "") ideal[n] = $8
            if ($7 != "") lac[n] = $7; else if (!(n in lac) && $16 != "") lacnote[n] = $16 }
        else { v[n, $3] = $7; codecs[$3] = 1 }
      } END {
        print "| bytes | tokens | ideal | lacgpu | xz -9 | zstd -19 | bzip2 -9 | brotli -q 11 |"
        print "|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= cnt; i++) { n = order[i]
          l = (n in lac) ? sprintf("**%.3f**", lac[n]) : ((n in lacnote) ? lacnote[n] : "-")
          printf "| %d | %d | %s | %s | %s | %s | %s | %s |\n", n, tok[n],
            (n in ideal) ? sprintf("%.3f", ideal[n]) : "-", l,
            f(v[n, "xz-9"]), f(v[n, "zstd-19"]), f(v[n, "bzip2-9"]), f(v[n, "brotli-11"]) }
      }
      function f(x) { return x == "" ? "-" : sprintf("%.3f", x) }' "$csv"
    echo
    echo "## lacgpu speed"
    echo
    echo "| bytes | device | runs | compress s | decompress s | compress B/s | decompress B/s | compress tok/s | decompress tok/s |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    awk -F, 'NR > 1 && $3 == "lacgpu" {
        if ($6 == "") { printf "| %d | %s | - | %s | | | | | |\n", $1, $4, ($16 == "" ? "-" : $16); next }
        printf "| %d | %s | %d | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", $1, $4, $5, $9, $10, $11, $12, $13, $14 }' "$csv"
    echo
    echo "## Classic compressors: compress / decompress seconds"
    echo
    echo "| bytes | xz -9 | zstd -19 | bzip2 -9 | brotli -q 11 |"
    echo "|---:|---:|---:|---:|---:|"
    awk -F, 'NR > 1 && $3 != "lacgpu" {
        n = $1; if (!(n in seen)) { seen[n] = 1; order[++cnt] = n }
        v[n, $3] = ($6 == "") ? "-" : sprintf("%.3f / %.3f", $9, $10) }
      END { for (i = 1; i <= cnt; i++) { n = order[i]
        printf "| %d | %s | %s | %s | %s |\n", n, v[n, "xz-9"], v[n, "zstd-19"], v[n, "bzip2-9"], v[n, "brotli-11"] } }' "$csv"
} >"$md"

# ---- plots ------------------------------------------------------------------------------------
if command -v gnuplot >/dev/null; then
    # (a curve with no points, e.g. CUDA on a CPU-only machine, is only a warning: dropped)
    gnuplot -e "csv='$csv'; outdir='$out'; machine='$machine'" "$BENCH_ROOT/bench/plot.gp" \
        2> >(grep -v 'no valid points' >&2) ||
        { echo "FAIL: gnuplot" >&2; failures=$((failures + 1)); }
else
    echo "ordinality.sh: gnuplot is missing: no plots" >&2
fi
bench_log "wrote $csv, $md and the plots in $out"
[ "$failures" = 0 ]
