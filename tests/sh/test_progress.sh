#!/usr/bin/env bash
# Issue 14, item 5: on a terminal the progress line is redrawn at least once a second with the
# elapsed time, the share done, speed and ETA; -q silences it; -v keeps it and adds the summary;
# off a terminal there is none. (What the counts mean is liblac's: lac_progress_fn.)
. "$(dirname "$0")/lib/common.sh"
need_model
command -v script >/dev/null 2>&1 || { echo "no script(1): skipped"; exit 77; }
tty_run() { # tty_run ARGS...: lacgpu with a terminal on stdout and stderr; output in tty.txt
    local start end
    start=$(date +%s.%N)
    timeout 600 script -qec "'$LACGPU' -m '$MODEL' --threads 1 $*" /dev/null </dev/null >tty.txt 2>&1
    end=$(date +%s.%N)
    elapsed=$(echo "$end - $start" | bc)
}
# a run of a few seconds whatever the machine's speed (0.6 s for 40 lines on a fast core, far
# longer under the sanitizers): the input grows until compressing it takes 3 s or more
n=40
while :; do
    for i in $(seq $n); do printf 'The quick brown fox %d jumps over the lazy dog, then runs to the river.\n' "$i"; done >p.txt
    tty_run -f -o p.lacz p.txt
    [ "$(echo "$elapsed >= 3" | bc)" = 1 ] || [ $n -ge 10240 ] && break
    n=$((n * 2))
done
lines=$(tr '\r' '\n' <tty.txt | grep -c 'ETA')
secs=${elapsed%.*}
secs=${secs:-0} # bc writes .95 for 0.95
echo "compress: ${elapsed}s, $lines progress lines"
check "progress line format: $(tr '\r' '\n' <tty.txt | grep ETA | tail -1)" \
    grep -qE 'p\.txt: 0:00:0[0-9] +[0-9.]+% .*B/s, ETA' tty.txt
# one a second: a run of S seconds shows about S - 1 lines (the model loads before the first);
# three quarters of that leaves room for a loaded machine
check "only $lines progress lines in ${elapsed}s" test "$lines" -ge $((secs > 2 ? (secs - 2) * 3 / 4 : 1))
check "the line is erased at the end" grep -q $'\033\\[K' tty.txt
head -c 400 p.txt >p4.txt # decoding is slow (the sanitizer run): a short file
L -q -f p4.txt
tty_run -d -v -f -o p4.out p4.txt.lacz
t=${elapsed%.*}
[ "${t:-0}" -lt 3 ] || check "-d: no progress line" grep -q 'compressed ->' tty.txt
check "-v: no summary" grep -q 'bits/byte' tty.txt
tty_run -q -f -o p.lacz p.txt
check "-q: progress shown" test "$(tr '\r' '\n' <tty.txt | grep -c ETA)" = 0
expect 0 L -f -o p.lacz p.txt
check "progress off a terminal" test ! -s err.txt
finish
