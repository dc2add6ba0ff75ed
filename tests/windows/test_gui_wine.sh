#!/usr/bin/env bash
# podstream-gui.exe under wine64 (issue #18): the Linux window test (tests/gui/
# test_gui_window.c, cross-built beside the app) runs from inside the Windows bundle that
# installer/windows/gtk-bundle.sh made, on a private X server, with the cairo renderer:
# it starts the real window on the fixture configuration and database, drives it through
# its actions page by page and saves a PNG of each page into $PS_WIN_BUILD/gui-screenshots/
# (docs/images/windows/ holds copies).
# The GTK stack is cross-built by installer/windows/gtk.sh BUILD_DIR, a separate command (a
# cold build takes tens of minutes: docs/windows.md). Without its cached prefix in the
# Windows build directory this test says so and passes; with it, gtk.sh (warm: the exe and
# the bundle only) runs first.
# Usage: test_gui_wine.sh [WIN_BUILD_DIR]   (default: $PS_WIN_BUILD, else build-win)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-${PS_WIN_BUILD:-$root/build-win}}")
if ! compgen -G "$build/gtk-*/prefix/.complete" >/dev/null; then
    echo "test_gui_wine: skipped: no GTK prefix in $build (installer/windows/gtk.sh $build builds it)"
    exit 0
fi
command -v Xvfb >/dev/null || { echo "FAIL: Xvfb is missing (scripts/install-deps.sh)" >&2; exit 1; }
"$root/installer/windows/gtk.sh" "$build"
tmp=$(mktemp -d /tmp/ps_gui_wine.XXXXXX)
# shellcheck source=tests/windows/wine_lib.sh
. "$(dirname "$0")/wine_lib.sh"
trap 'wine_stop; [ -n "${PS_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT

# The test program beside the app's own DLLs, as podstream-gui.exe finds them.
cp -a "$build/gui-bundle" "$tmp/app"
x86_64-w64-mingw32-strip -o "$tmp/app/bin/test_gui_window.exe" \
    "$build/gui/tests/gui/test_gui_window.exe"
shots=$build/gui-screenshots
rm -rf "$shots"

# One private X server of 1366x768 (the size the app must fit, as on Linux) for the whole
# test: wine's desktop process stays bound to the display it started on.
for d in $(seq 140 199); do [ -e "/tmp/.X11-unix/X$d" ] || break; done
Xvfb ":$d" -screen 0 1366x768x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
xvfb=$!
trap 'wine_stop; kill $xvfb 2>/dev/null; [ -n "${PS_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
wait_for 20 test -e "/tmp/.X11-unix/X$d" || { echo "FAIL: Xvfb :$d did not start" >&2; exit 1; }
export DISPLAY=:$d GSK_RENDERER=cairo GTK_A11Y=none
PS_TEST_DATA=$(winpath "$root/tests/data")
PS_BINARY_DIR=$(winpath "$build")
export PS_TEST_DATA PS_BINARY_DIR
"$WINESERVER" -p >/dev/null 2>&1 || true

wexec version 0 "$tmp/app/bin/podstream-gui.exe" --version
has "$last.stdout" '^podstream-gui [0-9]'

# The window test, driven step by step as on Linux; its PNGs land in $shots.
n=$((n + 1))
set +e
# Steps 1-11 take about a minute; a crash starts winedbg, which waits: the timeout ends it.
timeout 240 "$WINE64" "$tmp/app/bin/test_gui_window.exe" >"$tmp/window.out" 2>"$tmp/window.err"
rc=$?
set -e
tr -d '\r' <"$tmp/window.out" | sed 's/^/    /'
# Known gap (docs/windows.md): after step 11 (the editor's check) the app crashes in Pango
# (pango_font_get_hb_font on a NULL font) under wine; the steps before it must pass.
if [ $rc -ne 0 ]; then
    echo "test_gui_wine: KNOWN GAP: test_gui_window.exe exit $rc:" \
        "$(grep -a -m1 -E 'Unhandled|FAIL' "$tmp/window.err" || true)"
fi
has "$tmp/window.out" '^ok 11: '
for page in devices events trace editor; do
    [ -s "$shots/gui-$page.png" ] || fail "no screenshot of the $page page ($shots/gui-$page.png)"
done
finish test_gui_wine
