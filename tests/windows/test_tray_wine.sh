#!/usr/bin/env bash
# podstream-tray.exe under wine (issue #18), in a wine prefix of its own, with no
# podstream service installed: databases written by tests/unit/tray/tray_fixture.exe
# (counters as a running service writes them), read by `--print-state` (icon,
# tooltip); then the real tray: it starts on a private X server (wine needs one for
# any window), reads the database on its own timer, refuses a second instance, and
# exits cleanly on `--close`, which prints what it showed; then the MSI writes the
# tray's Run entry only when installed with TRAYAUTOSTART=1.
# What wine cannot show (docs/windows.md): the icon in a real notification area, the
# balloon, the menu, the UAC prompt of start/stop/restart.
# Usage: test_tray_wine.sh [WIN_BUILD_DIR]  (default: $PS_WIN_BUILD, else build-win)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-${PS_WIN_BUILD:-$root/build-win}}")
# Any window needs an X server under wine: run on a private one.
if [ -z "${DISPLAY:-}" ]; then
    exec xvfb-run -a -s "-screen 0 1024x768x24" "$0" "$build"
fi
exe=$build/tray/podstream-tray.exe
fixture=$build/tests/unit/tray/tray_fixture.exe
for f in "$exe" "$fixture"; do
    [ -f "$f" ] || { echo "FAIL: $f is missing (installer/windows/build.sh)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/ps_tray_wine.XXXXXX)
# shellcheck source=tests/windows/wine_lib.sh
. "$(dirname "$0")/wine_lib.sh"
trap 'wine_stop; [ -n "${PS_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
# The prefix settles first (wine_lib.sh): a window made while wine's boot still
# starts its services can wait a long time for them.
wine_start

# A healthy service: both devices live, the newest error in the tooltip's second line.
db=$(winpath "$tmp/live.db")
wexec fixture-live 0 "$fixture" "$db" live
wrun print-live 0 --print-state --db "$db"
has_text "$last.stdout" "icon: live"
has_text "$last.stdout" 'tooltip: podstream: live, 42 events/s\npod-us: connection reset by peer'
has_text "$last.stdout" "events_per_s: 42.2"

# A device the POD side refuses: the error icon.
db=$(winpath "$tmp/unauth.db")
wexec fixture-unauth 0 "$fixture" "$db" unauth
wrun print-unauth 0 --print-state --db "$db"
has_text "$last.stdout" "icon: error"
has_text "$last.stdout" 'tooltip: podstream: device error, 42 events/s\npod-apac: HTTP 401: token refused'

# Counters ten minutes old and no service: stopped.
db=$(winpath "$tmp/stale.db")
wexec fixture-stale 0 "$fixture" "$db" stale
wrun print-stale 0 --print-state --db "$db"
has_text "$last.stdout" "icon: stopped"
has_text "$last.stdout" "tooltip: podstream: service not installed"

# No database at all: said in the tooltip, not a crash.
wrun print-missing 0 --print-state --db "$(winpath "$tmp/none/podstream.db")"
has_text "$last.stdout" "icon: stopped"
hasnt "$last.stdout" "events_per_s: [1-9]"

# The tray itself: reads on its timer, one per session, closes on request.
db=$(winpath "$tmp/live.db")
# A running service's counters, rewritten every second while the tray watches.
"$WINE64" "$fixture" "$db" live 120 >"$tmp/writer.log" 2>&1 &
writer_pid=$!
wrun close-none 1 --close
has_text "$last.stderr" "no tray icon runs in this session"
set +e
timeout 300 "$WINE64" "$exe" --db "$db" >"$tmp/tray.stdout" 2>"$tmp/tray.stderr" &
tray_pid=$!
set -e
# Its window exists, and its first read is in, a few seconds after the start.
sleep 6
# A second start in the same session exits at once (a hung one is killed after 30 s).
set +e
timeout 30 "$WINE64" "$exe" --db "$db" >/dev/null 2>&1
rc=$?
set -e
n=$((n + 1))
[ "$rc" -eq 0 ] || fail "a second tray exited $rc, expected 0 at once"
# --close finds the window once the tray made it.
for _ in $(seq 1 60); do
    "$WINE64" "$exe" --close >"$tmp/close.stdout" 2>"$tmp/close.stderr" && break
    sleep 1
done
n=$((n + 1))
tr -d '\r' <"$tmp/close.stdout" >"$tmp/close.out"
has_text "$tmp/close.out" 'closing: podstream: live, 42 events/s\npod-us: connection reset by peer'
set +e
wait "$tray_pid"
tray_rc=$?
set -e
[ "$tray_rc" -eq 0 ] || { fail "the tray exited $tray_rc after --close"; cat "$tmp/tray.stderr" >&2; }
wrun close-gone 1 --close
kill "$writer_pid" 2>/dev/null || true
wait "$writer_pid" 2>/dev/null || true

# The MSI (built by build.sh): the tray's Run entry only with TRAYAUTOSTART=1.
msi=$(ls -t "$build"/podstream-*-x64.msi 2>/dev/null | head -n1 || true)
if [ -n "$msi" ]; then
    run='HKLM\Software\Microsoft\Windows\CurrentVersion\Run'
    wexec msi-install 0 msiexec /i "$(winpath "$msi")" /qn
    wexec run-absent 1 reg query "$run" /v podstream-tray
    wexec msi-uninstall 0 msiexec /x "$(winpath "$msi")" /qn
    wexec msi-install-autostart 0 msiexec /i "$(winpath "$msi")" /qn TRAYAUTOSTART=1
    wexec run-present 0 reg query "$run" /v podstream-tray
    has_text "$last.stdout" '"C:\Program Files\podstream\podstream-tray.exe"'
    # Wine's msiexec /x leaves the value behind (Windows removes it with its
    # component); test_tray_msi.sh checks that the component owns it.
    wexec msi-uninstall-autostart 0 msiexec /x "$(winpath "$msi")" /qn
else
    echo "test_tray_wine: no MSI in $build: the installer's part is not tested" >&2
fi

finish test_tray_wine
