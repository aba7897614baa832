#!/usr/bin/env bash
# CPU roofline, in ONE run (ratios are only meaningful within a run on a shared machine):
# the FMA peak per ISA and the triad bandwidth (bench/roofline.c), the engine's prefill and
# lock-step decoding at B = 1, 8, 32, 64 as fractions of them (lac-tiny and a random gpt2-124M,
# 1 and 2 threads), PyTorch CPU fp32 on the same shapes, speculative decoding of one block
# (bench_spec: prose, code, logs), and lacgpu before/after (BASE=path of an older lacgpu):
# .lacz bytes compared, one-block and 40 KB decompression, -c vs -d throughput.
# Usage: bench/roofline.sh [BUILD_DIR]   (env: QUICK=1: a smoke run of seconds; BASE=lacgpu;
#        MACHINE=name of bench/results/<name>/, default the hostname)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN="$BUILD/bin"
machine=${MACHINE:-$(hostname -s 2>/dev/null || echo unknown)}
out="bench/results/$machine"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# OpenMP waits as lacgpu's own (cli/lacgpu.c: short spins) unless the caller chose a policy
[ -n "${OMP_WAIT_POLICY:-}" ] || export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-10000}
PY=${PYTHON:-/usr/bin/python3}
log="$out/roofline.txt"
[ "${QUICK:-0}" = 1 ] && log="$tmp/roofline.txt"
exec > >(tee "$log") 2>&1
echo "# roofline.sh $(date -u +%FT%TZ) on $machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) CPUs)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${QUICK:-0}" = 1 ]; then
  "$BIN/roofline" --quick --threads 1 --streams "1 4" --model tiny=models/lac-tiny.lacm
  exit 0
fi
"$BIN/weights_tools" random --config gpt2 --seed 1 -o "$tmp/gpt2.lacm" >/dev/null
echo "## peak, bandwidth, engine (bench/roofline.c)"
"$BIN/roofline" --threads "1 2" --streams "${STREAMS:-1 8 32 64}" --model tiny=models/lac-tiny.lacm \
  | tee "$out/roofline.tsv"
"$BIN/roofline" --threads "1 2" --streams "${GPT2_STREAMS:-1 8 32}" --model gpt2="$tmp/gpt2.lacm" \
  | grep -v '^kind' | grep -v '^peak\|^bandwidth' | tee -a "$out/roofline.tsv"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
# Debian's torch calls libblas.so.3, the slow reference BLAS unless an optimised one is there
# (bench/engine.sh): a peer measured on it would flatter the engine by 20-40x
if ! "$PY" -c 'import torch' 2>/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/openblas-openmp ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y python3-torch libopenblas0-openmp >/dev/null 2>&1 || true
  fi
fi
if "$PY" -c 'import torch' 2>/dev/null; then
  echo "## PyTorch CPU fp32 (bench/torch_cpu.py): model device threads mode B tokens s tok/s"
  echo "# BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)"
  for cfg in tiny gpt2; do
    for th in 1 2; do
      "$PY" bench/torch_cpu.py --config $cfg --threads $th --prefill 256 --steps 8 --streams 1 --reps 2
      "$PY" bench/torch_cpu.py --config $cfg --threads $th --prefill 64 --steps 8 --streams 8 --reps 1 | grep -P '\tstep\t'
    done
  done | tee "$out/torch_cpu.tsv"
fi
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
# inputs: prose, code, logs
head -c 40000 ../shared/corpus/canterbury/alice29.txt > "$tmp/alice40k.txt"
head -c 3000 "$tmp/alice40k.txt" > "$tmp/prose3k.txt"
head -c 3000 engine/forward_fast.c > "$tmp/code3k.c"
awk 'BEGIN { srand(7); split("INFO INFO INFO WARN ERROR", lv, " ");
  for (i = 0; i < 400; i++) printf "2026-11-26 12:%02d:%02d %s worker-%d GET /api/v1/items/%d status=%d took=%dms\n",
    int(i / 60) % 60, i % 60, lv[1 + int(rand() * 5)], int(rand() * 4), int(rand() * 5000),
    (rand() < 0.9 ? 200 : 404), int(rand() * 80) }' > "$tmp/app.log"
