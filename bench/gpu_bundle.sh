#!/usr/bin/env bash
# Prepares gpu-carry/ for a device session (run HERE, on the CPU machine, before the device
# call). The device image has nvcc and cmake but maybe not our Debian libraries (PCRE2,
# cJSON, OpenSSL, criterion) and it cannot install packages, and ../shared does not travel.
# So we carry, in a folder that git ignores (.git/info/exclude):
#   gpu-carry/bundle.tar.xz  bin/ (test_cuda, the CUDA benches, lacgpu, weights_tools built
#                            here for sm_90) + lib/ (their shared libraries except glibc and
#                            CUDA's own), so the device can run them without building;
#   gpu-carry/data/          corpus/canterbury and ~1.6 MB of corpus/gutenberg (LAC_SHARED
#                            layout) for the round trips and the >= 256-block decompression.
# bench/gpu_check.sh uses the bundle when its binaries start there and builds from source
# otherwise. Then, in the device session:
#   run(command="OUT=$OUT bench/gpu_check.sh", carry=["gpu-carry"], timeout_s=420)
# Usage: bench/gpu_bundle.sh    (LAC_SHARED=/path/to/shared to override ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
SHARED=${LAC_SHARED:-$SRC/../shared}
BUILD=$SRC/build-gpu
CARRY=$SRC/gpu-carry
EXCLUDE=$(git rev-parse --git-common-dir)/info/exclude
grep -qx '/gpu-carry/' "$EXCLUDE" 2>/dev/null || echo '/gpu-carry/' >> "$EXCLUDE"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLAC_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DLAC_WERROR=ON > /dev/null
targets=(lacgpu weights_tools test_cuda bench_cuda_matmul bench_cuda_codec)
# optional targets (present in newer trees)
help=$(cmake --build "$BUILD" --target help)
for t in bench_cuda_attention cuda_matmul_check; do
  grep -qw "$t" <<< "$help" && targets+=("$t")
done
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}"

rm -rf "$CARRY"
stage=$(mktemp -d)
mkdir -p "$stage/bin" "$stage/lib/cxx" "$CARRY/data/corpus/gutenberg"
for t in "${targets[@]}"; do cp "$BUILD/bin/$t" "$stage/bin/"; done
# every shared library they need, except glibc's own and CUDA's (the device has a matching
# driver and toolkit; cuBLAS is found there by gpu_check.sh)
for b in "$stage"/bin/*; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|ld-linux*|libcuda.so*|libcublas*|libcudart*) ;;
    libstdc++.so*|libgcc_s.so*) cp -L "$lib" "$stage/lib/cxx/" ;; # only if the device's are too old
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
tar -C "$stage" -cJf "$CARRY/bundle.tar.xz" bin lib
rm -rf "$stage"
cp -r "$SHARED/corpus/canterbury" "$CARRY/data/corpus/"
for b in book00 book01 book02 book03 book04; do
  cp "$SHARED/corpus/gutenberg/$b.txt" "$CARRY/data/corpus/gutenberg/"
done
git rev-parse HEAD > "$CARRY/commit.txt"
echo "gpu-carry: $(du -sh "$CARRY" | cut -f1) (bundle $(du -h "$CARRY/bundle.tar.xz" | cut -f1)); tracked tree $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) bytes"
