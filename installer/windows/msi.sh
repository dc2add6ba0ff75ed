#!/usr/bin/env bash
# Builds podstream.msi from a Windows build: installer/windows/msi.sh BUILD_DIR [OUT]
# (default OUT: BUILD_DIR/podstream-<version>-x64.msi, the version of project() in
# CMakeLists.txt). wixl (msitools) builds podstream.wxs; msibuild then adds what
# wixl 0.101 cannot write:
#   Environment                     the install folder appended to the system PATH
#   MsiServiceConfig                delayed automatic start, the unrestricted service
#                                   SID, the preshutdown timeout, recovery on error exits
#   MsiServiceConfigFailureActions  restart after 10 s, 60 s, 5 min; reset after a day
# and the standard actions that apply them (WriteEnvironmentStrings,
# RemoveEnvironmentStrings, MsiConfigureServices), at their standard sequence numbers.
# An upgrade removes the old version right after InstallValidate (wixl would put it
# after InstallFiles), so the service is deleted and installed afresh; podstream.yml's
# component gets NeverOverwrite (128, beside 64-bit 256), which wixl 0.101 cannot
# write, so an existing podstream.yml is never replaced, edited or not.
# These are the settings `podstream service install` makes (ps_plat_svcctl_win32.c).
# A build linked against DLLs (MSYS2, .github/workflows/windows.yml) puts them, and
# any data files they need, in BUILD_DIR/runtime/: they go beside podstream.exe.
# The cross build (installer/windows/build.sh) links statically and has none.
# The desktop app goes in only as a bundle that runs on its own (its DLLs under bin/,
# GLib's and GTK's data under share/, as installer/windows/gtk-bundle.sh makes one):
# PS_MSI_GUI_BUNDLE=DIR installs DIR as Program Files\podstream\gui.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: msi.sh BUILD_DIR [OUT.msi]}" && pwd)
exe=$build/service/podstream.exe
gui=${PS_MSI_GUI_BUNDLE:-}
[ -f "$exe" ] || { echo "msi.sh: $exe is missing (build the Windows tree first)" >&2; exit 1; }
[ -z "$gui" ] || [ -f "$gui/bin/podstream-gui.exe" ] ||
    { echo "msi.sh: $gui/bin/podstream-gui.exe is missing (PS_MSI_GUI_BUNDLE)" >&2; exit 1; }
# PS_MSI_VERSION overrides it (tests/windows/test_msi_wine.sh builds an "upgrade").
version=${PS_MSI_VERSION:-$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt" 2>/dev/null || true)}
[ -n "$version" ] || version=$(sed -n 's/^project(podstream VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
out=${2:-$build/podstream-$version-x64.msi}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# wixl takes Source paths relative to where it runs: stage the files under those names.
mkdir -p "$tmp/examples"
ln -s "$exe" "$tmp/podstream.exe"
ln -s "$here/podstream.yml" "$tmp/podstream.yml"
ln -s "$here/podstream-gui.ico" "$tmp/podstream.ico"
cp -r "$src/examples/config/." "$tmp/examples/"
# The tray icon (tray/, issue #18), when the build made it.
tray=
if [ -f "$build/tray/podstream-tray.exe" ]; then
    tray=yes
    ln -s "$build/tray/podstream-tray.exe" "$tmp/podstream-tray.exe"
fi
fragments=()
runtime=
if [ -d "$build/runtime" ] && [ -n "$(ls -A "$build/runtime")" ]; then
    runtime=yes
    cp -r "$build/runtime" "$tmp/runtime"
    (cd "$tmp" && find runtime -type f | sort |
        wixl-heat --prefix runtime/ --directory-ref INSTALLDIR --component-group Runtime \
            --var var.RuntimeDir --win64 >runtime.wxs)
    fragments+=(runtime.wxs)
fi
if [ -n "$gui" ]; then
    cp -r "$gui" "$tmp/gui"
    (cd "$tmp" && find gui -type f | sort |
        wixl-heat --prefix gui/ --directory-ref GUIDIR --component-group Gui --var var.GuiDir \
            --win64 >gui.wxs)
    fragments+=(gui.wxs)
fi
(cd "$tmp" && wixl -a x64 -D Version="$version" -D Gui="${gui:+yes}" -D GuiDir=gui -D Tray="$tray" \
    -D Runtime="$runtime" -D RuntimeDir=runtime -D Win64=yes -o podstream.msi \
    "$here/podstream.wxs" "${fragments[@]}")

# .idt files: column names, column types, then the table name and its key columns.
tab=$'\t'
idt() { local IFS=$tab; printf '%s\r\n' "$*"; }
{
    idt Environment Name Value Component_
    idt s72 l255 L255 s72
    idt Environment Environment
    # = set at install, - remove at uninstall, * system variable; [~]; appends.
    idt PATH '=-*PATH' '[~];[INSTALLDIR]' Service
} >"$tmp/Environment.idt"
{
    idt MsiServiceConfig Name Event ConfigType Argument Component_
    idt s72 s255 i2 i4 S0 s72
    idt MsiServiceConfig MsiServiceConfig
    # Event 1: at install. ConfigType: the SERVICE_CONFIG_* level.
    idt DelayedStart podstream 1 3 1 Service       # DELAYED_AUTO_START_INFO: on
    idt FailureFlag podstream 1 4 1 Service        # FAILURE_ACTIONS_FLAG: on error exits too
    idt ServiceSid podstream 1 5 1 Service         # SERVICE_SID_INFO: unrestricted
    idt Preshutdown podstream 1 7 30000 Service    # PRESHUTDOWN_INFO: 30 s
} >"$tmp/MsiServiceConfig.idt"
{
    idt MsiServiceConfigFailureActions Name Event ResetPeriod RebootMessage Command Actions \
        DelayActions Component_
    idt s72 s255 i2 I4 L255 L255 S255 S255 s72
    idt MsiServiceConfigFailureActions MsiServiceConfigFailureActions
    # Action 1 = SC_ACTION_RESTART; delays in ms.
    idt Restart podstream 1 86400 '' '' '1[~]1[~]1' '10000[~]60000[~]300000' Service
} >"$tmp/MsiServiceConfigFailureActions.idt"
# The tray's Run entry only with TRAYAUTOSTART=1 (wixl 0.101 cannot write a
# component's condition).
if [ -n "$tray" ]; then
    (cd "$tmp" && msibuild podstream.msi \
        -q "UPDATE Component SET Condition = 'TRAYAUTOSTART = 1' WHERE Component = 'TrayAutostart'")
fi
(cd "$tmp" && msibuild podstream.msi -i Environment.idt -i MsiServiceConfig.idt \
    -i MsiServiceConfigFailureActions.idt \
    -q "INSERT INTO InstallExecuteSequence (Action, Condition, Sequence) VALUES ('RemoveEnvironmentStrings', '', 3300)" \
    -q "INSERT INTO InstallExecuteSequence (Action, Condition, Sequence) VALUES ('WriteEnvironmentStrings', '', 5200)" \
    -q "INSERT INTO InstallExecuteSequence (Action, Condition, Sequence) VALUES ('MsiConfigureServices', 'VersionNT>=600', 5850)" \
    -q "UPDATE InstallExecuteSequence SET Sequence = 1401 WHERE Action = 'RemoveExistingProducts'" \
    -q "UPDATE Component SET Attributes = 384 WHERE Component = 'Config'")
mv "$tmp/podstream.msi" "$out"
echo "msi.sh: $out ($version)"
