#!/usr/bin/env bash
# Every command answers --help and --version; bad use exits 2 with a clear message.
set -u
PODSTREAM=${PODSTREAM:?set PODSTREAM to the podstream binary}
fail=0
check() { # description, expected exit code, actual exit code
    if [ "$2" != "$3" ]; then echo "FAIL: $1: exit $3, expected $2"; fail=1; else echo "ok: $1"; fi
}
version_re='^podstream [0-9]+\.[0-9]+\.[0-9]+ \(libcurl [0-9.]+, SQLite [0-9.]+, OpenSSL'
for cmd in run validate query trace status pipeline keygen encrypt; do
    out=$("$PODSTREAM" "$cmd" --help 2>&1); rc=$?
    check "$cmd --help" 0 $rc
    case $out in *"usage: podstream $cmd"*) ;; *) echo "FAIL: $cmd --help prints no usage line"; fail=1 ;; esac
    out=$("$PODSTREAM" "$cmd" --version 2>&1); rc=$?
    check "$cmd --version" 0 $rc
    if ! printf '%s\n' "$out" | grep -Eq "$version_re"; then
        echo "FAIL: $cmd --version printed: $out"; fail=1
    fi
done
out=$("$PODSTREAM" --version); check "--version" 0 $?
printf '%s\n' "$out" | grep -Eq "$version_re" || { echo "FAIL: --version printed: $out"; fail=1; }
out=$("$PODSTREAM" nosuchcommand 2>&1); check "unknown command" 2 $?
case $out in *"unknown command 'nosuchcommand'"*) ;; *) echo "FAIL: unknown command message: $out"; fail=1 ;; esac
out=$("$PODSTREAM" 2>&1); check "no command" 2 $?
out=$("$PODSTREAM" run --no-such-option 2>&1); check "run with an unknown option" 2 $?
out=$("$PODSTREAM" run --log-level loud 2>&1); check "run --log-level loud" 2 $?
case $out in *"--log-level must be error, warn, info or debug"*) ;; *) echo "FAIL: $out"; fail=1 ;; esac
out=$("$PODSTREAM" run -c /nonexistent/podstream 2>&1); check "run on a missing config dir" 3 $?

# ---- one option parser for every command (issue #10) ---------------------------------
# usage_error NAME EXIT MESSAGE ARGS...: podstream ARGS exits EXIT and prints exactly
# "podstream CMD: MESSAGE" and the hint line, where CMD is the first of ARGS.
usage_error() {
    local name=$1 want=$2 msg=$3 got rc
    shift 3
    got=$("$PODSTREAM" "$@" 2>&1 </dev/null); rc=$?
    check "$name" "$want" $rc
    local expected="podstream $1: $msg
Run 'podstream $1 --help' for usage."
    if [ "$got" != "$expected" ]; then
        printf 'FAIL: %s printed:\n%s\nexpected:\n%s\n' "$name" "$got" "$expected"; fail=1
    fi
}
usage_error "status -qz names the letter" 2 "unknown option '-q'" status -qz
usage_error "run --bogus: one message" 2 "unknown option '--bogus'" run --bogus
usage_error "run --log-level without a value: one message" 2 "--log-level needs a value" \
    run --log-level
usage_error "run --log-level before an option" 2 \
    "--log-level needs a value (for a value that starts with --, write --log-level=VALUE)" \
    run --log-level --config /nonexistent
usage_error "validate -c ''" 2 "-c needs a value, not an empty string" validate -c ''
usage_error "query --config=''" 2 "--config needs a value, not an empty string" query --config=
usage_error "query --device too large" 2 \
    "--device: '99999999999999999999' is out of range: a device id is a whole number from 1 to 2147483647" \
    query --db /nonexistent.db --device 99999999999999999999
usage_error "query --device -1" 2 \
    "--device: '-1' is out of range: a device id is a whole number from 1 to 2147483647" \
    query --db /nonexistent.db --device -1
usage_error "query --qid ''" 2 "--qid needs a value, not an empty string" query --qid ''
usage_error "query --limit x" 2 "--limit: 'x' is not a whole number from 0 to 2147483647" \
    query --limit=x
usage_error "trace --width 10" 2 "--width: '10' is not a whole number from 60 to 1000" \
    trace --width 10 some-id
usage_error "query --type" 2 "--type must be message, maillog or audit, not 'mail'" \
    query --type mail
usage_error "query -fz" 2 "unknown option '-z'" query -fz
usage_error "pipeline -f is not --file" 2 "unknown option '-f'" pipeline test -f x.yml
usage_error "keygen --force=yes" 2 "--force takes no value" keygen --force=yes
usage_error "encrypt never repeats a value" 2 "unknown option (not shown, in case it is a secret)" \
    encrypt --device 7 -eyJhbGciOi.secret

# help COMMAND prints the command's help, not the general one.
for cmd in run validate query trace status pipeline keygen encrypt; do
    a=$("$PODSTREAM" help "$cmd" 2>&1); rc=$?
    check "help $cmd" 0 $rc
    b=$("$PODSTREAM" "$cmd" --help 2>&1)
    [ "$a" = "$b" ] || { echo "FAIL: 'podstream help $cmd' differs from '$cmd --help'"; fail=1; }
    case $a in "usage: podstream $cmd"*) ;; *) echo "FAIL: help $cmd: $a"; fail=1 ;; esac
    # Every help fits 80 columns.
    long=$(printf '%s\n' "$b" | awk 'length($0) > 80')
    [ -z "$long" ] || { echo "FAIL: $cmd --help has lines over 80 columns: $long"; fail=1; }
done
out=$("$PODSTREAM" help nosuchcommand 2>&1); check "help of an unknown command" 2 $?
case $out in "podstream: unknown command 'nosuchcommand'"*) ;; *) echo "FAIL: $out"; fail=1 ;; esac
out=$("$PODSTREAM" help); check "help alone" 0 $?
case $out in *"Commands:"*) ;; *) echo "FAIL: help alone: $out"; fail=1 ;; esac

# A short letter means the same long option in every command that has it.
letters=$(for cmd in run validate query trace status pipeline keygen encrypt; do
    "$PODSTREAM" "$cmd" --help | sed -n 's/^  \(-[A-Za-z]\), \(--[a-z-]*\).*/\1 \2/p'
done | sort -u)
dups=$(printf '%s\n' "$letters" | cut -d' ' -f1 | uniq -d)
[ -z "$dups" ] || { echo "FAIL: letters with two meanings: $(printf '%s\n' "$letters" | grep -F -- "$dups")"; fail=1; }
printf '%s\n' "$letters" | grep -qx -- '-f --follow' || { echo "FAIL: -f is not --follow"; fail=1; }
printf '%s\n' "$letters" | grep -qx -- '-F --file' || { echo "FAIL: -F is not --file"; fail=1; }

# --version and --help after other options, and -- ending the options.
out=$("$PODSTREAM" keygen --force --version); check "keygen --force --version" 0 $?
printf '%s\n' "$out" | grep -Eq "$version_re" || { echo "FAIL: keygen --force --version: $out"; fail=1; }
out=$("$PODSTREAM" status --utc -h); check "status --utc -h" 0 $?
case $out in "usage: podstream status"*) ;; *) echo "FAIL: status --utc -h: $out"; fail=1 ;; esac
usage_error "-- ends the options" 2 "unexpected argument '--version'" run -- --version

[ $fail -eq 0 ] && echo "test_cli: all checks passed"
exit $fail
