#!/usr/bin/env bash
# The tray icon in podstream.msi (issue #18), read back with msitools: the file, the
# Start-menu shortcut, and the Run entry that starts it with every user's session
# only when the admin installs with TRAYAUTOSTART=1. No wine needed.
# Usage: test_tray_msi.sh [MSI]  (default: the newest podstream-*-x64.msi in
# $PS_WIN_BUILD, else build-win)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PS_WIN_BUILD:-$root/build-win}
msi=${1:-$(ls -t "$build"/podstream-*-x64.msi 2>/dev/null | head -n1 || true)}
[ -f "$msi" ] || { echo "FAIL: no MSI (run installer/windows/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ps_tray_msi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
table() { msiinfo export "$msi" "$1" 2>/dev/null | tr -d '\r' >"$tmp/$1" || true; }
has() {
    n=$((n + 1))
    grep -Eq -- "$2" "$tmp/$1" || { fail "$1: no row matches $2"; sed 's/^/    /' "$tmp/$1" >&2; }
}
for t in Component File Shortcut Registry FeatureComponents; do table "$t"; done
tab=$'\t'
has File "^podstream_tray\.exe${tab}Tray${tab}podstream-tray\.exe${tab}"
has Component "^Tray${tab}[^$tab]*${tab}INSTALLDIR${tab}"
has Component "^TrayAutostart${tab}[^$tab]*${tab}INSTALLDIR${tab}[0-9]+${tab}TRAYAUTOSTART = 1${tab}"
has Registry "${tab}2${tab}Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run${tab}podstream-tray${tab}\"\[INSTALLDIR\]podstream-tray\.exe\"${tab}TrayAutostart$"
has Shortcut "^TrayStartMenu${tab}ProgramMenuFolder${tab}podstream tray${tab}TrayShortcut${tab}\[INSTALLDIR\]podstream-tray\.exe${tab}"
for c in Tray TrayAutostart TrayShortcut; do
    has FeatureComponents "^Complete${tab}${c}$"
done
if [ "$fails" -ne 0 ]; then
    echo "test_tray_msi: $fails of $n checks failed" >&2
    exit 1
fi
echo "test_tray_msi: $n checks passed"
