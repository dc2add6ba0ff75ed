#!/usr/bin/env bash
# Makes installer/windows/podstream-gui.ico, the Windows icon of podstream-gui.exe (through
# podstream-gui.rc) and of the MSI (its Start-menu shortcut, Add/Remove Programs), from the
# app's own SVG (installer/linux/podstream-gui.svg): the sizes Windows picks from, 16, 24,
# 32 and 48 px as BMP images, 256 px as PNG. The .ico is committed: run this after changing
# the SVG. Needs rsvg-convert (librsvg2-bin) and icotool (icoutils).
# Usage: installer/windows/gen-gui-icon.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
svg=$here/../linux/podstream-gui.svg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for size in 16 24 32 48 256; do
    rsvg-convert -w "$size" -h "$size" -o "$tmp/$size.png" "$svg"
done
icotool -c -o "$here/podstream-gui.ico" "$tmp/16.png" "$tmp/24.png" "$tmp/32.png" \
    "$tmp/48.png" -r "$tmp/256.png"
icotool -l "$here/podstream-gui.ico"
