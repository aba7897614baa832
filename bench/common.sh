# Shared helpers for bench/ordinality.sh and bench/corpus.sh (sourced, not run).
# Environment: BUILD (build dir, default build), LACGPU, WEIGHTS_TOOLS, LAC_DEFAULT_MODEL,
# LAC_SHARED (the read-only ../shared), BENCH_MACHINE (override the results label).

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$BENCH_ROOT/build}
LACGPU=${LACGPU:-$BUILD/bin/lacgpu}
WEIGHTS_TOOLS=${WEIGHTS_TOOLS:-$BUILD/bin/weights_tools}
MODEL=${LAC_DEFAULT_MODEL:-$BENCH_ROOT/models/lac-tiny.lacm}
SHARED=${LAC_SHARED:-$BENCH_ROOT/../shared}
unset LACGPU_MODEL LACGPU_DEVICE LACGPU_THREADS

# The classic compressors: name, compress command, decompress command (stdin -> stdout).
CLASSIC_NAMES=(xz-9 zstd-19 bzip2-9 brotli-11)
declare -A CLASSIC_C=([xz-9]="xz -9 -c" [zstd-19]="zstd -19 -q -c" [bzip2-9]="bzip2 -9 -c"
    [brotli-11]="brotli -q 11 -c")
declare -A CLASSIC_D=([xz-9]="xz -d -c" [zstd-19]="zstd -d -q -c" [bzip2-9]="bzip2 -d -c"
    [brotli-11]="brotli -d -c")

bench_die() { echo "$(basename "$0"): $*" >&2; exit 1; }
bench_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

bench_check_tools() {
    [ -x "$LACGPU" ] || bench_die "no lacgpu at $LACGPU (build it, or set BUILD / LACGPU)"
    [ -x "$WEIGHTS_TOOLS" ] || bench_die "no weights_tools at $WEIGHTS_TOOLS"
    [ -f "$MODEL" ] || bench_die "no model at $MODEL"
    local c
    for c in xz zstd bzip2 brotli; do
        command -v "$c" >/dev/null || bench_die "$c is missing (scripts/install-deps.sh --bench)"
    done
}

# bench_machine: a short label for the results folder: the GPU (h100, a100, ...) when the
# CUDA device works, else cpu-<vendor>-<family>-<cores>c (e.g. cpu-amd-epyc-2c).
bench_machine() {
    if [ -n "${BENCH_MACHINE:-}" ]; then echo "$BENCH_MACHINE"; return; fi
    if [ "${BENCH_HAVE_CUDA:-0}" = 1 ] && command -v nvidia-smi >/dev/null; then
        local g
        g=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 |
            tr 'A-Z' 'a-z' | grep -oE '[a-z]+[0-9]+[a-z]*' | grep -v '^[0-9]' | head -1)
        [ -n "$g" ] && { echo "$g"; return; }
    fi
    local model cores
    model=$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
    [ -n "$model" ] || model=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)
    cores=$(nproc 2>/dev/null || echo 1)
    model=$(echo "$model" | tr 'A-Z' 'a-z' | sed -E 's/\((r|tm)\)//g; s/(processor|cpu|with.*|@.*|[0-9]+-core)//g' |
        tr -cs 'a-z0-9' '-' | sed -E 's/-+/-/g; s/^-//; s/-$//' | cut -d- -f1-3)
    echo "cpu-${model:-unknown}-${cores}c"
}

# bench_cuda_works: 0 when lacgpu was built with CUDA and --device cuda codes a small file.
bench_cuda_works() {
    "$LACGPU" -V 2>/dev/null | grep -qi 'CUDA: *not' && return 1
    local t
    t=$(mktemp -d "${TMPDIR:-/tmp}/lacbench-cuda.XXXXXX") || return 1
    printf 'hello, world\n' >"$t/x"
    "$LACGPU" -q -f -m "$MODEL" --device cuda -o "$t/x.lacz" "$t/x" 2>/dev/null &&
        "$LACGPU" -q -f -m "$MODEL" --device cuda -d -o "$t/y" "$t/x.lacz" 2>/dev/null &&
        cmp -s "$t/x" "$t/y"
    local rc=$?
    rm -rf "$t"
    return $rc
}

# bench_devices: the lacgpu devices to measure: cpu, plus cuda when it works.
bench_devices() {
    BENCH_HAVE_CUDA=0
    if [ "${BENCH_NO_CUDA:-0}" != 1 ] && bench_cuda_works; then BENCH_HAVE_CUDA=1; fi
    if [ "$BENCH_HAVE_CUDA" = 1 ]; then echo "cpu cuda"; else echo "cpu"; fi
}

