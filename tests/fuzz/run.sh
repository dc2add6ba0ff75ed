#!/usr/bin/env bash
# Runs libFuzzer targets of a PS_FUZZ build, one at a time, each on a scratch copy of
# its corpus and kept crash inputs (tests/fuzz/corpus/<name>, regress/<name>), so the
# corpus in git only grows by hand. A crash input is written to $FUZZ_ARTIFACTS
# (default: the scratch dir, printed) and the script fails.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]    NAME: event, spool, ... (default: all)
#
# scripts/test.sh runs every target for a few seconds; for a long run of one:
#   nice -n 19 tests/fuzz/run.sh build-fuzz 600 codec
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
secs=$2
shift 2
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in "$here"/fuzz_*.c; do
        n=$(basename "$f" .c)
        names+=("${n#fuzz_}")
    done
fi
scratch=$(mktemp -d /tmp/ps_fuzz_run.XXXXXX)
artifacts=${FUZZ_ARTIFACTS:-$scratch/artifacts}
mkdir -p "$artifacts"
failed=0
for n in "${names[@]}"; do
    bin=$build/tests/fuzz/fuzz_$n
    [ -x "$bin" ] || { echo "run.sh: $bin is not built (--target fuzzers)" >&2; exit 2; }
    mkdir -p "$scratch/$n"
    cp "$here/corpus/$n/"* "$scratch/$n/"
    if [ -d "$here/regress/$n" ]; then cp "$here/regress/$n/"* "$scratch/$n/"; fi
    dict=()
    if [ -f "$here/fuzz_$n.dict" ]; then dict=(-dict="$here/fuzz_$n.dict"); fi
    # -malloc_limit_mb: an input must not make the code allocate what it claims.
    if "$bin" -max_total_time="$secs" -max_len=16384 -malloc_limit_mb=512 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$n-" "${dict[@]}" "$scratch/$n" >"$scratch/$n.log" 2>&1; then
        echo "fuzz_$n: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$scratch/$n.log" | tail -1)"
    else
        echo "fuzz_$n: FAILED; the input is in $artifacts, the log is $scratch/$n.log:" >&2
        grep -E 'ERROR|SUMMARY|Test unit written' "$scratch/$n.log" >&2 || tail -20 "$scratch/$n.log" >&2
        failed=1
    fi
done
if [ "$failed" = 0 ]; then rm -rf "$scratch"; fi
exit "$failed"
