#!/usr/bin/env bash
# Inputs over 1 MB through the command line (file to file, stdin to stdout), and the split of
# stored records: the writer cuts binary data into segments of at most 8 MiB (its window,
# docs/FORMAT.md "The writer's choices"), the reader takes records of up to 16 MiB. A 17 MiB
# random input with --methods stored is the fastest path through the split (the classic codecs
# on 17 MiB of random data take minutes); a 1.5 MiB structured input goes through zstd.
. "$(dirname "$0")/lib/common.sh"
need_model

# stored: the records of `lacgpu -l -v` out.txt: "... block K at OFF: stored, N -> N bytes"
stored_sizes() { sed -n 's/.*: stored, \([0-9]*\) -> \([0-9]*\) bytes$/\1 \2/p' out.txt; }

python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(1).randbytes((17 << 20) + 12345))' >r.bin
size=$(wc -c <r.bin)
expect 0 L -q --methods stored -o r.lacz r.bin
packed=$(wc -c <r.lacz)
check "stored: $packed bytes for $size, more than 64 bytes of framing" test "$packed" -le $((size + 64))
expect 0 "$LACGPU" -l -v r.lacz
stored_sizes >sizes.txt
check "stored: 3 records for 17 MiB: $(cat out.txt)" test "$(wc -l <sizes.txt)" = 3
check "stored: a record over 8 MiB or not stored: $(cat sizes.txt)" \
    awk '{ if ($1 != $2 || $1 < 1 || $1 > 8388608) bad = 1 } END { exit bad }' sizes.txt
check "stored: the records' plaintext is not the input's $size bytes" \
    test "$(awk '{ s += $1 } END { print s }' sizes.txt)" = "$size"
expect 0 L -d -o r.out r.lacz && check "stored: file round trip" cmp -s r.out r.bin
rm -f r.out
# stdin to stdout both ways (the CLI's buffered reads and writes on a stream of 17 MiB)
checks=$((checks + 1))
L -q --methods stored <r.bin >s.lacz 2>err.txt || fail "stdin compress: $(cat err.txt)"
check "stdin compress: not the bytes of the file's" cmp -s s.lacz r.lacz
checks=$((checks + 1))
L -d <s.lacz 2>err.txt | cmp -s - r.bin || fail "stdin to stdout decompress: $(cat err.txt)"
expect 0 L -t r.lacz
# the last record cut: the truncation is found, nothing is written
head -c $((packed - 100)) r.lacz >cut.lacz
expect 1 L -d -o cut.out cut.lacz && err_has "truncated"
check "truncated 17 MiB stream: output left" test ! -e cut.out
rm -f r.bin r.lacz s.lacz cut.lacz

# over 1 MB through a classic codec: one zstd record of the whole 1.5 MiB segment
python3 -c 'import struct, sys
sys.stdout.buffer.write(b"".join(struct.pack("<IIf", i, (i * 2654435761) & 0xffff, i / 7.0) for i in range(131072)))' >s.bin
expect 0 L -q --methods zstd -o z.lacz s.bin
expect 0 "$LACGPU" -l -v z.lacz
check "zstd: one record of the 1572864 bytes: $(cat out.txt)" grep -q ': zstd, 1572864 -> ' out.txt
check "zstd: not smaller than the input" test "$(wc -c <z.lacz)" -lt 1572864
expect 0 L -d --stdout z.lacz && check "zstd: round trip" cmp -s out.txt s.bin
no_leftovers

finish
