#!/usr/bin/env bash
# The generated completions. bash: sourced, then _podstream called with COMP_WORDS
# set, as bash's own completion does. fish: loaded and asked with `complete -C`.
# zsh: checked for syntax (zsh -n). Usage: check-completions.sh DIR ($PODSTREAM set).
set -uo pipefail
dir=$1
fail=0

# shellcheck disable=SC1091
source "$dir/podstream.bash"
# complete_words WORD...: what _podstream offers for the last word.
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _podstream
    printf '%s\n' "${COMPREPLY[@]}"
}
expect() { # expect "what" "word that must be offered" WORD...
    local what=$1 want=$2
    shift 2
    if ! complete_words "$@" | grep -xF -- "$want" >/dev/null; then
        echo "FAIL: bash: $what: '$want' not offered for: $*"
        fail=1
    fi
}
expect_not() {
    local what=$1 unwanted=$2
    shift 2
    if complete_words "$@" | grep -xF -- "$unwanted" >/dev/null; then
        echo "FAIL: bash: $what: '$unwanted' offered for: $*"
        fail=1
    fi
}

while read -r c; do
    expect "command list" "$c" podstream ""
    expect "help of every command" "--help" podstream "$c" "--"
done < <("$PODSTREAM" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF>1 {print $1}')
expect "command prefix" status podstream st
expect_not "command prefix" query podstream st
expect "option prefix" --format podstream query --fo
expect "choice value" debug podstream run --log-level ""
expect_not "choice value" --config podstream run --log-level ""
expect "action" test podstream pipeline ""
expect "action" list podstream pipeline l
expect "directory value" /etc podstream status -c /et
expect "help command" trace podstream help tr
expect "short option" -q podstream validate -

if command -v fish >/dev/null; then
    out=$(fish --no-config -c "source $dir/podstream.fish; complete -C 'podstream run --log-level '" 2>&1)
    grep -q '^debug' <<<"$out" || { echo "FAIL: fish: $out"; fail=1; }
    out=$(fish --no-config -c "source $dir/podstream.fish; complete -C 'podstream pipeline '" 2>&1)
    grep -q '^list' <<<"$out" || { echo "FAIL: fish: $out"; fail=1; }
else
    echo "note: fish not installed, podstream.fish not checked"
fi
if command -v zsh >/dev/null; then
    zsh -n "$dir/_podstream" || { echo "FAIL: zsh -n _podstream"; fail=1; }
else
    echo "note: zsh not installed, _podstream not checked"
fi
[ "$fail" -eq 0 ] && echo "completions: ok"
exit "$fail"
