#!/usr/bin/env bash
# bench/codecs.sh: the classic fallback codecs of .lacz v2 (coder/codecs.h, via bench_codecs)
# against the command-line tools on every Canterbury file: our lzma2 / zstd / brotli / bzip2
# payload sizes and the smallest, `xz -9e`, `zstd -19`, `bzip2 -9`, `brotli -q 11` and their
# smallest, then compress / decompress times per method (one run each). Every payload of ours
# is decoded and compared by bench_codecs. Writes bench/results/<machine>/codecs.md (or -o FILE).
#   bench/codecs.sh [-o FILE] [FILE...]
set -euo pipefail
source "$(dirname "$0")/common.sh"
out=""
if [ "${1:-}" = "-o" ]; then out=$2; shift 2; fi
[ -n "$out" ] || { out="$BENCH_ROOT/bench/results/$(bench_machine)/codecs.md"; mkdir -p "$(dirname "$out")"; }
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$SHARED"/corpus/canterbury/*)
for t in xz zstd bzip2 brotli; do command -v $t >/dev/null || bench_die "$t not found (scripts/install-deps.sh --bench)"; done
[ -x "$BUILD/bin/bench_codecs" ] || bench_die "no $BUILD/bin/bench_codecs (build first)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/bin/bench_codecs" "${files[@]}" >"$tmp/ours.tsv"
for f in "${files[@]}"; do
  echo "$(basename "$f") $(xz -9e -k -c "$f" | wc -c) $(zstd -19 -q -c "$f" | wc -c)" \
       "$(bzip2 -9 -c "$f" | wc -c) $(brotli -q 11 -c "$f" | wc -c)"
done >"$tmp/cli.txt"
python3 - "$tmp/ours.tsv" "$tmp/cli.txt" >"$out" <<'PY'
import sys
ours = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    d = {}
    for kv in f[2:-1]:
        k, v = kv.split("="); s, c, t = v.split(":"); d[k] = (int(s), float(c), float(t))
    ours[f[0].split("/")[-1]] = (int(f[1]), d, float(f[-1].split(":")[2]))
M = ["lzma2", "zstd", "brotli", "bzip2"]
print("| file | bytes | " + " | ".join(M) + " | ours best | xz -9e | zstd -19 | bzip2 -9 | brotli -q 11 | tools best | ours / tools |")
print("|---|" + "---|" * 12)
to = tc = 0
for line in open(sys.argv[2]):
    b, *cli = line.split(); cli = list(map(int, cli))
    n, d, _ = ours[b]
    ob = min([n] + [d[m][0] for m in M]); cb = min(cli); to += ob; tc += cb
    print(f"| {b} | {n} | " + " | ".join(str(d[m][0]) for m in M) +
          f" | {ob} | " + " | ".join(map(str, cli)) + f" | {cb} | {ob / cb:.4f} ({ob - cb:+d}) |")
print(f"| **total** | | | | | | {to} | | | | | {tc} | {to / tc:.4f} ({to - tc:+d}) |")
print()
print("compress / decompress ms (one run), and lacz_codec_best (all five, fixed order):")
print()
print("| file | " + " | ".join(M) + " | best |")
print("|---|" + "---|" * 5)
for b, (n, d, tb) in ours.items():
    print(f"| {b} | " + " | ".join(f"{d[m][1]:.1f} / {d[m][2]:.1f}" for m in M) + f" | {tb:.1f} |")
PY
cat "$out"
