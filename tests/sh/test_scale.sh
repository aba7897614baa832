#!/usr/bin/env bash
# Scale-out (docs/SCALE.md): the GNU parallel recipes (4 local workers, and --sshlogin with the
# local login ":") compress a text in 4 chunks and decode it in 4 groups; both concatenations
# must be right (the .lacz decodes and verifies, the pieces are the text). The Slurm array
# script runs with a faked SLURM_ARRAY_TASK_ID and must give the same bytes. Also: the chunk
# errors, and several CPU engines (--device cpu,cpu) write the bytes of one.
source "$(dirname "$0")/lib/common.sh"
need_model
command -v parallel >/dev/null || { echo "GNU parallel is not installed (scripts/install-deps.sh): skipped"; exit 77; }
SRC=${LAC_SOURCE_DIR:-$(dirname "$0")/../..}
ALICE=$SHARED/corpus/canterbury/alice29.txt
[ -f "$ALICE" ] || { echo "no $ALICE: skipped"; exit 77; }
size=1600
[ "${LAC_TEST_QUICK:-0}" = 1 ] && size=600 # the sanitizer build: slower
head -c "$size" "$ALICE" > text
export LACGPU MODEL LACGPU_THREADS=1
P() { parallel --will-cite --halt now,fail=1 "$@"; }

# ---- compress with 4 workers, decode with 4 workers ----
check "parallel -c" P -j4 "$LACGPU" -m "$MODEL" -q -c --chunk {}/4 text -o text.{}.lacz ::: 1 2 3 4
cat text.1.lacz text.2.lacz text.3.lacz text.4.lacz > whole.lacz
expect 0 L -t whole.lacz
expect 0 L -d --stdout whole.lacz && check "cat of the chunks decodes to the text" cmp -s out.txt text
expect 0 L -l -v whole.lacz
check "-l -v lists 4 streams" grep -q "4 streams" out.txt
check "-l -v: stream 3's line" grep -q "^    stream 3 at [0-9]*: [0-9]* bytes, [0-9]* bytes of plaintext" out.txt
check "parallel -d" P -j4 "$LACGPU" -m "$MODEL" -q -d --chunk {}/4 whole.lacz -o back.{} ::: 1 2 3 4
cat back.1 back.2 back.3 back.4 > back
check "cat of the decoded groups is the text" cmp -s back text
check "each group is one piece" cmp -s back.2 <(L -d --stdout text.2.lacz)
# the pieces are cut after line ends and are of similar size
for k in 2 3 4; do
    check "piece $k starts after a line end" test "$(tail -c 1 back.$((k - 1)) | od -An -c | tr -d ' ')" = '\n'
done
# a second grouping of the same file: 2 groups of 2 streams
P -j2 "$LACGPU" -m "$MODEL" -q -d --chunk {}/2 whole.lacz -o half.{} ::: 1 2
check "2 groups of 4 streams" cmp -s <(cat half.1 half.2) text

# ---- --sshlogin (":" is the local login: the same command line a cluster runs) ----
mkdir -p ssh
check "parallel --sshlogin" P -S : --workdir "$T" "$LACGPU" -m "$MODEL" -q -c --chunk {}/4 text -o ssh/text.{}.lacz ::: 1 2 3 4
check "--sshlogin gives the same bytes" cmp -s <(cat ssh/text.{1,2,3,4}.lacz) whole.lacz

# ---- the Slurm array script, SLURM_ARRAY_TASK_ID faked (tasks 0..3: --array=0-3) ----
for id in 0 1 2 3; do
    SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 LACGPU=$LACGPU \
        bash "$SRC/scripts/lacgpu-slurm.sh" -c text slurm -m "$MODEL" -q || fail "slurm task $id"
done
check "slurm: 4 outputs" test "$(ls slurm | wc -l)" = 4
check "slurm: the bytes of the parallel run" cmp -s <(cat slurm/text.*.lacz) whole.lacz
for id in 1 2 3 4; do
    SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_COUNT=4 LACGPU=$LACGPU \
        bash "$SRC/scripts/lacgpu-slurm.sh" -d whole.lacz slurm-d -m "$MODEL" -q || fail "slurm -d task $id"
done
check "slurm -d: the text" cmp -s <(cat slurm-d/whole.?) text
expect 1 env -u SLURM_ARRAY_TASK_ID bash "$SRC/scripts/lacgpu-slurm.sh" -c text x
check "slurm outside an array: a message" grep -q "not a Slurm array task" err.txt

# ---- errors: one line naming the input, no output ----
expect 2 L -c --chunk 0/4 text -o e.lacz && err_has "--chunk: '0/4'"
expect 2 L -c --chunk 5/4 text -o e.lacz && err_has "1 <= K <= N"
expect 2 L -c --chunk 1/0 text -o e.lacz
expect 2 L -c --chunk 1 text -o e.lacz
expect 2 L -c --chunk 1/2 text && err_has "needs -o FILE or --stdout"
expect 2 L -c --chunk 1/2 text text -o e.lacz
expect 2 L -l --chunk 1/2 whole.lacz
expect 1 sh -c "cat text | '$LACGPU' -m '$MODEL' -c --chunk 1/2 - --stdout" && err_has "(stdin): --chunk needs a seekable input"
printf 'abc' > tiny
expect 1 L -c --chunk 1/4 tiny -o e.lacz && err_has "tiny: --chunk 1/4: chunk: N = 4 pieces of a 3-byte input: at most 3"
expect 1 L -d --chunk 1/5 whole.lacz -o e && err_has "whole.lacz: --chunk 1/5: chunk: N = 5 groups of 4 streams"
expect 1 L -d --chunk 1/2 text -o e && err_has "text: --chunk 1/2"
check "no output after errors" test ! -e e.lacz -a ! -e e
no_leftovers

# ---- several engines: the bytes of one, and both really ran ----
expect 0 L -c --block-tokens 48 --stdout text && mv out.txt one.lacz
expect 0 L -v -c --block-tokens 48 --device cpu,cpu --stdout text && mv out.txt two.lacz
check "--device cpu,cpu: the bytes of one engine" cmp -s one.lacz two.lacz
check "-v names 2 devices (compress)" grep -q "2 devices: cpu" err.txt
expect 0 L -v -d --device cpu,cpu --stdout two.lacz && check "decoded on 2 engines" cmp -s out.txt text
check "-v names 2 devices (decompress)" grep -q "2 devices: cpu" err.txt
# sub-engines of 2 threads with row groups (forced: these steps are small) run nested in the
# multi backend's threads: every group must still run (once only group 0 did: wrong logits)
LAC_ROW_GROUPS=1 expect 0 L -d --threads 2 --device cpu,cpu --stdout two.lacz &&
  check "decoded on 2 engines of 2 threads, row groups" cmp -s out.txt text
expect 2 L -c --device cuda:0,0 text && err_has "GPU 0 given twice"
finish
