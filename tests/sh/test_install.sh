#!/usr/bin/env bash
# Issue 14, item 6: `cmake --install` into a temporary prefix gives what xz and zstd give: the
# programs (with unlacgpu and lacgpucat), man pages that render without warnings, lac.h, the
# static and the shared library (soname liblac.so.0, exporting exactly lac.h's functions),
# lac.pc, bash completion and the default model. A small C program built with
# `pkg-config --cflags --libs lac` round-trips a string through the shared library.
. "$(dirname "$0")/lib/common.sh"
SRC=${LAC_SOURCE_DIR:?}
BUILD=${LAC_BUILD_DIR:?}
P=$T/prefix
cmake --install "$BUILD" --prefix "$P" >install.log 2>&1 || { cat install.log; fail "cmake --install"; finish; exit 1; }
libdir=$(dirname "$(find "$P" -name lac.pc | head -1)")/..
for f in bin/lacgpu bin/unlacgpu bin/lacgpucat bin/weights_tools include/lac.h \
    share/man/man1/lacgpu.1 share/man/man1/weights_tools.1 share/man/man1/unlacgpu.1 \
    share/man/man1/lacgpucat.1 share/bash-completion/completions/lacgpu \
    share/bash-completion/completions/unlacgpu share/lacgpu/lac-tiny.lacm; do
    check "installed: $f" test -e "$P/$f"
done
for f in liblac.a liblac.so liblac.so.0 liblac.so.0.1.0 pkgconfig/lac.pc; do
    check "installed: lib/$f" test -e "$libdir/$f"
done
check "unlacgpu is not a link to lacgpu" test "$(readlink "$P/bin/unlacgpu")" = lacgpu

# ---- the shared library: soname, exported symbols = the functions of lac.h ------------------------
so=$libdir/liblac.so.0.1.0
check "soname" test "$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = liblac.so.0
grep -E '^[A-Za-z].*[ *]lac_[a-z0-9_]+\(' "$SRC/include/lac.h" | grep -vE '^(typedef|#)' |
    sed -E 's/.*[ *](lac_[a-z0-9_]+)\(.*/\1/' | sort -u >want.txt
nm -D --defined-only "$so" | awk '$2 ~ /^[TWDBRVi]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u >got.txt
checks=$((checks + 1))
cmp -s want.txt got.txt || fail "exported symbols differ from lac.h: $(diff want.txt got.txt | head -20)"
echo "liblac.so exports $(wc -l <got.txt) functions"

# ---- pkg-config and a C program against the shared library --------------------------------------
export PKG_CONFIG_PATH=$libdir/pkgconfig
check "pkg-config --modversion" test "$(pkg-config --modversion lac)" = 0.1.0
cat >demo.c <<'C'
#include <lac.h>
#include <stdio.h>
#include <string.h>
typedef struct { const char *p; size_t n, at; } src;
typedef struct { char buf[4096]; size_t n; } dst;
static long rd(void *c, void *b, size_t n) {
    src *s = c;
    size_t k = s->n - s->at < n ? s->n - s->at : n;
    memcpy(b, s->p + s->at, k);
    s->at += k;
    return (long)k;
}
static int wr(void *c, const void *b, size_t n) {
    dst *d = c;
    if (d->n + n > sizeof d->buf) return -1;
    memcpy(d->buf + d->n, b, n);
    d->n += n;
    return 0;
}
int main(int argc, char **argv) {
    const char *text = "Hello from a C program linked with -llac.\n";
    lac_model *m;
    lac_error err;
    if (argc < 2 || lac_model_open(argv[1], &m, &err)) { fprintf(stderr, "open: %s\n", err.msg); return 1; }
    lac_params p;
    lac_params_default(&p);
    p.engine.n_threads = 1;
    src s = {text, strlen(text), 0};
    static dst z, back;
    if (lac_compress(m, &p, rd, &s, wr, &z, NULL, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    src zs = {z.buf, z.n, 0};
    if (lac_decompress(m, &p, rd, &zs, wr, &back, NULL, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    lac_model_close(m);
    if (back.n != strlen(text) || memcmp(back.buf, text, back.n)) { fprintf(stderr, "differs\n"); return 1; }
    printf("round trip ok: %zu -> %zu bytes, liblac %s\n", strlen(text), z.n, LAC_VERSION_STRING);
    return 0;
}
C
checks=$((checks + 1))
# shellcheck disable=SC2046
san=""  # a sanitizer build's liblac.so needs its runtime in the program too
readelf -d "$so" | grep -q 'libasan' && san="-fsanitize=address,undefined"
if cc -Wall -Werror $san -o demo demo.c $(pkg-config --cflags --libs lac) 2>cc.txt; then
    readelf -d demo | grep -q 'NEEDED.*liblac.so.0' || fail "demo is not linked with liblac.so.0"
    LD_LIBRARY_PATH=$libdir expect 0 ./demo "$P/share/lacgpu/lac-tiny.lacm" && cat out.txt
else
    fail "cc with pkg-config: $(cat cc.txt)"
fi

# ---- the installed programs find the installed model; argv[0] modes ------------------------------
text >a.txt
expect 0 "$P/bin/lacgpu" --threads 1 -q a.txt && expect 0 "$P/bin/lacgpucat" --threads 1 a.txt.lacz &&
    check "installed lacgpucat" cmp -s out.txt a.txt
mv a.txt a.orig
expect 0 "$P/bin/unlacgpu" --threads 1 a.txt.lacz && check "installed unlacgpu" cmp -s a.txt a.orig

# ---- man pages render without warnings ------------------------------------------------------------
for page in lacgpu weights_tools; do
    checks=$((checks + 1))
    w=$(groff -man -ww -z -Tutf8 "$P/share/man/man1/$page.1" 2>&1)
    [ -z "$w" ] || fail "groff warnings in $page.1: $w"
    if command -v man >/dev/null 2>&1; then
        checks=$((checks + 1))
        MANWIDTH=80 man -l "$P/share/man/man1/$page.1" 2>man_err.txt | grep -q '^NAME' ||
            fail "man -l $page.1: $(head -3 man_err.txt)"
    fi
done
bash -n "$P/share/bash-completion/completions/lacgpu" || fail "bash completion: syntax"
finish
