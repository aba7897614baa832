#!/usr/bin/env bash
# The Canterbury table: every file of shared/corpus/canterbury through lacgpu (one compress +
# decompress, round trip checked with cmp), xz -9, zstd -19, bzip2 -9 and brotli -q 11, with the
# model's ideal bits per byte (weights_tools eval), and a totals row: total compressed bytes x 8
# / total input bytes (the figure people quote).
#
# Usage: bench/corpus.sh [--short] [--out DIR] [--files "A B ..."] [--max-s S] [--budget S]
#   --short     grammar.lsp and xargs.1 only, the ideal of the first one only, output into a
#               temporary dir (checks the script, not speed)
#   --out DIR   output folder (default bench/results/<machine>)
#   --max-s S   skip lacgpu (and eval, which is as slow) on a file whose estimated compress +
#               decompress time is over S seconds (default 300)
#   --budget S  skip lacgpu on the remaining files once S seconds were spent on it (default 600)
# Files are run smallest (in tokens) first, so that the estimates come from measured speed.
# lacgpu runs on CUDA when it works, else on the CPU (the bits are the same on both).
# Writes corpus.csv and corpus.md.
set -uo pipefail
. "$(dirname "$0")/common.sh"

short=0 out="" files="" max_s=300 budget=600
while [ $# -gt 0 ]; do
    case $1 in
    --short) short=1 ;;
    --out) out=$2; shift ;;
    --files) files=$2; shift ;;
    --max-s) max_s=$2; shift ;;
    --budget) budget=$2; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) bench_die "unknown option $1" ;;
    esac
    shift
done
[ "$short" = 1 ] && [ -z "$files" ] && files="grammar.lsp xargs.1"
bench_check_tools
CANT=$SHARED/corpus/canterbury
[ -d "$CANT" ] || bench_die "no $CANT (set LAC_SHARED)"
if [ -z "$files" ]; then
    files=$(cd "$CANT" && ls | grep -vx 'README.txt')
fi

devices=$(bench_devices)
dev=cpu
case " $devices " in *" cuda "*) dev=cuda ;; esac
machine=$(bench_machine)
W=$(mktemp -d "${TMPDIR:-/tmp}/lacbench-cant.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
if [ -z "$out" ]; then
    if [ "$short" = 1 ]; then out=$W/results; else out=$BENCH_ROOT/bench/results/$machine; fi
fi
mkdir -p "$out" || bench_die "cannot create $out"
bench_log "machine $machine, lacgpu on $dev, output $out"

# smallest first (tokens), so each estimate scales the last measured file
: >"$W/order"
for b in $files; do
    [ -f "$CANT/$b" ] || bench_die "no $CANT/$b"
    echo "$(bench_tokens "$CANT/$b") $b" >>"$W/order"
done
sort -n -o "$W/order" "$W/order"

csv=$out/corpus.csv
hdr="file,bytes,tokens,ideal_bpb,lacgpu_bytes,lacgpu_bpb,lacgpu_compress_s,lacgpu_decompress_s"
for c in "${CLASSIC_NAMES[@]}"; do hdr+=",${c}_bytes,${c}_bpb,${c}_compress_s"; done
echo "$hdr,note" >"$csv"
failures=0
spent=0 last_s="" last_tok="" evals=0
too_slow() { # ESTIMATE_S: 0 when it is over max_s
    awk -v e="$1" -v m="$max_s" 'BEGIN { exit !(e > m) }'
}
scale() { # LAST_S LAST_TOK TOK: LAST_S scaled to TOK tokens ("" without a measure)
    [ -n "$1" ] && awk -v s="$1" -v a="$2" -v b="$3" 'BEGIN { print s * b / a }'
}
while read -r tok b; do
    f=$CANT/$b
    n=$(wc -c <"$f")
    note=""
    # lacgpu: one compress + decompress, unless the estimate (the last file's time scaled by
    # tokens) is over max_s or the budget is spent
    lsize="" lbpb="" ltc="" ltd="" skipped=""
    est=$(scale "$last_s" "$last_tok" "$tok")
    if [ -n "$est" ] && too_slow "$est"; then
        skipped="skipped: > $max_s s on ${dev^^}"
    elif awk -v s="$spent" -v b="$budget" 'BEGIN { exit !(s > b) }'; then
        skipped="skipped: bench budget of $budget s spent"
    elif r=$(bench_lacgpu "$dev" "$f" "$W"); then
        read -r lsize ltc ltd ok <<<"$r"
        last_s=$(awk -v a="$ltc" -v b="$ltd" 'BEGIN { print a + b }')
        last_tok=$tok
        spent=$(awk -v s="$spent" -v l="$last_s" 'BEGIN { print s + l }')
        lbpb=$(bench_div "$((lsize * 8))" "$n")
        [ "$ok" = ok ] || { echo "FAIL: lacgpu round trip of $b differs" >&2; failures=$((failures + 1)); note="ROUND TRIP FAILED"; }
    else
        failures=$((failures + 1))
        note="lacgpu error"
    fi
    [ -n "$skipped" ] && note="lacgpu and ideal $skipped"
    # the model's ideal code length (as slow as lacgpu: skipped with it)
    ideal=""
    if [ -z "$skipped" ]; then
        if [ "$(tr -d '\000' <"$f" | wc -c)" -lt "$n" ]; then
            # binary data (NUL bytes): a classic codec takes it, and the model's code length
            # (slow on a megabyte of binary tokens) says nothing here
            note="${note:+$note; }binary: ideal not computed"
        elif [ "$short" = 1 ] && [ "$evals" -ge 1 ]; then
            note="${note:+$note; }ideal: first file only in --short"
        else
            ideal=$(bench_ideal_bpb "$f")
            evals=$((evals + 1))
            [ -n "$ideal" ] || { echo "FAIL: weights_tools eval $b" >&2; failures=$((failures + 1)); }
        fi
    fi
    line="$b,$n,$tok,$ideal,$lsize,$lbpb,$ltc,$ltd"
    for c in "${CLASSIC_NAMES[@]}"; do
        if r=$(bench_classic "$c" "$f" "$W"); then
            read -r size tc td ok <<<"$r"
            [ "$ok" = ok ] || { echo "FAIL: $c round trip of $b differs" >&2; failures=$((failures + 1)); }
            line+=",$size,$(bench_div "$((size * 8))" "$n"),$tc"
        else
            failures=$((failures + 1))
            line+=",,,"
        fi
    done
    echo "$line,$note" >>"$csv"
    bench_log "$b ($n bytes, $tok tokens): ideal ${ideal:--} lacgpu ${lbpb:--} bpb ${note:+($note)}"
done <"$W/order"

# the totals row of the CSV: sums, and bpb = total compressed bytes x 8 / total input bytes
# (lacgpu and ideal left empty when a file was skipped)
awk -F, 'NR > 1 { cnt++; N += $2; T += $3
    if ($4 == "") iskip = 1; else BI += $4 * $2
    if ($5 == "") lskip = 1; else { ZL += $5; TC += $7; TD += $8 }
    for (c = 0; c < 4; c++) { Z[c] += $(9 + 3 * c); S[c] += $(11 + 3 * c) } }
  END { printf "TOTAL,%d,%d,%s,%s,%s,%s,%s", N, T, iskip ? "" : sprintf("%.6f", BI / N),
      lskip ? "" : ZL, lskip ? "" : sprintf("%.4f", 8 * ZL / N), lskip ? "" : TC, lskip ? "" : TD
    for (c = 0; c < 4; c++) printf ",%d,%.4f,%.4f", Z[c], 8 * Z[c] / N, S[c]
    printf ",%s\n", lskip ? "lacgpu skipped on some files" : "" }' "$csv" >"$W/total"
