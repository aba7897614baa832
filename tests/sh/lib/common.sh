# Shared by the shell tests of lacgpu's command line (sourced): a temporary directory, the
# expect/err_has/fail/skip helpers and a small text. A test ends with `finish`: exit status 1
# when a check failed, else 77 when a check was skipped (ctest shows "Skipped", not
# "Passed"), else 0. Environment (set by ctest): LACGPU,
# LAC_DEFAULT_MODEL, LAC_SHARED.
set -u
LACGPU=${LACGPU:?LACGPU is not set}
SHARED=${LAC_SHARED:-$(dirname "$0")/../../../shared}
MODEL=${LAC_DEFAULT_MODEL:-}
unset LACGPU_MODEL LACGPU_DEVICE
export LACGPU_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/lacgpu-sh.XXXXXX")
cleanup_hooks=()
cleanup() {
    local h
    for h in "${cleanup_hooks[@]}"; do eval "$h"; done
    chmod -R u+rwx "$T" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1
failures=0
checks=0
skips=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
skip() { echo "SKIPPED: $*"; skips=$((skips + 1)); } # a check that cannot run here
note() { echo "note: $*"; }
# expect RC CMD...: runs CMD (stdout/stderr to out.txt/err.txt), checks its exit status.
expect() {
    local want=$1
    shift
    checks=$((checks + 1))
    "$@" >out.txt 2>err.txt
    local rc=$?
    if [ "$rc" != "$want" ]; then
        fail "exit $rc (want $want): $*"
        sed 's/^/    stderr: /' err.txt | head -5 >&2
        return 1
    fi
    return 0
}
# err_has TEXT: the last command's stderr contains TEXT, and every line is "lacgpu: ...".
err_has() {
    checks=$((checks + 1))
    grep -qF -- "$1" err.txt || { fail "stderr lacks '$1': $(head -c 300 err.txt)"; return 1; }
    if grep -qv '^lacgpu: ' err.txt; then fail "stderr line not 'lacgpu: ...': $(cat err.txt)"; fi
}
check() { # check DESCRIPTION TEST...
    local what=$1
    shift
    checks=$((checks + 1))
    "$@" || fail "$what"
}
no_leftovers() { # no temporary files under the directory
    checks=$((checks + 1))
    if find . -name '*lacgpu-*' | grep -q .; then fail "temporary files left: $(find . -name '*lacgpu-*')"; fi
}
# sigdfl CMD...: runs CMD with SIGINT at its default action (a script's background jobs start
# with SIGINT ignored) in a process group of its own.
sigdfl() {
    exec python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.setpgid(0, 0); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
is_root() { [ "$(id -u)" = 0 ]; }
finish() {
    echo "checks: $checks, failures: $failures, skipped: $skips"
    [ "$failures" = 0 ] || return 1
    [ "$skips" = 0 ] || return 77
}
need_model() {
    if [ -z "$MODEL" ] || [ ! -f "$MODEL" ]; then
        echo "the model ($MODEL) is missing: skipped"
        exit 77
    fi
}
L() { "$LACGPU" -m "$MODEL" --threads 1 "$@"; }
text() { # a few hundred bytes of English
    printf 'It was a bright cold day in April, and the clocks were striking thirteen. Winston\n'
    printf 'Smith, his chin nuzzled into his breast in an effort to escape the vile wind, slipped\n'
    printf 'quickly through the glass doors of Victory Mansions.\n'
}
short_text() { printf 'It was a bright cold day in April.\n'; } # a dozen tokens: cheap to decode
