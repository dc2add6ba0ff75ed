#!/usr/bin/env bash
# The generated man pages: one per command and podstream.yml(5), and every page
# formats without a single groff warning (man --warnings, at 80 columns as a
# terminal would). Usage: check-man-pages.sh MAN_DIR (with $PODSTREAM set).
set -euo pipefail
dir=$1
fail=0
export MANWIDTH=80
mapfile -t commands < <("$PODSTREAM" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF>1 {print $1}')
[ "${#commands[@]}" -gt 5 ] || { echo "no commands in podstream --help"; exit 1; }
for c in "${commands[@]}"; do
    [ -f "$dir/podstream-$c.1" ] || { echo "FAIL: no page for command $c"; fail=1; }
done
for page in "$dir"/podstream.1 "$dir"/podstream-*.1 "$dir"/podstream.yml.5; do
    warnings=$(man --warnings -E UTF-8 -l -Tutf8 "$page" 2>&1 >/dev/null || echo "man failed")
    if [ -n "$warnings" ]; then
        echo "FAIL: $page:"
        echo "$warnings"
        fail=1
    fi
done
# Each page carries every option of its command's --help.
for c in "${commands[@]}"; do
    text=$(man -l "$dir/podstream-$c.1" 2>/dev/null | col -b)
    for opt in $("$PODSTREAM" "$c" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
        grep -qe "$opt" <<<"$text" || { echo "FAIL: podstream-$c.1 lacks $opt"; fail=1; }
    done
done
grep -q 'retention_days' <(man -l "$dir/podstream.yml.5" | col -b) ||
    { echo "FAIL: podstream.yml.5 lacks retention_days"; fail=1; }
[ "$fail" -eq 0 ] && echo "man pages: ${#commands[@]} commands, no warnings"
exit "$fail"
