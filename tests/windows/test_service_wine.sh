#!/usr/bin/env bash
# `podstream.exe service install|start|status|reload|stop|uninstall` against wine's
# service control manager (issue #14), in a wine prefix of its own: the service
# really runs under the SCM (ps_plat_svc_run), writes its log file under
# %ProgramData%, reloads on PARAMCHANGE, drains on the SCM's stop and reports
# podstream's exit code; a configuration that cannot start is reported as the exit
# code 3 the service stopped with.
# What wine cannot show (docs/windows.md): the virtual account (wine runs every
# service as the calling user), delayed start and the recovery actions (stored, never
# acted on: wine does not reboot or restart services), the Application event log
# (wine's ReportEventW only traces), PRESHUTDOWN at a real shutdown.
# Usage: test_service_wine.sh [podstream.exe]  (default: $PODSTREAM_EXE, else
# build-win/service/podstream.exe)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exe=$(realpath "${1:-${PODSTREAM_EXE:-$root/build-win/service/podstream.exe}}")
[ -f "$exe" ] || { echo "FAIL: $exe is missing (installer/windows/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ps_svc_wine.XXXXXX)
# shellcheck source=tests/windows/wine_lib.sh
. "$(dirname "$0")/wine_lib.sh"
trap 'wine_stop; [ -n "${PS_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
wine_start

cfg=$tmp/cfg
mkdir -p "$cfg/devices" "$tmp/state"
# No device: the service starts and waits for one, as after an MSI install.
printf 'database: "%s"\nlog_level: info\n' "$(winpath "$tmp/state/podstream.db" | sed 's/\\/\\\\/g')" \
    >"$cfg/podstream.yml"
# %ProgramData%\podstream\logs\podstream.log; wine gives services C:\users\Public as
# %ProgramData% (C:\ProgramData for programs run from a shell).
logfile=$WINEPREFIX/drive_c/users/Public/podstream/logs/podstream.log
evkey='HKLM\System\CurrentControlSet\Services\EventLog\Application\podstream'

wrun status-absent 1 service status
has_text "$last.stdout" "Service:   podstream is not installed"
wrun start-absent 1 service start
has "$last.stderr" "podstream service: cannot open the service podstream: .*(1060)"

wrun install 0 service install -c "$(winpath "$cfg")"
has_text "$last.stdout" "installed the service podstream: runs as NT SERVICE\\podstream with the configuration in $(winpath "$cfg")"
cp "$last.stdout" "$tmp/install.out"
wrun install-again 1 service install -c "$(winpath "$cfg")"
has "$last.stderr" "cannot install the service podstream: .*(1073)"

# Wine's manager may already have started it (an automatic service, and wine starts
# those whenever its manager starts): begin from a stopped service.
wrun stop-first 0 service stop
wrun status-stopped 1 service status
has_text "$last.stdout" "State:     stopped"
has_text "$last.stdout" "Account:   NT SERVICE\\podstream"
has_text "$last.stdout" "Command:   \"$(winpath "$exe")\" run -c \"$(winpath "$cfg")\""
has "$last.stdout" "^Start:     auto( \(delayed\))?$"
wexec eventlog-source 0 reg query "$evkey" /v EventMessageFile
has_text "$last.stdout" "$(winpath "$exe")"

wrun start 0 service start --timeout 60
has_text "$last.stdout" "podstream: running"
wrun status-running 0 service status
has "$last.stdout" "^State:     running \(pid [0-9]+\)$"
wait_for 20 grep -q "starting: 0 device(s)" "$logfile" || fail "no start line in $logfile"
# PARAMCHANGE: the same reload as SIGHUP on Linux.
wrun reload 0 service reload
has_text "$last.stdout" "podstream: asked to reload its configuration"
wait_for 20 grep -q "configuration reloaded" "$logfile" || fail "no reload in $logfile"
has_text "$logfile" "reload request received: reloading the configuration"
# A second `run` beside the service: the database lock refuses it.
wrun second-run 1 run -c "$(winpath "$cfg")"
has "$last.stderr" "another podstream is already running on this database"

wrun stop 0 service stop --timeout 60
has_text "$last.stdout" "podstream: stopped"
wrun status-after-stop 1 service status
has_text "$last.stdout" "State:     stopped"
has_text "$last.stdout" "Last exit: 0"
cp "$logfile" "$tmp/service.log"
has "$tmp/service.log" "stop request received: draining and stopping"
has "$tmp/service.log" "stopped cleanly"

# A configuration that cannot start: the start fails with the service's exit code 3.
echo "retention_days: many" >>"$cfg/podstream.yml"
wrun start-broken 1 service start --timeout 60
has_text "$last.stderr" "stopped instead of starting (exit code 3)"
wrun status-broken 1 service status
has_text "$last.stdout" "Last exit: 3"
wait_for 10 grep -q "not starting" "$logfile" || fail "no configuration error in $logfile"

wrun uninstall 0 service uninstall
has_text "$last.stdout" "podstream: uninstalled (configuration, key and database kept)"
wrun status-gone 1 service status
has_text "$last.stdout" "is not installed"
wexec eventlog-source-gone 1 reg query "$evkey"
wrun uninstall-again 1 service uninstall
[ -f "$cfg/podstream.yml" ] || fail "uninstall removed the configuration"

sed 's/^/    /' "$tmp/install.out"
finish test_service_wine
