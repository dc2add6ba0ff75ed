# Helpers for the CLI tests (sourced, not a test itself: ctest runs tests/cli/test_*.sh).
# The sourcing script sets $tmp (a scratch directory) first.
#   run NAME RC ARGS...   runs $PODSTREAM ARGS; stdout/stderr in $last.stdout/.stderr,
#                         and a failure unless it exits RC
#   has FILE REGEX        a failure unless a line of FILE matches REGEX (grep -E)
#   has_text FILE TEXT    a failure unless FILE contains the fixed string TEXT
#   hasnt FILE REGEX      a failure if one does
#   finish NAME           prints the summary; exits 1 after any failure
n=0
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
run() {
    local name=$1 want=$2
    shift 2
    n=$((n + 1))
    last="$tmp/$n-$name"
    set +e
    "$PODSTREAM" "$@" >"$last.stdout" 2>"$last.stderr"
    rc=$?
    set -e
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, expected $want (podstream $*)"
        sed 's/^/    stdout: /' "$last.stdout" >&2
        sed 's/^/    stderr: /' "$last.stderr" >&2
    fi
}
has() { grep -Eq -- "$2" "$1" || fail "$(basename "$1"): no line matches '$2'"; }
has_text() {
    grep -qF -- "$2" "$1" || { fail "$(basename "$1") lacks: $2"; sed 's/^/    /' "$1" >&2; }
}
hasnt() { ! grep -Eq -- "$2" "$1" || fail "$(basename "$1"): a line matches '$2'"; }
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$1: $fails of $n checks failed" >&2
        exit 1
    fi
    echo "$1: $n runs, all checks passed"
}
