#!/usr/bin/env bash
# Builds lacgpu and runs every CI test: the normal build (warnings are errors; the CUDA backend
# is compiled when nvcc is found, and its tests skip without a GPU), the same tests under
# ASan + UBSan, the benches' short mode and the fuzzers for a bounded time.
#   scripts/test.sh            everything CI runs (label "ci")
#   scripts/test.sh --full     also the long whole-corpus tests (label "full")
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = "--full" ] && full=1
jobs=$(nproc)

scripts/install-deps.sh --bench
scripts/install-deps.sh --fuzz

step() { printf '\n==== %s ====\n' "$*"; }

step "build (Release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLAC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

# Tests run two at a time on a small machine: OpenMP threads that spin while waiting would
# steal the cores from each other, so they sleep instead.
export OMP_WAIT_POLICY=PASSIVE

step "tests (label ci)"
ctest --test-dir build -L ci --output-on-failure -j"$jobs" | tee build/ctest-ci.log
if [ $full = 1 ]; then
  step "tests (label full)"
  ctest --test-dir build -L full --output-on-failure | tee build/ctest-full.log
fi

step "build with ASan + UBSan"
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DLAC_SANITIZE=ON -DLAC_CUDA=OFF \
  -DLAC_WERROR=ON -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build build-san -j"$jobs"

step "tests under ASan + UBSan (label ci, quick sizes)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
LAC_TEST_QUICK=1 ctest --test-dir build-san -L ci --output-on-failure -j"$jobs" | tee build-san/ctest-ci.log

step "fuzzers (ASan + UBSan, 50 s per target, two at a time)"
fuzz/run.sh 50

# One closing line over both ctest runs (the fuzzers' table is above it). ctest counts a
# skipped test (exit status 77: a GPU test without a GPU, a check that could not run here) as
# passed in its "tests passed" line and lists it under "did not run": it is counted apart.
logs="build/ctest-*.log build-san/ctest-ci.log"
total=$(cat $logs | sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
failed=$(cat $logs | sed -n 's/.*tests passed, \([0-9]*\) tests failed.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
skipped=$(cat $logs | grep -c ' (Skipped)$' || true)
printf '\nall test runs: %d passed, %d failed, %d skipped\n' $((total - failed - skipped)) "$failed" \
  "$skipped"
