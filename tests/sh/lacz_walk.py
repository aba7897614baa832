#!/usr/bin/env python3
"""Lists the records of the first stream of a format v2 .lacz file (docs/FORMAT.md), one per
line: offset kind packed_len payload_offset. For the shell tests; stdlib only."""
import sys


def varint(b, i):
    v = s = 0
    while True:
        v |= (b[i] & 127) << s
        s += 7
        i += 1
        if b[i - 1] < 128:
            return v, i


def main():
    b = open(sys.argv[1], "rb").read()
    assert b[:4] == bytes([0x32, 0x82, 0xC2, 0x5A]) and b[4] & 7 == 2, "not a v2 .lacz"
    flags, i = b[4] >> 3, 11
    if flags & 1:
        _, i = varint(b, i)
    if flags & 2:
        i += 6
    if flags & 4:
        _, i = varint(b, i)
    while True:
        off = i
        tag, i = varint(b, i)
        kind, packed = tag & 7, tag >> 3
        if kind == 0 and packed == 0:
            print(off, "end", 0, i)
            return
        if kind == 0:
            print(off, "last", packed, i)
            return
        if kind >= 4:
            _, i = varint(b, i)
        i += 2  # the check
        print(off, ["", "full", "part", "stored", "lzma2", "zstd", "brotli", "bzip2"][kind],
              packed, i)
        i += packed


main()
