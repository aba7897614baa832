#!/usr/bin/env bash
# bench/memory.sh: peak RSS (/usr/bin/time -v, "Maximum resident set size") of lacgpu
# compress and decompress against input size. Memory must stay bounded: it may depend on the
# model, the block size and the number of streams, never on the input size.
#
#   bench/memory.sh [-b "1M 10M 100M 1G"] [-t "16K 64K"] [-m MODEL] [-o RESULTS_FILE]
#
# Inputs are generated, not stored: binary sizes (-b) are 1 MiB of random bytes repeated
# (never text: every block is stored, so the model never runs and 1 GiB takes minutes on a
# CPU); text sizes (-t) are English prose repeated (a Gutenberg book from ../shared when present,
# else a built-in paragraph), coded by the model (slow on a CPU: keep them small without a GPU).
# Every round trip is checked (SHA-256 of the output = of the input). Needs /usr/bin/time
# (Debian package `time`).
set -eu # (no pipefail: the generators end on SIGPIPE)
src=$(cd "$(dirname "$0")/.." && pwd)
LACGPU=${LACGPU:-$src/build/bin/lacgpu}
bin_sizes="1M 10M 100M 1G"
text_sizes="16K 64K"
model=()
results=""
while getopts "b:t:m:o:" o; do
  case $o in
    b) bin_sizes=$OPTARG ;;
    t) text_sizes=$OPTARG ;;
    m) model=(-m "$OPTARG") ;;
    o) results=$OPTARG ;;
    *) echo "usage: $0 [-b SIZES] [-t SIZES] [-m MODEL] [-o FILE]" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "bench/memory.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -x "$LACGPU" ] || { echo "bench/memory.sh: no lacgpu at $LACGPU (build it first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bytes() { numfmt --from=iec "$1"; }
head -c 1048576 /dev/urandom > "$tmp/seed.bin"
book=$(ls "$src"/../shared/corpus/gutenberg/*.txt 2>/dev/null | head -1 || true)
if [ -n "$book" ]; then
  cp "$book" "$tmp/seed.txt"
else
  for i in $(seq 40); do
    echo "It was the best of times, it was the worst of times, it was the age of wisdom, it was"
    echo "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity. ($i)"
  done > "$tmp/seed.txt"
fi
gen() { # kind size: the first size bytes of the seed repeated
  local seed="$tmp/seed.$1" n; n=$(bytes "$2")
  while cat "$seed"; do :; done 2>/dev/null | head -c "$n" # cat fails once head is done
}

out() { echo "$*"; [ -z "$results" ] || echo "$*" >> "$results"; }
[ -z "$results" ] || : > "$results"
out "# bench/memory.sh on $(hostname) ($(nproc) cores), $(date -u +%Y-%m-%dT%H:%MZ)"
out "# lacgpu: $("$LACGPU" -V 2>&1 | head -1)"
printf -v line '%-7s %6s %12s %12s %10s %10s %9s %9s' kind size in_bytes lacz_bytes \
  c_rss_MiB d_rss_MiB c_sec d_sec
out "$line"
run() { # kind size
  local kind=$1 size=$2
  gen "$kind" "$size" | /usr/bin/time -v -o "$tmp/c.time" \
    "$LACGPU" "${model[@]}" -q -c - > "$tmp/z.lacz"
  /usr/bin/time -v -o "$tmp/d.time" "$LACGPU" "${model[@]}" -q -d "$tmp/z.lacz" --stdout |
    sha256sum > "$tmp/out.sha"
  gen "$kind" "$size" | sha256sum | cmp -s - "$tmp/out.sha" ||
    { echo "bench/memory.sh: $kind $size: round trip differs" >&2; exit 1; }
  rss() { awk -F': ' '/Maximum resident/ {printf "%.1f", $2 / 1024}' "$1"; }
  sec() { awk -F': ' '/Elapsed/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; printf "%.1f", s}' "$1"; }
  printf -v line '%-7s %6s %12s %12s %10s %10s %9s %9s' "$kind" "$size" "$(bytes "$size")" \
    "$(stat -c %s "$tmp/z.lacz")" "$(rss "$tmp/c.time")" "$(rss "$tmp/d.time")" \
    "$(sec "$tmp/c.time")" "$(sec "$tmp/d.time")"
  out "$line"
  rm -f "$tmp/z.lacz"
}
for s in $text_sizes; do run txt "$s"; done
for s in $bin_sizes; do run bin "$s"; done
