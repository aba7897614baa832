#!/usr/bin/env bash
# Issue 14, items 1-3: lacgpu never destroys or replaces what is not its own (devices, FIFOs),
# handles a full disk and a missing directory cleanly, dies by the signal after cleaning up,
# and keeps mode, times and (as root) owner. Runs the exact commands of the issue.
. "$(dirname "$0")/lib/common.sh"
need_model
short_text >a.txt

# ---- -o onto devices and FIFOs: written into, never replaced --------------------------------
expect 1 "$LACGPU" -f -o /dev/full a.txt && err_has "/dev/full: write failed: No space left"
check "/dev/full is no longer a character device" test -c /dev/full
expect 0 "$LACGPU" -o /dev/null a.txt
check "/dev/null replaced" test -c /dev/null
grep -q "use -f" err.txt && fail "-o /dev/null suggests -f"
mkfifo fifo
cat fifo >fifo.out &
reader=$!
expect 0 L -o fifo a.txt
wait "$reader"
check "-o FIFO: the FIFO was replaced" test -p fifo
expect 0 L -d --stdout fifo.out && check "-o FIFO: data" cmp -s out.txt a.txt
if is_root && mknod devnull c 1 3 2>/dev/null; then
    expect 0 "$LACGPU" -f -o devnull a.txt
    check "-o copy of /dev/null: replaced" test -c devnull
else
    skip "not root (or no mknod): the copy-of-/dev/null check"
fi

# ---- non-regular inputs are refused; --rm removes regular files only --------------------------
for node in fifo devnull; do
    [ -e "$node" ] || continue
    expect 1 "$LACGPU" --rm "$node" && err_has "$node: not a regular file"
    check "--rm $node: the node is gone" test -e "$node"
    check "--rm $node: an output was written" test ! -e "$node.lacz"
done
expect 1 "$LACGPU" -d --rm fifo && err_has "not a regular file"
cp a.txt r.txt
expect 0 L --rm r.txt && check "--rm regular file" test ! -e r.txt -a -s r.txt.lacz
no_leftovers

# ---- full disk, missing directory: clean error, no temp file, input kept --------------------
head -c 100000 /dev/urandom >rand.bin          # stored raw: a large output at little cost
L -o rand.lacz rand.bin 2>/dev/null
mkdir small
full=small
if is_root && mount -t tmpfs -o size=64k tmpfs small 2>/dev/null; then
    cleanup_hooks+=("umount '$T/small'")
    echo "full-disk tests: a 64 KiB tmpfs"
    cp rand.bin small/in.bin 2>/dev/null # fills it partly: ENOSPC comes mid-write
    rm -f small/in.bin
    cp a.txt small/t.txt
    expect 1 L -o small/rand.lacz rand.bin && err_has "No space left on device"
    check "full disk: partial output left" test ! -e small/rand.lacz
    expect 1 L -d -o small/rand.out rand.lacz && err_has "No space left on device"
    check "full disk (-d): partial output left" test ! -e small/rand.out
    head -c 60000 /dev/urandom >small/fill 2>/dev/null
    expect 1 L --rm small/t.txt && err_has "small/t.txt.lacz"
    check "full disk --rm: input removed" test -f small/t.txt
    check "full disk --rm: output left" test ! -e small/t.txt.lacz
    (cd small && no_leftovers)
else
    echo "full-disk tests: /dev/full (not root or no tmpfs mount)"
    expect 1 L -f -o /dev/full rand.bin && err_has "No space left on device"
    expect 1 L -d -f -o /dev/full rand.lacz && err_has "No space left on device"
fi
check "input kept" test -s rand.bin
expect 1 L -o nodir/x.lacz a.txt && err_has "nodir/x.lacz: cannot create a temporary file"
check "input kept after a missing directory" test -s a.txt
# the output directory vanishes while lacgpu runs: the rename fails with one message. The input
# comes through a FIFO held open by this script, so the directory goes away after the temporary
# file exists and before the compression ends, on a machine of any speed.
for i in 1 2 3; do text; done >vd_in.txt
mkdir vd
mkfifo vd_fifo
"$LACGPU" -m "$MODEL" -q --threads 1 -o vd/x.lacz - <vd_fifo 2>vd_err.txt &
pid=$!
exec 3>vd_fifo
cat vd_in.txt >&3
for i in $(seq 1 300); do
    ls vd/x.lacz.lacgpu-* >/dev/null 2>&1 && break
    sleep 0.1
done
check "vanished directory: the temporary file exists" ls vd/x.lacz.lacgpu-*
rm -rf vd
cat vd_in.txt >&3
exec 3>&-
rm -f vd_fifo
rc=0
wait "$pid" || rc=$?
check "vanished directory: exit status $rc" test "$rc" = 1
check "vanished directory: no message naming the output" grep -q "vd/x.lacz" vd_err.txt
check "vanished directory: one line" test "$(wc -l <vd_err.txt)" = 1
no_leftovers

