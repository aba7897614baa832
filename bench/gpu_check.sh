#!/usr/bin/env bash
# One-shot check of the CUDA backend for a session with a GPU (H100/H200; must finish in about
# 6 minutes). Everything is written under $OUT (default ./gpu_out); $OUT/summary.txt is the
# short version. Steps, each with its own time limit, none stopping the others:
#   1. configure + build with CUDA for arch 90 only (Release, -Werror)
#   2. test_cuda (GPU logits/frequencies/.lacz == CPU, bit for bit)
#   3. bench_cuda_matmul: contract matmul vs cuBLAS SGEMM (TF32 off), M = 16384
#   4. compression / decompression speed: lac-tiny and a random gpt2 (124M), 16 streams
#   5. PyTorch GPT2LMHeadModel fp32 (TF32 off), B = 16, T = 1024, random weights
# Usage: bench/gpu_check.sh            (from anywhere; OUT=/some/dir to choose the output)
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
OUT=${OUT:-$SRC/gpu_out}
mkdir -p "$OUT"
SUM=$OUT/summary.txt
BUILD=$SRC/build-gpu
JOBS=$(nproc)
: > "$SUM"
say() { echo "$*" | tee -a "$SUM"; }
export NVIDIA_TF32_OVERRIDE=0
T_START=$(date +%s)
elapsed() { echo $(( $(date +%s) - T_START ))s; }

say "== gpu_check $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
say "nvcc: $(nvcc --version 2>/dev/null | tail -1)"

# ---- 1. build ---------------------------------------------------------------------------------
if ! timeout 300 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLAC_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 -DLAC_WERROR=ON > "$OUT/configure.log" 2>&1; then
  say "configure: FAILED (see configure.log)"; tail -30 "$OUT/configure.log" >> "$SUM"; exit 1
fi
if ! timeout 300 cmake --build "$BUILD" -j"$JOBS" --target lac test_cuda bench_cuda_matmul \
      bench_cuda_codec weights_tools > "$OUT/build.log" 2>&1; then
  say "build: FAILED (see build.log)"; grep -E "error|Error" "$OUT/build.log" | head -30 >> "$SUM"
  exit 1
fi
say "build: ok ($(elapsed))"
BIN=$BUILD/bin

# ---- 2. test_cuda -----------------------------------------------------------------------------
(cd "$BUILD" && timeout 180 ctest -R '^test_cuda$' --output-on-failure -V) > "$OUT/test_cuda.log" 2>&1
rc=$?
say "test_cuda: $([ $rc = 0 ] && echo PASS || echo "FAIL rc=$rc") ($(elapsed))"
grep -E "Synthesis|\[FAIL\]|SKIP|first differ|differ|rows differ" "$OUT/test_cuda.log" | head -20 >> "$SUM"

# ---- 3. matmul vs cuBLAS ----------------------------------------------------------------------
timeout 120 "$BIN/bench_cuda_matmul" 16384 5 > "$OUT/matmul.txt" 2>&1
rc=$?
say "bench_cuda_matmul: rc=$rc ($(elapsed))"
cat "$OUT/matmul.txt" >> "$SUM"

# ---- 4. compression speed ---------------------------------------------------------------------
TEXT=$OUT/.input.txt
SHARED=${LAC_SHARED:-$SRC/../shared}
if [ -d "$SHARED/corpus/gutenberg" ]; then
  find "$SHARED/corpus/gutenberg" -type f | sort | head -3 | xargs cat | head -c 400000 > "$TEXT"
else  # no shared data on this machine: the project's own docs and sources are text too
  cat "$SRC"/docs/*.md "$SRC"/*/*.c "$SRC"/*/*.h 2>/dev/null | head -c 400000 > "$TEXT"
fi
say "input: $(wc -c < "$TEXT") bytes"
TINY=$SRC/models/lac-tiny.lacm
GPT2=$BUILD/gpt2-random.lacm
timeout 120 "$BIN/weights_tools" random --config gpt2 --seed 1 --dtype f16 -f -o "$GPT2" > "$OUT/random_gpt2.log" 2>&1 \
  || say "weights_tools random gpt2: FAILED ($(tail -1 "$OUT/random_gpt2.log"))"
for model in "$TINY" "$GPT2"; do
  [ -f "$model" ] || { say "codec: $model missing"; continue; }
  for streams in 16 1; do
    bytes=400000
    [ $streams = 1 ] && bytes=40000
    timeout 150 "$BIN/bench_cuda_codec" "$model" "$TEXT" --device cuda --streams $streams \
      --max-bytes $bytes >> "$OUT/codec.txt" 2>&1 || say "codec $(basename "$model") B=$streams: FAILED rc=$?"
  done
done
# the CPU on the same machine, lac-tiny, for the ratio
timeout 100 "$BIN/bench_cuda_codec" "$TINY" "$TEXT" --device cpu --streams 1 --max-bytes 20000 \
  >> "$OUT/codec.txt" 2>&1 || say "codec cpu: FAILED"
cat "$OUT/codec.txt" >> "$SUM"
say "codec: done ($(elapsed))"

# ---- 5. PyTorch -------------------------------------------------------------------------------
for cfg in gpt2 tiny; do
  timeout 120 python3 bench/torch_gpu.py --config $cfg --batch 16 --tokens 1024 >> "$OUT/torch.txt" 2>&1 \
    || say "torch $cfg: FAILED (see torch.txt)"
done
grep "^torch" "$OUT/torch.txt" >> "$SUM"
rm -f "$TEXT"
say "== done in $(elapsed)"
