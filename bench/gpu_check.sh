#!/usr/bin/env bash
# One-shot check of the CUDA backend for a session with a GPU (H100/H200; must finish in about
# 6 minutes). Prepare first, on the CPU machine: bench/gpu_bundle.sh (binaries + libraries +
# corpus in gpu-carry/), then run this with carry=["gpu-carry"]. Everything is written under
# $OUT (default ./gpu_out); $OUT/summary.txt is the short version. Steps, each with its own
# time limit, none stopping the others:
#   1. binaries: the carried bundle when it starts here, else configure + build for sm_90
#   2. test_cuda: GPU logits / frequencies / decode symbols / .lacz == CPU, bit for bit
#   3. bench_cuda_matmul: contract matmul (every kernel variant) vs cuBLAS SGEMM, TF32 off
#   4. bench_cuda_attention (when built): prefill and decoding-step attention alone
#   5. codec speed: lac-tiny and a random gpt2 (124M): compression with 16 blocks per call,
#      decompression of >= 256 blocks in lock-step (also without CUDA graphs for lac-tiny)
#   6. PyTorch GPT2LMHeadModel fp32 (TF32 off), B = 16, T = 1024, random weights (gpt2, tiny)
#   7. Canterbury across devices: every file compressed on the GPU, decoded on the GPU; the
#      text files' .lacz made on the CPU must be byte-identical; small files decoded on the CPU
#   8. compute-sanitizer racecheck + memcheck on the random-model GPU tests, if time is left
#   then bench/gpu_report.py: the issue's goals as one markdown table ($OUT/goals.md)
# Every step's time limit is cut to what is left of a 345-second plan (GPU_CHECK_SECONDS), so
# the script ends within 6 minutes; summary.txt is written as it goes.
# Usage: bench/gpu_check.sh            (from anywhere; OUT=/some/dir to choose the output)
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
OUT=${OUT:-$SRC/gpu_out}
mkdir -p "$OUT"
SUM=$OUT/summary.txt
JOBS=$(nproc)
: > "$SUM"
say() { echo "$*" | tee -a "$SUM"; }
export NVIDIA_TF32_OVERRIDE=0 OMP_WAIT_POLICY=PASSIVE
T_START=$(date +%s)
elapsed() { echo $(( $(date +%s) - T_START ))s; }
PLAN=${GPU_CHECK_SECONDS:-345} # the whole script, build included: the issue allows 6 minutes
left() { echo $(( PLAN - ($(date +%s) - T_START) )); }
# lim SECONDS CMD...: runs CMD with a timeout of SECONDS, cut to what is left of the plan;
# returns 124 without running it when less than 8 seconds are left.
lim() {
  local t=$1 l; l=$(left); shift
  [ "$l" -ge 8 ] || return 124
  [ "$t" -le "$l" ] || t=$l
  timeout "$t" "$@"
}

say "== gpu_check $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || cat gpu-carry/commit.txt 2>/dev/null || echo '?')"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
say "nvcc: $(nvcc --version 2>/dev/null | tail -1); glibc: $(ldd --version 2>/dev/null | head -1)"

# ---- data ---------------------------------------------------------------------------------------
if [ -d "$SRC/gpu-carry/data/corpus" ]; then SHARED=$SRC/gpu-carry/data
else SHARED=${LAC_SHARED:-$SRC/../shared}; fi
export LAC_SHARED=$SHARED LAC_SOURCE_DIR=$SRC LAC_DEFAULT_MODEL=$SRC/models/lac-tiny.lacm
# lacgpu and weights_tools look for lac-tiny.lacm in the models/ of the tree they were built in
# (compiled in); the carried bundle was built on another machine, so name the model here.
export LACGPU_MODEL=$SRC/models/lac-tiny.lacm

# ---- 1. binaries --------------------------------------------------------------------------------
BIN=
find_cublas() { # the directory holding libcublas.so.13 (the toolkit's or PyTorch's wheel)
  local f
  for f in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/lib \
           /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -e "$f/libcublas.so.13" ] && { echo "$f"; return; }
  done
  python3 -c 'import nvidia.cublas as c, os; print(os.path.join(list(c.__path__)[0], "lib"))' 2>/dev/null
}
CUBLAS_DIR=$(find_cublas)
if [ -f "$SRC/gpu-carry/bundle.tar.xz" ]; then
  B=/tmp/lacgpu-bundle
  rm -rf "$B" && mkdir -p "$B" && tar -C "$B" -xJf "$SRC/gpu-carry/bundle.tar.xz"
  # the device's own libstdc++ first (the bundled one needs glibc >= 2.36), then the bundled one
  for libs in "$B/lib" "$B/lib:$B/lib/cxx"; do
    if LD_LIBRARY_PATH=$libs:$CUBLAS_DIR "$B/bin/lacgpu" -V > "$OUT/bundle.log" 2>&1 &&
       LD_LIBRARY_PATH=$libs:$CUBLAS_DIR "$B/bin/test_cuda" --list >> "$OUT/bundle.log" 2>&1; then
      BIN=$B/bin
      export LD_LIBRARY_PATH=$libs:$CUBLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
      say "binaries: carried bundle (built for commit $(cut -c1-9 "$SRC/gpu-carry/commit.txt"); libraries $libs)"
      break
    fi
  done
  [ -n "$BIN" ] || say "binaries: the carried bundle does not start here: $(tail -2 "$OUT/bundle.log" | tr '\n' ' ')"
