#!/usr/bin/env bash
# CI check of the benches: bench/ordinality.sh --short and bench/corpus.sh --short (tiny
# inputs, one run, results in a temp dir) must finish, produce their files, round-trip every
# input, and give coherent numbers (lacgpu never beats the model's ideal code length; the
# Canterbury totals row is the sum of the files). It checks the scripts, not speed.
# Environment (set by ctest): LACGPU, WEIGHTS_TOOLS, LAC_DEFAULT_MODEL, LAC_SHARED, LAC_SOURCE_DIR.
set -u
# the sanitizer run (LAC_TEST_QUICK=1) leaves this to the normal build: it checks scripts, not code
[ "${LAC_TEST_QUICK:-0}" = 1 ] && { echo "LAC_TEST_QUICK: bench scripts are checked by the normal build: skipped"; exit 77; }
SRC=${LAC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export LACGPU=${LACGPU:?LACGPU is not set} WEIGHTS_TOOLS=${WEIGHTS_TOOLS:?WEIGHTS_TOOLS is not set}
export LAC_SHARED=${LAC_SHARED:-$SRC/../shared}
[ -f "${LAC_DEFAULT_MODEL:-}" ] || { echo "no model at '${LAC_DEFAULT_MODEL:-}': skipped"; exit 77; }
[ -d "$LAC_SHARED/corpus/gutenberg" ] || { echo "no $LAC_SHARED/corpus: skipped"; exit 77; }
for c in xz zstd bzip2 brotli gnuplot; do
    command -v "$c" >/dev/null || { echo "$c missing (scripts/install-deps.sh --bench): skipped"; exit 77; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/lacgpu-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
nonempty() { [ -s "$1" ] || fail "$1 missing or empty"; }

# ---- ordinality ramp ------------------------------------------------------------------------
bash "$SRC/bench/ordinality.sh" --short --out "$T/ord" || fail "ordinality.sh --short exited $?"
for f in ordinality.csv ordinality.md throughput.png bpb.png; do nonempty "$T/ord/$f"; done
for f in throughput.png bpb.png; do
    [ "$(head -c 8 "$T/ord/$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$f is not a PNG"
done
csv=$T/ord/ordinality.csv
# 4 sizes x (lacgpu cpu + 4 classic) rows at least, every one round-tripped
[ "$(awk -F, 'NR > 1' "$csv" | wc -l)" -ge 20 ] || fail "ordinality.csv: too few rows: $(cat "$csv")"
for n in 1 10 100 1000; do
    for c in lacgpu xz-9 zstd-19 bzip2-9 brotli-11; do
        awk -F, -v n="$n" -v c="$c" '$1 == n && $3 == c && $15 == "ok" && $6 > 0 { ok = 1 } END { exit !ok }' "$csv" ||
            fail "ordinality.csv: no round-tripped $c row for $n bytes"
    done
done
# bpb = 8 x compressed / bytes; lacgpu is at or above the ideal and under 8 bpb at 1000 bytes
awk -F, 'NR > 1 && $6 != "" { if (($7 - 8 * $6 / $1)^2 > 1e-6) { print "bad bpb: " $0; bad = 1 } }
    NR > 1 && $3 == "lacgpu" { if ($8 == "" || $7 + 0 < $8 + 0) { print "lacgpu below ideal or no ideal: " $0; bad = 1 }
      if ($1 == 1000 && $7 + 0 >= 8) { print "lacgpu does not compress 1000 bytes of text: " $0; bad = 1 } }
    END { exit bad }' "$csv" || fail "ordinality.csv numbers"
grep -q '^| 1000 |' "$T/ord/ordinality.md" || fail "ordinality.md lacks the 1000-byte row"

# ---- Canterbury -----------------------------------------------------------------------------
bash "$SRC/bench/corpus.sh" --short --out "$T/cant" || fail "corpus.sh --short exited $?"
for f in corpus.csv corpus.md; do nonempty "$T/cant/$f"; done
csv=$T/cant/corpus.csv
for b in grammar.lsp xargs.1; do
    n=$(wc -c <"$LAC_SHARED/corpus/canterbury/$b")
    awk -F, -v b="$b" -v n="$n" '$1 == b && $2 == n && $5 > 0 && $9 > 0 && $12 > 0 && $15 > 0 && $18 > 0 { ok = 1 } END { exit !ok }' "$csv" ||
        fail "corpus.csv: incomplete row for $b: $(grep "^$b," "$csv")"
done
grep -q 'ROUND TRIP' "$csv" && fail "corpus.csv: a round trip failed"
# the totals row: total compressed bytes x 8 / total input bytes, for every column
awk -F, 'NR > 1 && $1 != "TOTAL" { N += $2; for (c = 5; c <= 18; c += (c == 5 ? 4 : 3)) Z[c] += $c }
    $1 == "TOTAL" { for (c in Z) { t[c] = $c; b[c] = $(c + 1) }; seen = 1 }
    END { if (!seen) { print "no TOTAL row"; exit 1 }
      for (c in Z) if (t[c] != Z[c] || (b[c] - 8 * Z[c] / N)^2 > 1e-6) { print "TOTAL column " c ": " t[c] " / " b[c]; exit 1 } }' "$csv" ||
    fail "corpus.csv totals"
grep -q '^| \*\*total\*\* |' "$T/cant/corpus.md" || fail "corpus.md lacks the totals row"
[ "$failures" = 0 ]
