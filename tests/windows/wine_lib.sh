# shellcheck shell=bash disable=SC2154
# Helpers for the wine tests of tests/windows (sourced). Each test gets a wine prefix
# of its own under $tmp (the MSI and the service manager change the prefix), stops
# its wineserver at the end, and checks like tests/cli/cli_lib.sh:
#   wrun NAME RC ARGS...   runs podstream.exe ARGS under wine; stdout/stderr in
#                          $last.stdout/.stderr; a failure unless it exits RC
#   has FILE REGEX / has_text FILE TEXT / hasnt FILE REGEX / finish NAME
# The caller sets $tmp and $exe (podstream.exe, a Linux path) first.
WINE64=${WINE64:-/usr/lib/wine/wine64}
WINESERVER=${WINESERVER:-/usr/lib/wine/wineserver64}
[ -x "$WINESERVER" ] || WINESERVER=$(command -v wineserver || echo /usr/lib/wine/wineserver)
export WINEPREFIX=$tmp/prefix WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=mscoree,mshtml=
n=0
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
# A Linux path as a Windows program sees it (wine maps Z: to /).
winpath() { printf 'Z:%s' "$(realpath -m "$1" | tr / '\\')"; }
# One wineserver (and so one service manager) for the whole test: a manager that
# starts again starts every automatic service again, podstream included. Wine's
# manager starts the automatic services while the prefix boots, and a service started
# meanwhile can get into a race with them (its start times out, error 1053, and an
# MSI that starts it rolls back): wait WINE_SETTLE seconds until the boot has
# settled. Windows has no such race.
wine_start() {
    "$WINESERVER" -p >/dev/null 2>&1 || true
    # The service manager's own messages (WINEDEBUG=+service) land here.
    "$WINE64" wineboot -i >"$tmp/wineboot.log" 2>&1 || true
    sleep "${WINE_SETTLE:-15}"
}
wine_stop() {
    "$WINESERVER" -k >/dev/null 2>&1 || true
}
# wexec NAME RC PROGRAM ARGS...: any Windows program (msiexec, reg, sc, a path).
wexec() {
    local name=$1 want=$2
    shift 2
    n=$((n + 1))
    last="$tmp/$n-$name"
    set +e
    "$WINE64" "$@" >"$last.stdout" 2>"$last.stderr"
    rc=$?
    set -e
    tr -d '\r' <"$last.stdout" >"$last.out" && mv "$last.out" "$last.stdout"
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, expected $want ($*)"
        sed 's/^/    stdout: /' "$last.stdout" >&2
        sed 's/^/    stderr: /' "$last.stderr" >&2
    fi
}
wrun() {
    local name=$1 want=$2
    shift 2
    wexec "$name" "$want" "$exe" "$@"
}
has() { grep -Eq -- "$2" "$1" || { fail "$(basename "$1"): no line matches '$2'"; sed 's/^/    /' "$1" >&2; }; }
has_text() {
    grep -qF -- "$2" "$1" || { fail "$(basename "$1") lacks: $2"; sed 's/^/    /' "$1" >&2; }
}
hasnt() { ! grep -Eq -- "$2" "$1" || fail "$(basename "$1"): a line matches '$2'"; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds (quietly), else false.
wait_for() {
    local until=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || return 1
        sleep 0.5
    done
}
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$1: $fails of $n checks failed" >&2
        exit 1
    fi
    echo "$1: $n runs, all checks passed"
}
