#!/usr/bin/env bash
# Builds kernels/*.cu for host emulation (kernels/emu/cuda_emu.h) with the CPU scalar backend
# and the quantizer, and runs kernels/emu/emu_check.c: the CUDA backend's logits and
# frequencies must equal the CPU reference bit for bit. Needs no GPU and no nvcc; takes about a
# minute on 2 cores.
#   kernels/emu/check.sh                 three small random models
#   kernels/emu/check.sh MODEL [T]       a model file, T tokens per stream (slow: minutes)
# First, tests/cuda_matmul_check.cu: every matmul tile variant against the host fmaf chain on
# small odd shapes (bitwise, signed zeros included), with -fsanitize=alignment so that a
# misaligned float4 access fails here as it would fault on the GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${EMU_BUILD:-build-emu}
mkdir -p "$B"
INC="-Iinclude -Icommon -Inumerics -Iengine -Icoder -Ikernels"
FLAGS="-O1 -g -ffp-contract=off -fno-fast-math -Wall -Wextra -Wno-unknown-pragmas -DLAC_HAVE_CUDA=1 -DLAC_CUDA_EMU=1"
g++ -std=c++20 $FLAGS -fsanitize=alignment -fno-sanitize-recover=all $INC -x c++ \
  kernels/matmul.cu -x c++ tests/cuda_matmul_check.cu -o "$B/matmul_check" -pthread
"$B/matmul_check"

objs=()
for f in kernels/*.cu; do
  o=$B/$(basename "$f").o
  g++ -std=c++20 $FLAGS $INC -x c++ -c "$f" -o "$o"
  objs+=("$o")
done
for f in engine/forward_scalar.c engine/model.c engine/vocab_hf.c engine/vocab_map.c numerics/quantize.c \
         common/lac_error.c kernels/emu/emu_check.c; do
  o=$B/$(basename "$f").o
  gcc -std=gnu11 $FLAGS $INC -c "$f" -o "$o"
  objs+=("$o")
done
g++ "${objs[@]}" -o "$B/emu_check" -pthread -lcrypto -lcjson -lm
"$B/emu_check" "$@"
# The attention kernels alone against NUMERICS §6 on tile edges, partial groups, odd head sizes.
g++ -std=c++20 $FLAGS $INC -x c++ kernels/emu/att_check.cc -x none "$B/attention.cu.o" -o "$B/att_check"
"$B/att_check"
