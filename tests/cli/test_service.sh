#!/usr/bin/env bash
# `podstream service` (issue #14): on Linux every action says to use systemctl and
# exits 2, before touching anything; usage errors name the action or the option.
# The Windows side (install, start, status, stop, uninstall against a service
# control manager) runs under wine: tests/windows/test_service_wine.sh.
set -euo pipefail

: "${PODSTREAM:?set PODSTREAM to the podstream binary}"
tmp=$(mktemp -d /tmp/ps_cli_service.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tests/cli/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"

for a in install:"enable --now" uninstall:"disable --now" start:start stop:stop reload:reload \
    status:status; do
    action=${a%%:*}
    verb=${a#*:}
    run "linux-$action" 2 service "$action"
    has_text "$last.stderr" "podstream service: Windows services only"
    has_text "$last.stderr" "use 'systemctl $verb podstream' (see docs/operations.md)"
    [ ! -s "$last.stdout" ] || fail "linux-$action: printed to stdout"
done

run install-config 2 service install -c "$tmp/conf"
has_text "$last.stderr" "systemctl enable --now podstream"

run no-action 2 service
has_text "$last.stderr" "podstream service: expected an action: install, uninstall, start, stop, reload, status or protect"
run unknown-action 2 service restart
has_text "$last.stderr" "unknown action 'restart'; expected install, uninstall, start, stop, reload, status or protect"
run extra-argument 2 service start now
has_text "$last.stderr" "start: unexpected argument 'now'"
run config-not-install 2 service start -c "$tmp/conf"
has_text "$last.stderr" "-c/--config is for install and protect"

# protect works on both systems: here it is chmod 750 (Windows: a protected ACL,
# tests/windows/test_msi_wine.sh runs it through the MSI).
mkdir -m 755 "$tmp/conf"
run protect 0 service protect -c "$tmp/conf"
has_text "$last.stdout" "protected $tmp/conf: only the service and the administrators may read it"
[ "$(stat -c %a "$tmp/conf")" = 750 ] || fail "protect: mode $(stat -c %a "$tmp/conf")"
run protect-missing 1 service protect -c "$tmp/none"
has_text "$last.stderr" "cannot change the mode of $tmp/none: No such file or directory"
run bad-timeout 2 service stop --timeout 0
has "$last.stderr" "timeout"

run help 0 service --help
has "$last.stdout" '^usage: podstream service install \[-c DIR\]'
has "$last.stdout" 'NT SERVICE\\podstream'
run listed 0 --help
has "$last.stdout" '^  service +install, uninstall, start, stop, reload or show the Windows service'

finish test_service
