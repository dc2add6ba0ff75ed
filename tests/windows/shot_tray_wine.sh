#!/usr/bin/env bash
# Regenerates the tray screenshots of docs/windows.md (docs/images/windows-tray-*.png):
# podstream-tray.exe under wine in wine's virtual desktop, whose taskbar has a
# notification area, on the databases tests/unit/tray/tray_fixture.exe writes (live,
# backing off, device error, stopped). For each state the mouse rests on the icon until
# the tooltip shows; for the live one the right button opens the menu too.
# Wine's taskbar is not Windows': the real notification area, its overflow and the
# balloons look different. Not part of CI (about 40 s, a third of it wine's boot).
# Needs Xvfb (xvfb), xdotool and optipng; the screen is read from Xvfb's frame buffer
# file (-fbdir, XWD format), so no ImageMagick.
# Usage: shot_tray_wine.sh [WIN_BUILD_DIR [OUT_DIR]]
#        (defaults: $PS_WIN_BUILD, else build-win; docs/images)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-${PS_WIN_BUILD:-$root/build-win}}")
out=$(realpath -m "${2:-$root/docs/images}")
# The desktop fills this screen; the icon is the notification area's first, at its right end.
width=1024
height=600
icon_x=$((width - 11))
icon_y=$((height - 10))
if [ -z "${PS_SHOT_FB:-}" ]; then
    fb=$(mktemp -d /tmp/ps_tray_shot_fb.XXXXXX)
    trap 'rm -rf "$fb"' EXIT
    PS_SHOT_FB=$fb xvfb-run -a -s "-screen 0 ${width}x${height}x24 -fbdir $fb" "$0" "$build" "$out"
    exit $?
fi
for t in xdotool optipng; do
    command -v "$t" >/dev/null || { echo "shot_tray_wine: $t is not installed" >&2; exit 1; }
done
exe=$build/tray/podstream-tray.exe
fixture=$build/tests/unit/tray/tray_fixture.exe
for f in "$exe" "$fixture"; do
    [ -f "$f" ] || { echo "shot_tray_wine: $f is missing (installer/windows/build.sh)" >&2; exit 1; }
done
mkdir -p "$out"
tmp=$(mktemp -d /tmp/ps_tray_shot.XXXXXX)
# shellcheck source=tests/windows/wine_lib.sh
. "$(dirname "$0")/wine_lib.sh"
writer_pid=
stop_writer() {
    [ -z "$writer_pid" ] || { kill "$writer_pid" 2>/dev/null || true; wait "$writer_pid" 2>/dev/null || true; }
    writer_pid=
}
trap 'stop_writer; wine_stop; [ -n "${PS_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
WINE_SETTLE=${WINE_SETTLE:-5} wine_start
# Every program of the prefix in one virtual desktop: the tray there, and `--close`
# finding its window there.
"$WINE64" reg add 'HKCU\Software\Wine\Explorer' /v Desktop /d podstream /f >/dev/null 2>&1
"$WINE64" reg add 'HKCU\Software\Wine\Explorer\Desktops' /v podstream /d "${width}x${height}" \
    /f >/dev/null 2>&1

# png NAME X Y W H: that part of the screen, as NAME.png in OUT_DIR.
png() {
    /usr/bin/python3 - "$PS_SHOT_FB/Xvfb_screen0" "$out/$1.png" "$2" "$3" "$4" "$5" <<'EOF'
import struct, sys, zlib
src, dst = sys.argv[1], sys.argv[2]
x0, y0, w, h = (int(v) for v in sys.argv[3:7])
d = open(src, "rb").read()
# XWD header: size, version, format, depth, width, height, ..., bits per pixel (11),
# bytes per line (12), ..., colour map entries (19). Xvfb's 24-bit screen: BGRX words.
head = struct.unpack(">25I", d[:100])
if head[11] != 32:
    sys.exit("shot_tray_wine: the screen is not 32 bits per pixel")
at, line = head[0] + head[19] * 12, head[12]
raw = bytearray()
for y in range(y0, y0 + h):
    px = d[at + y * line + x0 * 4 : at + y * line + (x0 + w) * 4]
    raw.append(0)
    for i in range(0, len(px), 4):
        raw += bytes((px[i + 2], px[i + 1], px[i]))
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
with open(dst, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))
EOF
    optipng -quiet -o2 "$out/$1.png"
}

# shoot SCENARIO NAME FIRST_LINE: the tray on tray_fixture's SCENARIO, its tooltip
# captured as windows-tray-NAME.png once the hidden window's title (the tooltip)
# starts with FIRST_LINE.
shoot() {
    local state=$1 name=$2 first=$3 db
    db=$(winpath "$tmp/$state.db")
    "$WINE64" "$fixture" "$db" "$state" >"$tmp/fixture-$state.log" 2>&1
    # Counters kept fresh while the tray reads them, as a running service does.
    if [ "$state" != stale ]; then
        "$WINE64" "$fixture" "$db" "$state" 120 >>"$tmp/fixture-$state.log" 2>&1 &
        writer_pid=$!
    fi
    "$WINE64" "$exe" --db "$db" >"$tmp/tray-$state.log" 2>&1 &
    wait_for 60 xdotool search --name "^$first" ||
        { echo "shot_tray_wine: no tray window says '$first' ($state)" >&2; exit 1; }
    # The tooltip follows the pointer's arrival over the icon.
    xdotool mousemove 0 0
    sleep 1
    xdotool mousemove "$icon_x" "$icon_y"
    sleep 3
    png "windows-tray-$name" $((width - 400)) $((height - 80)) 400 80
    if [ "$state" = live ]; then
        xdotool click 3
        sleep 2
        png windows-tray-menu $((width - 200)) $((height - 150)) 200 150
        # A click elsewhere closes the menu (its modal loop would hold the close back).
        xdotool mousemove $((width / 2)) $((height / 2)) click 1
        sleep 1
    fi
    "$WINE64" "$exe" --close >"$tmp/close-$state.log" 2>&1 ||
        { echo "shot_tray_wine: the tray did not close ($state)" >&2; cat "$tmp/close-$state.log" >&2; exit 1; }
    stop_writer
}

shoot live live "podstream: live"
shoot backoff backoff "podstream: backing off"
shoot unauth error "podstream: device error"
shoot stale stopped "podstream: service not installed"
ls -l "$out"/windows-tray-*.png
