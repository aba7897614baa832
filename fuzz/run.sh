#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...]: builds the libFuzzer targets with clang and
# -fsanitize=fuzzer,address,undefined (in build-fuzz/, configure with -DLAC_FUZZ=ON) and runs
# each target for SECONDS on a scratch copy of its seed corpus fuzz/corpus/<target>/ (the
# committed seeds are never modified). Prints the executions per target; exits 1 if any target
# found a crash, leak, hang or failed check (the reproducer is kept under
# build-fuzz/fuzz-artifacts/<target>/). Needs clang and libclang-rt-14-dev
# (scripts/install-deps.sh --fuzz). CI runs `fuzz/run.sh 50`.
set -uo pipefail
secs=${1:-60}
shift || true
src=$(cd "$(dirname "$0")/.." && pwd)
build=${LAC_FUZZ_BUILD:-$src/build-fuzz}
all=(fuzz_model fuzz_safetensors fuzz_tokenizer fuzz_lacz fuzz_compress fuzz_rangecoder fuzz_quantize
     fuzz_codecs)
[ $# -gt 0 ] && targets=("$@") || targets=("${all[@]}")
jobs=${LAC_FUZZ_JOBS:-2}

declare -A max_len=([fuzz_model]=32768 [fuzz_safetensors]=8192 [fuzz_tokenizer]=8192
                    [fuzz_lacz]=8192 [fuzz_compress]=2050 [fuzz_rangecoder]=4096 [fuzz_quantize]=65536
                    [fuzz_codecs]=8192)

command -v clang >/dev/null || { echo "fuzz/run.sh: clang not found (scripts/install-deps.sh --fuzz)" >&2; exit 2; }
CC=clang cmake -S "$src" -B "$build" -DLAC_CUDA=OFF -DLAC_FUZZ=ON -DLAC_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
  { tail -30 "$build/fuzz-build.log" >&2; echo "fuzz/run.sh: build failed" >&2; exit 2; }

export LAC_DEFAULT_MODEL=${LAC_DEFAULT_MODEL:-$src/models/lac-tiny.lacm}
status=0
printf '%-18s %12s %10s %s\n' target executions exec/s result
# run_one TARGET: fuzzes one target for $secs seconds; prints its line; returns non-zero on a finding
run_one() {
  local t=$1 work art log rc execs rate result
  work=$(mktemp -d)
  art="$build/fuzz-artifacts/$t"
  mkdir -p "$work/corpus" "$art"
  cp "$src/fuzz/corpus/$t/"* "$work/corpus/" 2>/dev/null || true
  log="$build/fuzz-$t.log"
  "$build/bin/$t" -max_total_time="$secs" -max_len="${max_len[$t]:-8192}" -timeout=20 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$art/" "$work/corpus" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FAILED (rc $rc, see $log; reproducer in $art/)"
  fi
  printf '%-18s %12s %10s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
  rm -rf "$work"
  return $rc
}
# LAC_FUZZ_PARALLEL targets at a time (default: one per core), each on its own core
par=${LAC_FUZZ_PARALLEL:-$(nproc)}
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$par" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
