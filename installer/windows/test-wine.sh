#!/usr/bin/env bash
# The Windows stage of scripts/test.sh: builds podstream.exe and the unit tests
# (installer/windows/build.sh), then, under one wineserver kept up for the whole stage:
#   1. every unit test and fuzz replay of the Windows build, under wine64 (ctest);
#   2. every tests/windows/test_*.sh and test_*.py: the stream test against podsim on
#      Linux (test_wine_stream.py), and the installer and service tests.
# Known gaps are listed, with their reason, in installer/windows/wine-known-failures.txt:
# those tests still run, and are reported, but do not fail the stage.
#
# Usage: installer/windows/test-wine.sh [WIN_BUILD_DIR [LINUX_BUILD_DIR]]
#   defaults: build-win, and build (for podsim, which runs on Linux)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(realpath -m "${1:-$root/build-win}")
linux_build=$(realpath -m "${2:-$root/build}")
jobs=$(nproc)
t_all=$SECONDS

"$here/build.sh" "$build"

export WINEPREFIX=$build/wine WINEDEBUG=-all
# No Mono or Gecko installer prompts: podstream needs neither.
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINE64=/usr/lib/wine/wine64 WINESERVER=/usr/lib/wine/wineserver64
export WINE_RUN=$here/wine-run.sh
export PODSTREAM_EXE=$build/service/podstream.exe
export PS_WIN_BUILD=$build
export PODSIM=${PODSIM:-$linux_build/tests/podsim/podsim}
export PODSIM_GEN_CERTS=$root/tests/podsim/gen-certs.sh
mkdir -p "$WINEPREFIX"

t=$SECONDS
"$WINESERVER" -p 2>/dev/null || true  # already up for this prefix: reuse it
trap '"$WINESERVER" -k 2>/dev/null || true' EXIT
# The first start creates the prefix (about 10 s); later ones reuse it.
"$WINE64" wineboot --init >"$build/wineboot.log" 2>&1
echo "test-wine: wine prefix ready in $((SECONDS - t))s ($WINEPREFIX)"

known=()
while read -r name _; do
    case $name in ''|'#'*) continue ;; esac
    known+=("$name")
done <"$here/wine-known-failures.txt"
known_re=$(IFS='|'; echo "${known[*]:-}")

failed=0
t=$SECONDS
if [ -n "$known_re" ]; then
    ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600 -E "^($known_re)\$" \
        || failed=1
    echo "test-wine: known gaps (wine-known-failures.txt), run for the record:"
    ctest --test-dir "$build" -j "$jobs" --timeout 600 -R "^($known_re)\$" || true
else
    ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600 || failed=1
fi
echo "test-wine: unit tests under wine took $((SECONDS - t))s"

# tests/windows/: each script on its own; what they need comes from the environment above.
for test in "$root"/tests/windows/test_*.sh "$root"/tests/windows/test_*.py; do
    [ -e "$test" ] || continue
    name=$(basename "$test")
    t=$SECONDS
    case $test in
        *.py) cmd=(/usr/bin/python3 "$test") ;;
        *) cmd=(bash "$test") ;;
    esac
    if "${cmd[@]}"; then
        echo "test-wine: $name passed ($((SECONDS - t))s)"
    elif printf '%s\n' "${known[@]}" | grep -qxF "${name%.*}"; then
        echo "test-wine: $name FAILED, a known gap (wine-known-failures.txt)"
    else
        echo "test-wine: $name FAILED ($((SECONDS - t))s)"
        failed=1
    fi
done

echo "test-wine: the Windows stage took $((SECONDS - t_all))s"
if [ $failed -ne 0 ]; then
    echo "test-wine: FAILED" >&2
    exit 1
fi
echo "test-wine: all Windows tests passed"
