#!/usr/bin/env bash
# podstream-gui.exe under wine64 (issue #18): the Linux window test (tests/gui/
# test_gui_window.c, cross-built beside the app) runs from inside the Windows bundle that
# installer/windows/gtk-bundle.sh made, on a private X server, with the cairo renderer:
# it starts the real window on the fixture configuration and database, drives it through
# all its steps as on Linux and saves a PNG of each page, of the window's size, into
# $PS_WIN_BUILD/gui-screenshots/ (docs/images/windows-*.png are copies: docs/windows.md).
# The GTK stack is cross-built by installer/windows/gtk.sh BUILD_DIR, a separate command
# (a cold build takes about an hour: docs/windows.md). Without the prefix of this version
# of the stack (gtk.sh --print-prefix) this test says so and passes; with it, gtk.sh
# (warm: the exe and the bundle only) runs first. The bundle's exe must carry its icon.
# Usage: test_gui_wine.sh [WIN_BUILD_DIR]   (default: $PS_WIN_BUILD, else build-win)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-${PS_WIN_BUILD:-$root/build-win}}")
gtk_sh=$root/installer/windows/gtk.sh
# (--print-prefix runs deps.sh, which builds the service's deps when they are missing:
# only asked where gtk.sh has run before.)
prefix=
if compgen -G "$build/gtk-*/prefix/.complete" >/dev/null; then
    prefix=$("$gtk_sh" --print-prefix "$build" 2>/dev/null) || prefix=
fi
if [ -z "$prefix" ] || [ ! -f "$prefix/.complete" ]; then
    echo "test_gui_wine: skipped: the GTK stack of this version is not built" \
        "(${prefix:-no prefix}); 'installer/windows/gtk.sh $build' builds it once"
    exit 0
fi
command -v Xvfb >/dev/null || { echo "FAIL: Xvfb is missing (scripts/install-deps.sh)" >&2; exit 1; }
# Wine's own Tahoma (Debian's fonts-wine): wine's message font, which GTK takes as its own.
fonts=/usr/share/wine/fonts
[ -f "$fonts/tahoma.ttf" ] || { echo "FAIL: $fonts/tahoma.ttf is missing (fonts-wine)" >&2; exit 1; }
"$gtk_sh" "$build"
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

# The icon Explorer, the Start menu and the taskbar show: a group icon in the exe.
wrestool -l --type=14 "$tmp/app/bin/podstream-gui.exe" >"$tmp/icon.txt" 2>&1 || true
has "$tmp/icon.txt" '--type=14 .*--name=1 '

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
"$WINE64" wineboot -i >"$tmp/wineboot.log" 2>&1 || true

# GDK names the system's message font (Tahoma under wine, Segoe UI on Windows) as GTK's
# font, and Pango finds fonts through DirectWrite, which knows only the fonts registered
# under ...\CurrentVersion\Fonts. Debian's wine puts no font of its own there: GTK 4.8
# then asks for "(NULL) 8", every text is drawn as boxes, sizes run wild and the app
# crashes in Pango. Windows always has its message font registered.
cp "$fonts/tahoma.ttf" "$fonts/tahomabd.ttf" "$WINEPREFIX/drive_c/windows/Fonts/"
for f in "Tahoma:tahoma.ttf" "Tahoma Bold:tahomabd.ttf"; do
    wexec font 0 reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\Fonts' \
        /v "${f%%:*} (TrueType)" /d "${f#*:}" /f
done

wexec version 0 "$tmp/app/bin/podstream-gui.exe" --version
has "$last.stdout" '^podstream-gui [0-9]'

# The window test, driven step by step as on Linux; its PNGs land in $shots. About a
# minute; a crash starts winedbg, which waits, and a hang waits too: the timeout ends both.
printf '#!/bin/sh\nexec timeout 300 %s "$@"\n' "$WINE64" >"$tmp/wine-timeout"
chmod +x "$tmp/wine-timeout"
WINE64=$tmp/wine-timeout wexec window 0 "$tmp/app/bin/test_gui_window.exe"
sed 's/^/    /' "$last.stdout"
has "$last.stdout" '^passed$'
hasnt "$last.stderr" 'CRITICAL.*(g_object_ref|pango_font_get_hb_font)'
# Each PNG has the window's size (the dialog's for a dialog), within the screen.
png_size() {
    od -An -tu1 -j16 -N8 "$1" |
        awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4, (($5 * 256 + $6) * 256 + $7) * 256 + $8 }'
}
for page in devices events trace editor token; do
    f=$shots/gui-$page.png
    [ -s "$f" ] || { fail "no screenshot of the $page page ($f)"; continue; }
    read -r w h < <(png_size "$f")
    if [ "$w" -le 600 ] || [ "$w" -gt 1366 ] || [ "$h" -le 400 ] || [ "$h" -gt 768 ]; then
        fail "$f is ${w}x${h}, not a window on a 1366x768 screen"
    fi
done
finish test_gui_wine