# bench_time CMD...: runs CMD, prints its wall time in seconds; returns its exit status.
bench_time() {
    local t0=$EPOCHREALTIME rc
    "$@"
    rc=$?
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f\n", b - a }'
    return $rc
}

# bench_median V...: the median of the numbers (mean of the two middle ones for an even count).
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) printf "%.4f\n", v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_runs FIRST_S: how many runs a point gets after a first run of FIRST_S seconds:
# BENCH_RUNS (default 3), 1 when one run took more than BENCH_SLOW_S (default 60) seconds.
bench_runs() {
    awk -v f="$1" -v r="${BENCH_RUNS:-3}" -v s="${BENCH_SLOW_S:-60}" 'BEGIN { print (f > s ? 1 : r) }'
}

# bench_tokens FILE: GPT-2 token count of FILE.
bench_tokens() { "$WEIGHTS_TOOLS" tokenize "$MODEL" "$1" | wc -l; }

# bench_ideal_bpb FILE: the model's ideal bits per byte (weights_tools eval), or "" on failure.
bench_ideal_bpb() {
    "$WEIGHTS_TOOLS" eval "$MODEL" "$1" 2>/dev/null | awk -F': *' '$1 == "bpb" { print $2 }'
}

# bench_lacgpu DEVICE FILE WORKDIR: one lacgpu compress + decompress of FILE on DEVICE.
# Prints "compressed_bytes compress_s decompress_s roundtrip(ok|FAIL)"; returns 1 on error.
bench_lacgpu() {
    local dev=$1 f=$2 w=$3 tc td ok=ok
    tc=$(bench_time "$LACGPU" -q -f -m "$MODEL" --device "$dev" -o "$w/x.lacz" "$f") ||
        { echo "lacgpu --device $dev failed compressing $f" >&2; return 1; }
    td=$(bench_time "$LACGPU" -q -f -m "$MODEL" --device "$dev" -d -o "$w/x.out" "$w/x.lacz") ||
        { echo "lacgpu --device $dev failed decompressing $f" >&2; return 1; }
    cmp -s "$f" "$w/x.out" || ok=FAIL
    echo "$(wc -c <"$w/x.lacz") $tc $td $ok"
    rm -f "$w/x.lacz" "$w/x.out"
}

# bench_classic NAME FILE WORKDIR: one compress + decompress with a classic compressor.
# Prints "compressed_bytes compress_s decompress_s roundtrip(ok|FAIL)".
bench_classic() {
    local n=$1 f=$2 w=$3 tc td ok=ok
    # shellcheck disable=SC2086
    tc=$(bench_time sh -c "${CLASSIC_C[$n]} <\"\$1\" >\"\$2\"" sh "$f" "$w/x.z") ||
        { echo "$n failed compressing $f" >&2; return 1; }
    td=$(bench_time sh -c "${CLASSIC_D[$n]} <\"\$1\" >\"\$2\"" sh "$w/x.z" "$w/x.out") ||
        { echo "$n failed decompressing $f" >&2; return 1; }
    cmp -s "$f" "$w/x.out" || ok=FAIL
    echo "$(wc -c <"$w/x.z") $tc $td $ok"
    rm -f "$w/x.z" "$w/x.out"
}

# bench_measure KIND NAME FILE WORKDIR: repeated runs (bench_runs) of bench_lacgpu (KIND
# lacgpu, NAME = device) or bench_classic (KIND classic). Prints
# "compressed_bytes median_compress_s median_decompress_s runs roundtrip".
bench_measure() {
    local kind=$1 n=$2 f=$3 w=$4 r runs size tc td ok all_ok=ok
    local -a tcs=() tds=()
    r=$(bench_"$kind" "$n" "$f" "$w") || return 1
    read -r size tc td ok <<<"$r"
    tcs+=("$tc"); tds+=("$td"); [ "$ok" = ok ] || all_ok=FAIL
    runs=$(bench_runs "$(awk -v a="$tc" -v b="$td" 'BEGIN { print a + b }')")
    local i
    for ((i = 1; i < runs; i++)); do
        r=$(bench_"$kind" "$n" "$f" "$w") || return 1
        read -r size tc td ok <<<"$r"
        tcs+=("$tc"); tds+=("$td"); [ "$ok" = ok ] || all_ok=FAIL
    done
    echo "$size $(bench_median "${tcs[@]}") $(bench_median "${tds[@]}") $runs $all_ok"
}

# bench_div A B [FMT]: A / B formatted (default %.4f), "" when B is 0 or either is empty.
bench_div() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.4f}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print ""; else printf f "\n", a / b }'
}
