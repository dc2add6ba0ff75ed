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
[ $fail -eq 0 ] && echo "test_cli: all checks passed"
exit $fail