fi
if [ -z "$BIN" ]; then
  BUILD=$SRC/build-gpu
  if ! timeout 200 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLAC_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES=90 -DLAC_WERROR=ON > "$OUT/configure.log" 2>&1; then
    say "configure: FAILED (see configure.log)"; tail -30 "$OUT/configure.log" >> "$SUM"; exit 1
  fi
  targets="lacgpu weights_tools test_cuda bench_cuda_matmul bench_cuda_codec"
  help=$(cmake --build "$BUILD" --target help)
  for t in bench_cuda_attention cuda_matmul_check; do
    grep -qw "$t" <<< "$help" && targets="$targets $t"
  done
  if ! timeout 300 cmake --build "$BUILD" -j"$JOBS" --target $targets > "$OUT/build.log" 2>&1; then
    say "build: FAILED (see build.log)"; grep -E "error|Error" "$OUT/build.log" | head -30 >> "$SUM"
    exit 1
  fi
  BIN=$BUILD/bin
  say "build: ok ($(elapsed))"
fi
export LACGPU=$BIN/lacgpu WEIGHTS_TOOLS=$BIN/weights_tools

# ---- 2. test_cuda -------------------------------------------------------------------------------
lim 100 "$BIN/test_cuda" --verbose > "$OUT/test_cuda.log" 2>&1
rc=$?
say "test_cuda: $([ $rc = 0 ] && echo PASS || echo "FAIL rc=$rc") ($(elapsed))"
grep -E "Synthesis|FAIL|SKIP|differ" "$OUT/test_cuda.log" | head -20 >> "$SUM"
if [ -x "$BIN/cuda_matmul_check" ]; then
  lim 40 "$BIN/cuda_matmul_check" > "$OUT/cuda_matmul_check.log" 2>&1
  rc=$?
  say "cuda_matmul_check: $(case $rc in 0) echo PASS ;; 77) echo "SKIPPED (no GPU)" ;; *) echo "FAIL rc=$rc" ;; esac) ($(elapsed))"
  tail -5 "$OUT/cuda_matmul_check.log" >> "$SUM"
fi

# ---- 3. matmul vs cuBLAS ------------------------------------------------------------------------
lim 60 "$BIN/bench_cuda_matmul" 16384,1024,256,16 5 > "$OUT/matmul.txt" 2>&1
say "bench_cuda_matmul: rc=$? ($(elapsed))"
cat "$OUT/matmul.txt" >> "$SUM"

# ---- 4. attention alone -------------------------------------------------------------------------
if [ -x "$BIN/bench_cuda_attention" ]; then
  lim 30 "$BIN/bench_cuda_attention" 10 256 > "$OUT/attention.txt" 2>&1
  say "bench_cuda_attention: rc=$? ($(elapsed))"
  cat "$OUT/attention.txt" >> "$SUM"
fi

# ---- 5. codec speed -----------------------------------------------------------------------------
TEXT=$OUT/.input.txt
if [ -d "$SHARED/corpus/gutenberg" ]; then
  find "$SHARED/corpus/gutenberg" -name 'book*.txt' | sort | head -5 | xargs cat | head -c 1600000 > "$TEXT"