head -c 3000 "$tmp/app.log" > "$tmp/logs3k.log"
echo "## speculative decoding of one block (bench_spec, 2 threads)"
"$BIN/bench_spec" models/lac-tiny.lacm --threads 2 --tokens 1024 --k "3 7" \
  ../shared/corpus/canterbury/alice29.txt engine/forward_fast.c "$tmp/app.log" | tee "$out/spec.tsv"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
# t N CMD...: the best of N wall times of CMD, in seconds (the VM's host lends and takes
# cycles: single runs of one binary varied by 15-25% minutes apart)
t() {
  local n=$1 best=999999 s e i
  shift
  for ((i = 0; i < n; i++)); do
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    best=$(awk -v a="$s" -v b="$e" -v m="$best" 'BEGIN { d = b - a; print (d < m ? d : m) }')
  done
  echo "$best"
}
if [ -n "${BASE:-}" ]; then
  echo "## lacgpu before ($BASE) / after ($BIN/lacgpu), 2 threads: seconds"
  printf 'file\tbytes\tbefore -c\tafter -c\tsame .lacz\tbefore -d\tafter -d\td speed-up\n' | tee "$out/cli.tsv"
  for f in "$tmp/prose3k.txt" "$tmp/code3k.c" "$tmp/logs3k.log" "$tmp/alice40k.txt"; do
    cb=$(t 3 "$BASE" -c -f --threads 2 -o "$tmp/b.lacz" "$f")
    ca=$(t 3 "$BIN/lacgpu" -c -f --threads 2 -o "$tmp/a.lacz" "$f")
    same=$(cmp -s "$tmp/b.lacz" "$tmp/a.lacz" && echo yes || echo NO)
    db=$(t 3 "$BASE" -d -f --threads 2 -o "$tmp/b.out" "$tmp/b.lacz")
    da=$(t 3 "$BIN/lacgpu" -d -f --threads 2 -o "$tmp/a.out" "$tmp/a.lacz")
    cmp -s "$tmp/a.out" "$f" || same="$same, ROUND TRIP FAILED"
    printf '%s\t%s\t%.2f\t%.2f\t%s\t%.2f\t%.2f\t%.2fx\n' "$(basename "$f")" "$(stat -c %s "$f")" \
      "$cb" "$ca" "$same" "$db" "$da" "$(echo "$db / $da" | bc -l)" | tee -a "$out/cli.tsv"
  done
fi
# issue 13: -d against -c on a file of 64+ blocks (book03.txt: 69 blocks of 1024 tokens)
book=${LAC_SHARED:-../shared}/corpus/gutenberg/book03.txt
if [ -f "$book" ]; then
  echo "## -c / -d of $(basename "$book") ($(stat -c %s "$book") bytes), 2 threads, best of 2"
  c=$(t 2 "$BIN/lacgpu" -c -f --threads 2 -o "$tmp/g.lacz" "$book")
  d=$(t 2 "$BIN/lacgpu" -d -f --threads 2 -o "$tmp/g.out" "$tmp/g.lacz")
  ok=$(cmp -s "$tmp/g.out" "$book" && echo "round trip ok" || echo "ROUND TRIP FAILED")
  printf 'file\tbytes\tlacz\tblocks\t-c s\t-d s\t-d / -c throughput\tcheck\n' | tee "$out/cli_64blocks.tsv"
  printf '%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.3f\t%s\n' "$(basename "$book")" "$(stat -c %s "$book")" \
    "$(stat -c %s "$tmp/g.lacz")" "$("$BIN/lacgpu" -l "$tmp/g.lacz" | awk 'NR == 2 { print $5 }')" \
    "$c" "$d" "$(echo "$c / $d" | bc -l)" "$ok" | tee -a "$out/cli_64blocks.tsv"
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
