#!/usr/bin/env bash
# podstream.msi as built by installer/windows/msi.sh, read back with msitools
# (msiinfo export): the files, the service and how it is configured and
# controlled, PATH, the key's custom action, the upgrade rules and the sequence
# that applies them. No wine needed: this checks what Windows Installer will be
# told to do. Usage: test_msi_tables.sh [MSI]  (default: the newest
# podstream-*-x64.msi in $PS_WIN_BUILD, else build-win)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PS_WIN_BUILD:-$root/build-win}
msi=${1:-$(ls -t "$build"/podstream-*-x64.msi 2>/dev/null | head -n1 || true)}
[ -f "$msi" ] || { echo "FAIL: no MSI (run installer/windows/build.sh)" >&2; exit 1; }
msi=$(realpath "$msi")
version=$(sed -n 's/^project(podstream VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")

fails=0
n=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
tmp=$(mktemp -d /tmp/ps_msi_tables.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Exporting a table with binary columns (Icon) writes them to ./<table>/: do it in a
# folder of its own, away from the source tree and from the exported tables.
table() {
    (mkdir -p "$tmp/bin" && cd "$tmp/bin" &&
        msiinfo export "$msi" "$1" 2>/dev/null | tr -d '\r' >"$tmp/$1") || true
}
# row TABLE TEXT: a row of TABLE holds TEXT exactly (tab-separated fields).
row() {
    n=$((n + 1))
    grep -qxF -- "$2" "$tmp/$1" || { fail "$1 lacks the row: $2"; sed 's/^/    /' "$tmp/$1" >&2; }
}
# has TABLE REGEX
has() {
    n=$((n + 1))
    grep -Eq -- "$2" "$tmp/$1" || { fail "$1: no row matches $2"; sed 's/^/    /' "$tmp/$1" >&2; }
}
T=$'\t'
for t in File Component ServiceInstall ServiceControl Environment CustomAction Registry \
    MsiServiceConfig MsiServiceConfigFailureActions InstallExecuteSequence Property Upgrade \
    CreateFolder Directory Icon; do
    table $t
done

# Files: the program in Program Files, podstream.yml in ProgramData, the examples.
has File "^podstream\.exe${T}Service${T}podstream\.exe${T}[0-9]+"
has File "^podstream\.yml${T}Config${T}podstream\.yml${T}"
has File "^example\.device\.yml${T}Examples${T}device-proofpoint\.yml${T}"
row Directory "INSTALLDIR${T}ProgramFiles64Folder${T}podstream"
row Directory "DATADIR${T}CommonAppDataFolder${T}podstream"
# Data is not component-owned: no ComponentId, so never removed by an uninstall; and
# NeverOverwrite (128): an existing podstream.yml stays as it is.
row Component "Config${T}${T}DATADIR${T}384${T}${T}podstream.yml"
has Component "^Service${T}\{[0-9A-F-]+\}${T}INSTALLDIR${T}"
row CreateFolder "DEVICESDIR${T}DevicesDir"

# The service: own process, automatic start, the virtual account, run -c DATADIR.
row ServiceInstall "podstream${T}podstream${T}podstream (Proofpoint On Demand log stream)${T}16${T}2${T}1${T}${T}${T}NT SERVICE\\podstream${T}${T}run -c \"[CommonAppDataFolder]podstream\"${T}Service${T}Streams Proofpoint On Demand log events into a local database."
# Stopped (waiting) at install and uninstall, deleted at uninstall; started after install.
row ServiceControl "podstream.stop${T}podstream${T}162${T}${T}1${T}Service"
row ServiceControl "podstream.start${T}podstream${T}1${T}${T}0${T}Service"
# What `podstream service install` also sets: delayed start, recovery, SID, preshutdown.
row MsiServiceConfig "DelayedStart${T}podstream${T}1${T}3${T}1${T}Service"
row MsiServiceConfig "FailureFlag${T}podstream${T}1${T}4${T}1${T}Service"
row MsiServiceConfig "ServiceSid${T}podstream${T}1${T}5${T}1${T}Service"
row MsiServiceConfig "Preshutdown${T}podstream${T}1${T}7${T}30000${T}Service"
row MsiServiceConfigFailureActions "Restart${T}podstream${T}1${T}86400${T}${T}${T}1[~]1[~]1${T}10000[~]60000[~]300000${T}Service"
# The Event Log source: messages in podstream.exe.
has Registry "${T}2${T}SYSTEM\\\\CurrentControlSet\\\\Services\\\\EventLog\\\\Application\\\\podstream\\\\?${T}EventMessageFile${T}\[#podstream\.exe\]${T}Service$"
has Registry "${T}TypesSupported${T}#7${T}Service$"

# PATH: appended at install, removed at uninstall, system-wide.
row Environment "PATH${T}=-*PATH${T}[~];[INSTALLDIR]${T}Service"

# The key: keygen as SYSTEM (deferred, no impersonation, exit code ignored).
row CustomAction "CreateKey${T}3154${T}podstream.exe${T}keygen --key-file \"[CommonAppDataFolder]podstream\\podstream.key\"${T}"

# The data folder's access list: `service protect` as SYSTEM, a failure fails the install.
row CustomAction "ProtectData${T}3090${T}podstream.exe${T}service protect -c \"[CommonAppDataFolder]podstream\"${T}"

# Upgrades: one UpgradeCode, older versions removed first, downgrades refused.
has Upgrade "^\{6ECFF017-91BD-461F-B066-FF8941960377\}${T}${T}${version}${T}"
row Property "ProductVersion${T}${version}"
row Property "UpgradeCode${T}{6ECFF017-91BD-461F-B066-FF8941960377}"
# The sequence: the old version goes right after InstallValidate; the key is made
# after the files and before the service is installed, configured and started.
seq() { awk -F'\t' -v a="$1" '$1 == a { print $3 }' "$tmp/InstallExecuteSequence"; }
for a in RemoveExistingProducts InstallValidate InstallFiles CreateKey InstallServices \
    MsiConfigureServices StartServices WriteEnvironmentStrings RemoveEnvironmentStrings; do
    n=$((n + 1))
    [ -n "$(seq $a)" ] || fail "InstallExecuteSequence lacks $a"
done
order() {
    n=$((n + 1))
    [ "$(seq "$1")" -lt "$(seq "$2")" ] 2>/dev/null || fail "$1 ($(seq "$1")) is not before $2 ($(seq "$2"))"
}
# The app's icon in Add or Remove Programs: installer/windows/podstream-gui.ico, as it is.
row Icon "podstream.ico${T}Icon.podstream.ico"
row Property "ARPPRODUCTICON${T}podstream.ico"
n=$((n + 1))
msiinfo extract "$msi" Icon.podstream.ico >"$tmp/icon.ico" 2>/dev/null || true
cmp -s "$tmp/icon.ico" "$root/installer/windows/podstream-gui.ico" ||
    fail "the MSI's icon is not installer/windows/podstream-gui.ico"

order InstallValidate RemoveExistingProducts
order RemoveExistingProducts InstallInitialize
order InstallFiles CreateKey
order CreateKey InstallServices
order CreateKey ProtectData
order ProtectData InstallServices
order InstallServices MsiConfigureServices
order MsiConfigureServices StartServices
row InstallExecuteSequence "CreateKey${T}NOT REMOVE~=\"ALL\"${T}$(seq CreateKey)"

if [ "$fails" -ne 0 ]; then
    echo "test_msi_tables: $fails of $n checks failed ($msi)" >&2
    exit 1
fi
echo "test_msi_tables: $n checks passed ($msi)"
