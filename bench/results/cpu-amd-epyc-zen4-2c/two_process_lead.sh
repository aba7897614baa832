#!/bin/bash
# the two-process lead on this Zen 4: book03 -c, one 2-thread process vs two 1-thread
# processes on its halves (--chunk), vs one 2-thread process with OMP_WAIT_POLICY=active
# (the committed results ran the round trip by hand: this line first had -c for --stdout)
cd /work/main
B=../shared/corpus/gutenberg/book03.txt; T=$(mktemp -d)
export GOMP_SPINCOUNT=10000
ts() { date +%s.%N; }
for rep in 1 2; do
  s=$(ts); build/bin/lacgpu -c -f -q --threads 2 -o $T/one.lacz $B; e=$(ts)
  echo "rep $rep one process, 2 threads: $(echo "$e - $s" | bc) s"
  s=$(ts); build/bin/lacgpu -c -f -q --threads 1 --chunk 1/2 -o $T/h1.lacz $B & 
  build/bin/lacgpu -c -f -q --threads 1 --chunk 2/2 -o $T/h2.lacz $B; wait; e=$(ts)
  echo "rep $rep two processes, 1 thread each: $(echo "$e - $s" | bc) s"
  s=$(ts); OMP_WAIT_POLICY=active build/bin/lacgpu -c -f -q --threads 2 -o $T/act.lacz $B; e=$(ts)
  echo "rep $rep one process, 2 threads, OMP_WAIT_POLICY=active: $(echo "$e - $s" | bc) s"
done
cmp $T/one.lacz $T/act.lacz && echo "active: same .lacz"
cat $T/h1.lacz $T/h2.lacz > $T/cat.lacz; build/bin/lacgpu -d -q --stdout $T/cat.lacz | cmp - $B && echo "halves: round trip ok"
rm -rf $T
