#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds podstream twice (optimised, and
# with AddressSanitizer + UndefinedBehaviorSanitizer), runs every test in both, then
# the linters (clang-format, clang-tidy, cppcheck).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600

# Sanitizer build: same tests, benchmarks excluded (their figures mean nothing under ASan).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPS_SANITIZE=ON -DPS_BENCH=OFF
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -LE nosan

# Fuzzers (HACKING.md, "Fuzzers"): both builds above replayed every corpus and kept
# crash input (label fuzz); here each libFuzzer target also fuzzes for 5 s.
CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPS_FUZZ=ON \
    -DPS_SANITIZE=ON -DPS_TESTS=OFF -DPS_BENCH=OFF
cmake --build build-fuzz -j "$jobs" --target fuzzers
tests/fuzz/run.sh build-fuzz 5

cmake --build build --target lint

# Windows (issue #14): the cross build (installer/windows/build.sh, its dependencies
# cached in build-win/deps-*), every unit test under wine64, then tests/windows/: the
# stream test against build/'s podsim, the MSI and the service tests.
installer/windows/test-wine.sh build-win build
echo "test.sh: all tests and checks passed"