else  # no corpus here: the project's own docs and sources are text too
  cat "$SRC"/docs/*.md "$SRC"/*/*.c "$SRC"/*/*.h 2>/dev/null | head -c 1600000 > "$TEXT"
fi
say "input: $(wc -c < "$TEXT") bytes"
TINY=$SRC/models/lac-tiny.lacm
GPT2=/tmp/gpt2-random.lacm
lim 30 "$BIN/weights_tools" random --config gpt2 --seed 1 --dtype f16 --vocab-from "$TINY" -f -o "$GPT2" > "$OUT/random_gpt2.log" 2>&1 \
  || say "weights_tools random gpt2: FAILED ($(tail -1 "$OUT/random_gpt2.log"))"
codec() { # label, timeout, args...
  local label=$1 t=$2; shift 2
  lim "$t" "$BIN/bench_cuda_codec" "$@" >> "$OUT/codec.txt" 2>&1 || say "codec $label: FAILED rc=$?"
}
codec "tiny" 40 "$TINY" "$TEXT" --device cuda --streams 16 --dstreams 256
codec "gpt2" 70 "$GPT2" "$TEXT" --device cuda --streams 16 --dstreams 256
LAC_CUDA_GRAPHS=0 codec "tiny, no graphs" 30 "$TINY" "$TEXT" --device cuda --streams 16 --dstreams 256
codec "tiny B=1" 25 "$TINY" "$TEXT" --device cuda --streams 1 --dstreams 1 --max-bytes 20000
codec "cpu" 30 "$TINY" "$TEXT" --device cpu --streams 16 --dstreams 16 --max-bytes 40000
cat "$OUT/codec.txt" >> "$SUM"
say "codec: done ($(elapsed))"

# ---- 6. PyTorch ---------------------------------------------------------------------------------
for cfg in gpt2 tiny; do
  lim 60 env -u LD_LIBRARY_PATH python3 bench/torch_gpu.py --config $cfg --batch 16 --tokens 1024 >> "$OUT/torch.txt" 2>&1 \
    || say "torch $cfg: FAILED (see torch.txt)"
done
grep "^torch" "$OUT/torch.txt" >> "$SUM"
# ---- 7. Canterbury across devices ---------------------------------------------------------------
if [ -d "$SHARED/corpus/canterbury" ]; then
  W=/tmp/cant; rm -rf "$W"; mkdir -p "$W"
  ok=0; bad=0
  for f in "$SHARED"/corpus/canterbury/*; do
    n=$(basename "$f"); [ "$n" = README.txt ] && continue
    if lim 30 "$BIN/lacgpu" -q -f --device cuda -c "$f" -o "$W/$n.gpu.lacz" 2>> "$OUT/canterbury.log" &&
       lim 30 "$BIN/lacgpu" -q -f --device cuda -d "$W/$n.gpu.lacz" -o "$W/$n.gpu" 2>> "$OUT/canterbury.log" &&
       cmp -s "$f" "$W/$n.gpu"; then
      r="gpu round trip ok"
    else r="gpu round trip FAILED"; bad=$((bad + 1)); fi
    if [ "$(stat -c %s "$f")" -le 40000 ]; then  # small: the CPU decodes the GPU's file
      if lim 30 "$BIN/lacgpu" -q -f --device cpu -d "$W/$n.gpu.lacz" -o "$W/$n.cpu" 2>> "$OUT/canterbury.log" &&
         cmp -s "$f" "$W/$n.cpu"; then r="$r, cpu decodes it"; else r="$r, CPU DECODE FAILED"; bad=$((bad + 1)); fi
    fi
    if [ "$(left)" -gt 60 ] && [ "$(stat -c %s "$f")" -le 200000 ]; then  # the CPU's own .lacz
      if lim 30 "$BIN/lacgpu" -q -f --device cpu -c "$f" -o "$W/$n.cpu.lacz" 2>> "$OUT/canterbury.log" &&
         cmp -s "$W/$n.gpu.lacz" "$W/$n.cpu.lacz"; then r="$r, cpu .lacz identical"
      else r="$r, CPU .LACZ DIFFERS"; bad=$((bad + 1)); fi
    fi
    case "$r" in *FAIL*|*DIFFERS*) ;; *) ok=$((ok + 1)) ;; esac
    echo "$n: $(stat -c %s "$f") -> $(stat -c %s "$W/$n.gpu.lacz" 2>/dev/null) bytes; $r" >> "$OUT/canterbury.txt"
  done
  say "canterbury across devices: $ok files ok, $bad failures ($(elapsed))"
  cat "$OUT/canterbury.txt" >> "$SUM"
  rm -rf "$W"
else
  say "canterbury: no corpus here (carry gpu-carry/, see bench/gpu_bundle.sh)"
fi

# ---- 8. races and memory errors the emulator cannot see (when time is left) -----------------
if command -v compute-sanitizer > /dev/null && [ "$(left)" -gt 40 ]; then
  for tool in racecheck memcheck; do
    lim 40 compute-sanitizer --tool $tool --target-processes all --error-exitcode 3 "$BIN/test_cuda" \
      --filter 'cuda/random_models_match_cpu' > "$OUT/sanitizer-$tool.log" 2>&1
    say "compute-sanitizer $tool: rc=$? ($(elapsed))"
    grep -E "ERROR SUMMARY|Race reported|Invalid" "$OUT/sanitizer-$tool.log" | head -5 >> "$SUM"
  done
fi
rm -f "$TEXT" "$GPT2"
say "== done in $(elapsed)"
# the issue's goals as one table (ratios from this run only): goals.md, also in the summary
env -u LD_LIBRARY_PATH python3 bench/gpu_report.py "$OUT" > "$OUT/goals.md" 2>&1 && cat "$OUT/goals.md" >> "$SUM"
