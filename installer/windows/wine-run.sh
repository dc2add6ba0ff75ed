#!/usr/bin/env bash
# Runs one Windows program under Debian's wine64: the CMake toolchain's
# CMAKE_CROSSCOMPILING_EMULATOR, so ctest in the Windows build runs each test .exe here.
# Absolute Linux paths in the arguments and in the PS_* variables the tests read become
# Z: paths (wine maps Z: to /), which is what a Windows program can open.
# WINEPREFIX defaults to <build>/wine beside the program; scripts/test.sh keeps one
# wineserver up for the whole stage so each start costs a fraction of a second.
set -euo pipefail
WINE64=${WINE64:-/usr/lib/wine/wine64}
exe=$1
shift
if [ -z "${WINEPREFIX:-}" ]; then
    dir=$(cd "$(dirname "$exe")" && pwd)
    # The build directory is the one with CMakeCache.txt above the program.
    while [ "$dir" != / ] && [ ! -f "$dir/CMakeCache.txt" ]; do dir=$(dirname "$dir"); done
    [ "$dir" = / ] && dir=$(cd "$(dirname "$exe")" && pwd)
    export WINEPREFIX=$dir/wine
fi
export WINEDEBUG=${WINEDEBUG:--all}
export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
for v in PS_TEST_DATA PS_SOURCE_DIR PS_BINARY_DIR PS_SAMPLES; do
    val=${!v:-}
    case $val in /*) export "$v=Z:$val" ;; esac
done
args=()
for a in "$@"; do
    case $a in /*) args+=("Z:$a") ;; *) args+=("$a") ;; esac
done
exec "$WINE64" "$exe" "${args[@]}"