cat "$W/total" >>"$csv"

# ---- markdown ---------------------------------------------------------------------------------
md=$out/corpus.md
commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo "# Canterbury corpus — $machine"
    echo
    echo "Bits per byte (compressed bits per input byte; lower is better) for every file of the"
    echo "Canterbury corpus. Model $(basename "$MODEL"), lacgpu on ${dev^^}, commit $commit,"
    echo "$(date -u +%Y-%m-%d\ %H:%M) UTC. *ideal* is the model's own code length (weights_tools eval,"
    echo "1024-token blocks). lacgpu s = one compress + one decompress (wall clock, round trip"
    echo "checked with cmp). **total** = total compressed bytes x 8 / total input bytes."
    echo
    awk -F, 'NR == 1 || $1 == "TOTAL" { next }
      { rows[++cnt] = $0 }
      END {
        print "| file | bytes | tokens | ideal | lacgpu | xz -9 | zstd -19 | bzip2 -9 | brotli -q 11 | lacgpu s | note |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for (i = 1; i <= cnt; i++) {
          split(rows[i], v, ",")
          t = (v[7] == "") ? "" : sprintf("%.1f", v[7] + v[8])
          printf "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", v[1], v[2], v[3],
            f(v[4]), (v[6] == "" ? "-" : sprintf("**%.3f**", v[6])), f(v[10]), f(v[13]), f(v[16]), f(v[19]), t, v[21]
          N += v[2]
          for (c = 0; c < 4; c++) Z[c] += v[9 + 3 * c]
          if (v[5] != "") { NL += v[2]; ZL += v[5]; for (c = 0; c < 4; c++) ZS[c] += v[9 + 3 * c] } else lskip++
          if (v[4] != "") { NI += v[2]; BI += v[4] * v[2]; II[i] = 1 } else iskip++
        }
        printf "| **total** | %d | | %s | %s | %.3f | %.3f | %.3f | %.3f | | %s |\n", N,
          (iskip ? "-" : sprintf("%.3f", BI / NI)), (lskip ? "-" : sprintf("**%.3f**", 8 * ZL / NL)),
          8 * Z[0] / N, 8 * Z[1] / N, 8 * Z[2] / N, 8 * Z[3] / N,
          (lskip ? "lacgpu skipped on " lskip " file(s): no lacgpu total" : "")
        if (lskip && NL > 0) {
          BIL = 0
          for (i = 1; i <= cnt; i++) { split(rows[i], v, ","); if (v[5] != "" && v[4] != "") BIL += v[4] * v[2]; else if (v[5] != "") noid = 1 }
          printf "| **total, files lacgpu ran** | %d | | %s | **%.3f** | %.3f | %.3f | %.3f | %.3f | | same files for every column |\n", NL,
            (noid ? "-" : sprintf("%.3f", BIL / NL)), 8 * ZL / NL, 8 * ZS[0] / NL, 8 * ZS[1] / NL, 8 * ZS[2] / NL, 8 * ZS[3] / NL
        }
      }
      function f(x) { return x == "" ? "-" : sprintf("%.3f", x) }' "$csv"
} >"$md"
bench_log "wrote $csv and $md"
[ "$failures" = 0 ]
