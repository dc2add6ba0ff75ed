#!/usr/bin/env bash
# Cross-builds podstream for 64-bit Windows on Debian 12 with mingw-w64:
#   1. deps.sh: OpenSSL, libcurl (WebSockets), libyaml, cJSON, SQLite (FTS5), zstd, zlib,
#      libdeflate, PCRE2 and cmocka from Debian's source packages into a cached static prefix
#      (BUILD_DIR/deps-<key>/prefix; a warm run skips this);
#   2. CMake with cmake/toolchain-mingw64.cmake: common/, service/ (podstream.exe,
#      statically linked: it needs no DLL beyond Windows' own) and the unit tests, which
#      `ctest --test-dir BUILD_DIR` runs under wine64;
#   3. installer/windows/msi.sh BUILD_DIR, when that script exists (the MSI).
# Prints how long each phase took. Tests: installer/windows/test-wine.sh.
#
# Usage: installer/windows/build.sh [BUILD_DIR]     (default: build-win in the source tree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(realpath -m "${1:-$root/build-win}")
jobs=$(nproc)
mkdir -p "$build"
# One build of a directory at a time (two would race on the deps prefix).
exec 9>"$build/.build.lock"
flock 9

t_all=$SECONDS
times=()
took() { times+=("$(printf '%-10s %5ds' "$1" $((SECONDS - $2)))"); }

t=$SECONDS
prefix=$("$here/deps.sh" "$build")
took deps $t

t=$SECONDS
# pkg-config results are cached: a new deps prefix (new pins) needs a fresh configure.
fresh=()
if [ -f "$build/CMakeCache.txt" ] && ! grep -qxF "PS_WIN_DEPS:UNINITIALIZED=$prefix" \
    "$build/CMakeCache.txt"; then
    fresh=(--fresh)
fi
cmake "${fresh[@]}" -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-mingw64.cmake" -DPS_WIN_DEPS="$prefix" \
    -DPS_BENCH=OFF >"$build/configure.log" 2>&1 || { tail -40 "$build/configure.log" >&2; exit 1; }
took configure $t

t=$SECONDS
cmake --build "$build" -j "$jobs"
took build $t

# The MSI (wixl), and anything else that packages the build, hooks in here.
if [ -x "$here/msi.sh" ]; then
    t=$SECONDS
    "$here/msi.sh" "$build"
    took msi $t
fi

echo "build.sh: $build/service/podstream.exe"
for line in "${times[@]}"; do echo "build.sh: $line"; done
printf 'build.sh: %-10s %5ds\n' total $((SECONDS - t_all))
