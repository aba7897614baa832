#!/usr/bin/env bash
# Long test (label full): every Canterbury file round-trips through lacgpu with the default
# model, and the coded payload of alice29.txt / asyoulik.txt (the file minus the container's
# fixed records: 132-byte header, 28 bytes per block header and end marker, 52-byte footer) is
# within 0.3% of the model's ideal code length (shared/models/lac-tiny/README.md, 1024-token
# blocks). The whole file's excess is printed too.
set -u
LACGPU=${LACGPU:?LACGPU is not set}
SHARED=${LAC_SHARED:-$(dirname "$0")/../../../shared}
MODEL=${LAC_DEFAULT_MODEL:-}
CANT=$SHARED/corpus/canterbury
[ -f "$MODEL" ] || { echo "no model at '$MODEL': skipped"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lacgpu-full.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# ideal bits per byte with 1024-token blocks (README of lac-tiny)
declare -A IDEAL=([alice29.txt]=2.1385 [asyoulik.txt]=1.8183 [lcet10.txt]=2.0355
    [plrabn12.txt]=2.2888 [cp.html]=2.6671 [fields.c]=1.7149 [grammar.lsp]=2.1495
    [xargs.1]=2.0908)
printf '%-14s %10s %10s %7s %9s %9s %9s %9s %8s\n' file bytes lacz blocks bpb payl.bpb ideal excess seconds
for f in "$CANT"/*; do
    b=$(basename "$f")
    [ "$b" = README.txt ] && continue
    t0=$(date +%s.%N)
    "$LACGPU" -q -m "$MODEL" -o "$T/$b.lacz" "$f" || { fail "compress $b"; continue; }
    t1=$(date +%s.%N)
    "$LACGPU" -q -m "$MODEL" -d -o "$T/$b" "$T/$b.lacz" || { fail "decompress $b"; continue; }
    cmp -s "$f" "$T/$b" || fail "round trip of $b differs"
    n=$(wc -c <"$f")
    z=$(wc -c <"$T/$b.lacz")
    blocks=$("$LACGPU" -l "$T/$b.lacz" | awk 'NR==2 { print $5 }')
    ideal=${IDEAL[$b]:-0}
    read -r bpb pbpb excess < <(awk -v n="$n" -v z="$z" -v k="$blocks" -v i="$ideal" 'BEGIN {
        p = z - 132 - 52 - 28 * (k + 1)
        printf "%.4f %.4f %s\n", 8 * z / n, 8 * p / n, (i > 0 ? sprintf("%+.3f%%", 100 * (8 * p / n / i - 1)) : "-") }')
    printf '%-14s %10d %10d %7d %9s %9s %9s %9s %8.1f\n' "$b" "$n" "$z" "$blocks" "$bpb" "$pbpb" \
        "$ideal" "$excess" "$(echo "$t1 - $t0" | bc)"
    case $b in alice29.txt | asyoulik.txt)
        awk -v p="$pbpb" -v i="$ideal" 'BEGIN { exit !(p <= i * 1.003) }' ||
            fail "$b: payload $pbpb bits/byte is more than 0.3% above the ideal $ideal" ;;
    esac
    rm -f "$T/$b" "$T/$b.lacz"
done
[ "$failures" = 0 ]
