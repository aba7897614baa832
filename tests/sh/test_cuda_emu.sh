#!/usr/bin/env bash
# The CUDA kernels without a GPU: kernels/emu/check.sh compiles kernels/*.cu with the host C++
# compiler against kernels/emu/cuda_emu.h (every CUDA thread a fiber, barriers and shuffles
# real, device memory NaN-filled) and requires every matmul variant and the whole CUDA backend
# (prefill, steps, mixed calls, forward_code / _freqs / _decode) to equal the CPU reference
# bit for bit. So CI checks the GPU code's arithmetic order on every change, GPU or not.
# Environment (set by ctest): LAC_SOURCE_DIR, LAC_BUILD_DIR.
set -u
# the sanitizer run (LAC_TEST_QUICK=1) leaves this to the normal build: the emulator builds
# its own binary, the same in both
[ "${LAC_TEST_QUICK:-0}" = 1 ] && { echo "LAC_TEST_QUICK: checked by the normal build: skipped"; exit 77; }
command -v g++ >/dev/null || { echo "no g++: skipped"; exit 77; }
SRC=${LAC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
EMU_BUILD=${LAC_BUILD_DIR:-$SRC/build}/emu exec "$SRC/kernels/emu/check.sh"