# ---- signals: clean up, then die by the signal --------------------------------------------------
for i in 1 2 3 4 5 6 7 8; do text; done >big.txt
for i in 1 2 3 4 5 6 7 8 9 10; do cat big.txt; done >big5.txt
cp big5.txt b1.txt
cp big5.txt b2.txt
# for f in *; do lacgpu "$f"; done: Ctrl-C (SIGINT to the process group) stops the loop
# the signal comes once b1.txt's temporary output exists (compression under way, whatever the
# machine's speed: a fixed sleep let a fast machine finish first)
wait_tmp() { # wait_tmp NAME: until NAME.lacz.lacgpu-* exists (30 s at most)
    for i in $(seq 1 300); do
        ls "$1".lacz.lacgpu-* >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
sigdfl bash -c 'for f in b1.txt b2.txt; do "$0" -m "$1" --threads 1 "$f"; done; echo went-on >loop.txt' \
    "$LACGPU" "$MODEL" 2>sig_err.txt &
pid=$!
wait_tmp b1.txt
kill -INT -- -"$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ -e b1.txt.lacz ]; then
    skip "b1.txt was compressed before SIGINT (slow start?): the loop check"
else
    check "SIGINT: the shell loop went on (status $rc)" test ! -e loop.txt -a ! -e b2.txt.lacz
    check "SIGINT: status $rc, want 130" test "$rc" = 130
fi
check "SIGINT: input changed" cmp -s b1.txt big5.txt
no_leftovers
sigdfl "$LACGPU" -m "$MODEL" --threads 1 -f b1.txt 2>/dev/null &
pid=$!
wait_tmp b1.txt
kill -TERM "$pid"
wait "$pid"
rc=$?
[ -e b1.txt.lacz ] || check "SIGTERM: status $rc, want 143" test "$rc" = 143
no_leftovers

# two quick signals: the second removes the temporary file itself (its real name, not the
# mkstemp template) and dies at once (status 130 when the first had already finished the job)
sigdfl "$LACGPU" -m "$MODEL" --threads 1 -f b1.txt 2>/dev/null &
pid=$!
wait_tmp b1.txt
kill -INT "$pid"
kill -TERM "$pid" # (not a second SIGINT: two at once may merge into one pending signal)
wait "$pid"
rc=$?
[ -e b1.txt.lacz ] || check "SIGINT, SIGTERM: status $rc, want 143 or 130" test "$rc" = 143 -o "$rc" = 130
no_leftovers

# ---- outputs that exist: never replaced without -f, even when they appear during the run ----
rm -f b1.txt.lacz
"$LACGPU" -m "$MODEL" --threads 1 -q b1.txt 2>late_err.txt &
pid=$!
if wait_tmp b1.txt; then
    echo precious >b1.txt.lacz
    wait "$pid"
    rc=$?
    check "an output made during the run: status $rc, want 1" test "$rc" = 1
    check "an output made during the run was replaced" test "$(cat b1.txt.lacz)" = precious
    grep -q "b1.txt.lacz: appeared while lacgpu ran: not overwritten (use -f)" late_err.txt ||
        fail "an output made during the run: $(cat late_err.txt)"
else
    wait "$pid"
    skip "b1.txt was compressed before its temporary file was seen: the late-output check"
fi
no_leftovers
cp a.txt d.txt
ln -s nowhere d.txt.lacz
expect 1 L d.txt && err_has "d.txt.lacz: already exists (a symbolic link to nothing"
check "a dangling link at the output was replaced without -f" test -L d.txt.lacz
expect 0 L -f d.txt && check "-f: the dangling link is replaced" test -f d.txt.lacz -a ! -L d.txt.lacz
# --rm and a symbolic link: refused before any work (the link could not be removed after it)
cp a.txt target.txt
ln -s target.txt link.txt
expect 1 L --rm link.txt && err_has "link.txt: is a symbolic link: --rm removes only regular files"
check "--rm link: an output was written" test ! -e link.txt.lacz
check "--rm link: the link or its target is gone" test -L link.txt -a -f target.txt
# names up to NAME_MAX: the temporary name is cut to fit
long=$(printf 'n%.0s' $(seq 1 245))
cp a.txt "$long"
expect 0 L "$long" && check "a 245-byte name: no output" test -s "$long.lacz"
expect 0 L -d -f "$long.lacz" && check "a 245-byte name: round trip" cmp -s a.txt "$long"
no_leftovers

# ---- metadata: mode, mtime, atime, owner, both ways; stdin outputs 0644 minus umask ----------
cp a.txt m.txt
chmod 640 m.txt
touch -m -d '2020-01-02 03:04:05' m.txt
touch -a -d '2021-05-06 07:08:09' m.txt
if is_root; then chown 65534:65534 m.txt; fi
stamp() { stat -c '%a %Y %X %u %g' "$1"; }
want=$(stamp m.txt)
expect 0 L m.txt && check "compress: '$(stamp m.txt.lacz)' want '$want'" test "$(stamp m.txt.lacz)" = "$want"
mv m.txt m.orig
expect 0 L -d m.txt.lacz && check "decompress: '$(stamp m.txt)' want '$want'" test "$(stamp m.txt)" = "$want"
is_root || note "not root: owner kept only as far as the group allows"
expect 0 bash -c "umask 022; '$LACGPU' -m '$MODEL' -o s1.lacz - <a.txt"
check "stdin output mode $(stat -c %a s1.lacz), want 644" test "$(stat -c %a s1.lacz)" = 644
expect 0 bash -c "umask 027; '$LACGPU' -m '$MODEL' -d -o s1.out - <s1.lacz"
check "stdin output mode $(stat -c %a s1.out), want 640" test "$(stat -c %a s1.out)" = 640
finish
