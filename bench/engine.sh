#!/usr/bin/env bash
# Engine throughput: scalar vs fast CPU vs PyTorch CPU fp32, on lac-tiny and a random
# gpt2-124M model, with 1 and 2 threads; prefill (1 stream) and steps (B=1 and B=16).
# Usage: bench/engine.sh [BUILD_DIR]   (env: PREFILL=256 STEPS=16 THREADS="1 2" QUICK=1)
# Writes bench/results/<machine>/engine.tsv and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PREFILL=${PREFILL:-256}
STEPS=${STEPS:-16}
THREADS=${THREADS:-"1 2"}
BE="$BUILD/bin/bench_engine"; [ -x "$BE" ] || BE="$BUILD/bench/bench_engine"
WT="$BUILD/bin/weights_tools"; [ -x "$WT" ] || WT="$BUILD/weights_tools/weights_tools"
[ -x "$BE" ] || { echo "engine.sh: build bench_engine first ($BE)" >&2; exit 1; }
machine=$(hostname -s 2>/dev/null || echo unknown)
out="bench/results/$machine"
mkdir -p "$out/raw"
tsv="$out/engine.tsv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# PyTorch from Debian (python3-torch) with OpenBLAS as the system BLAS: Debian's torch calls
# libblas.so.3, which is the slow reference BLAS unless an optimised one is installed.
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch' 2>/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/openblas-openmp ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y python3-torch libopenblas0-openmp >/dev/null 2>&1 || true
  fi
fi
have_torch=0
"$PY" -c 'import torch' 2>/dev/null && have_torch=1

models=("tiny:models/lac-tiny.lacm")
if [ -x "$WT" ] && "$WT" random --config gpt2 --seed 1 -o "$tmp/gpt2-random.lacm" >/dev/null 2>&1; then
  models+=("gpt2:$tmp/gpt2-random.lacm")
else
  echo "engine.sh: could not make a random gpt2 model with $WT; lac-tiny only" >&2
fi

printf 'model\tdevice\tthreads\tmode\tB\ttokens\tseconds\ttok/s\n' > "$tsv"
for mt in "${models[@]}"; do
  cfg=${mt%%:*}; model=${mt#*:}
  for th in $THREADS; do
    for B in 1 16; do
      "$BE" "$model" --device cpu --threads "$th" --prefill "$PREFILL" --steps "$STEPS" \
        --streams "$B" --reps 3 | sed "s/^[^\t]*/$cfg/" | { [ "$B" = 1 ] && cat || grep -P '\tstep\t'; } >> "$tsv"
      # the scalar reference is slow: fewer tokens, one repetition
      "$BE" "$model" --device cpu-scalar --threads "$th" --prefill 16 --steps 2 \
        --streams "$B" --reps 1 | sed "s/^[^\t]*/$cfg/" | { [ "$B" = 1 ] && cat || grep -P '\tstep\t'; } >> "$tsv"
      if [ "$have_torch" = 1 ]; then
        "$PY" bench/torch_cpu.py --config "$cfg" --threads "$th" --prefill "$PREFILL" \
          --steps "$STEPS" --streams "$B" --reps 3 | { [ "$B" = 1 ] && cat || grep -P '\tstep\t'; } >> "$tsv"
      fi
    done
  done
done
column -t -s $'\t' "$tsv"
echo
# ratios: fast/scalar and fast/torch for each (model, threads, mode, B)
awk -F'\t' 'NR > 1 {
  kind = ($2 ~ /^cpu-scalar/) ? "scalar" : ($2 ~ /^torch/) ? "torch" : "fast";
  key = $1 "\t" $3 "\t" $4 "\t" $5; v[key, kind] = $8; keys[key] = 1 }
  END { printf "model\tthreads\tmode\tB\tfast/scalar\tfast/torch\n";
    for (k in keys) printf "%s\t%s\t%s\n", k,
      (v[k, "scalar"] ? sprintf("%.1fx", v[k, "fast"] / v[k, "scalar"]) : "-"),
      (v[k, "torch"] ? sprintf("%.2fx", v[k, "fast"] / v[k, "torch"]) : "-") }' "$tsv" \
  | sort | column -t -s $'\t' | tee "$out/engine_ratios.txt"
