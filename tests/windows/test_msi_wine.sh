#!/usr/bin/env bash
# podstream.msi under wine's Windows Installer, in a wine prefix of its own:
#   msiexec /i /qn   the files, %ProgramData%\podstream with podstream.yml, the key
#                    (keygen custom action), the service registered with its Event
#                    Log source, PATH; `podstream.exe service status` answers;
#   upgrade          a newer MSI (same files, version +1) keeps the changed
#                    podstream.yml, the key and the database, and the service;
#   msiexec /x /qn   the program, the service and PATH go; the data stays.
# What wine cannot show: see test_service_wine.sh and docs/windows.md (wine's
# msiexec does not apply MsiServiceConfig/MsiServiceConfigFailureActions; the tables
# are checked by test_msi_tables.sh instead).
# Usage: test_msi_wine.sh [MSI]  (default: the newest podstream-*-x64.msi in
# $PS_WIN_BUILD, else build-win); the build directory must hold service/podstream.exe.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PS_WIN_BUILD:-$root/build-win}
msi=$(realpath "${1:-$(ls -t "$build"/podstream-*-x64.msi 2>/dev/null | head -n1 || true)}")
[ -f "$msi" ] || { echo "FAIL: no MSI (run installer/windows/build.sh)" >&2; exit 1; }
build=$(dirname "$msi")
tmp=$(mktemp -d /tmp/ps_msi_wine.XXXXXX)
# shellcheck source=tests/windows/wine_lib.sh
. "$(dirname "$0")/wine_lib.sh"
trap 'wine_stop; [ -n "${PS_KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
wine_start

pf=$WINEPREFIX/drive_c/Program\ Files/podstream
pd=$WINEPREFIX/drive_c/ProgramData/podstream
exe='C:\Program Files\podstream\podstream.exe'
envkey='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
svckey='HKLM\System\CurrentControlSet\Services\podstream'

wexec install 0 msiexec /i "$(winpath "$msi")" /qn /l*v "$(winpath "$tmp/install.log")"
for f in "$pf/podstream.exe" "$pf/examples/podstream.yml" "$pf/examples/device-proofpoint.yml" \
    "$pd/podstream.yml"; do
    n=$((n + 1))
    [ -f "$f" ] || fail "not installed: ${f#"$WINEPREFIX"/}"
done
n=$((n + 1))
if [ ! -d "$pd/devices" ] || [ ! -d "$pd/pipelines" ]; then fail "no devices\\ or pipelines\\ in ProgramData"; fi
n=$((n + 1))
[ -s "$pd/podstream.key" ] || fail "the keygen custom action made no key"
wexec path 0 reg query "$envkey" /v PATH
has "$last.stdout" 'C:\\Program Files\\podstream\\?'
wexec service-key 0 reg query "$svckey" /v ImagePath
# Windows Installer quotes the program's path; wine's msiexec does not (its
# CreateProcess copes with the spaces).
has "$last.stdout" 'ImagePath +REG_(EXPAND_)?SZ +"?C:\\Program Files\\podstream\\podstream\.exe"? run -c "C:\\ProgramData\\podstream"$'

wexec eventlog-source 0 reg query 'HKLM\System\CurrentControlSet\Services\EventLog\Application\podstream' /v EventMessageFile
has_text "$last.stdout" "$exe"
wexec status 0 "$exe" service status
has_text "$last.stdout" "Service:   podstream"
has_text "$last.stdout" "Account:   NT SERVICE\\podstream"
has "$last.stdout" "^State:     (running|start pending|stopped)"
cp "$last.stdout" "$tmp/status-after-install.txt"

# The admin's changes, a database and the key survive an upgrade.
echo "# changed by the admin" >>"$pd/podstream.yml"
mkdir -p "$pd/data" && echo "not really a database" >"$pd/data/podstream.db"
key_sum=$(sha256sum <"$pd/podstream.key")
next=$(basename "$msi" | sed -n 's/^podstream-\([0-9]*\)\.\([0-9]*\)\.\([0-9]*\)-x64\.msi$/\1.\2.\3/p')
[ -n "$next" ] || next=0.1.0
newer=$(echo "$next" | awk -F. '{ printf "%d.%d.%d", $1, $2, $3 + 1 }')
PS_MSI_VERSION=$newer "$root/installer/windows/msi.sh" "$build" "$tmp/podstream-$newer-x64.msi" >/dev/null
wexec upgrade 0 msiexec /i "$(winpath "$tmp/podstream-$newer-x64.msi")" /qn /l*v "$(winpath "$tmp/upgrade.log")"
has_text "$pd/podstream.yml" "# changed by the admin"
has_text "$pd/data/podstream.db" "not really a database"
n=$((n + 1))
[ "$(sha256sum <"$pd/podstream.key")" = "$key_sum" ] || fail "the upgrade replaced the key"
n=$((n + 1))
[ -f "$pf/podstream.exe" ] || fail "the upgrade removed podstream.exe"
wexec status-upgraded 0 "$exe" service status
has_text "$last.stdout" "Service:   podstream"
# The old product was removed, the new one registered.
code() { msiinfo export "$1" Property | tr -d '\r' | awk -F'\t' '$1 == "ProductCode" { print $2 }'; }
old_code=$(code "$msi")
new_code=$(code "$tmp/podstream-$newer-x64.msi")
uninst='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
wexec old-product-gone 1 reg query "$uninst\\$old_code"
wexec new-product 0 reg query "$uninst\\$new_code" /v DisplayVersion
has_text "$last.stdout" "$newer"

# RMM/GPO tools uninstall by product code.
wexec uninstall 0 msiexec /x "$new_code" /qn /l*v "$(winpath "$tmp/uninstall.log")"
n=$((n + 1))
[ ! -e "$pf/podstream.exe" ] || fail "podstream.exe is still there after uninstall"
for f in "$pd/podstream.yml" "$pd/podstream.key" "$pd/data/podstream.db"; do
    n=$((n + 1))
    [ -f "$f" ] || fail "uninstall removed ${f#"$WINEPREFIX"/}"
done
wexec service-key-gone 1 reg query "$svckey"
wexec path-after 0 reg query "$envkey" /v PATH
hasnt "$last.stdout" 'Program Files\\podstream'

echo "after install, podstream.exe service status said:"
sed 's/^/    /' "$tmp/status-after-install.txt"
finish test_msi_wine
