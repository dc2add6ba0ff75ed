#!/usr/bin/env bash
# The GUI's .deb, podstream-gui, built by CPack beside the service's from this build:
# its control data (version, Recommends podstream of the same version, Depends from
# dpkg-shlibdeps), contents and modes, no maintainer scripts, the .desktop file
# (desktop-file-validate), the man page (no groff warning), lintian; then both
# packages installed with dpkg -i into a throwaway Debian 12 root (mmdebstrap, cached
# per day in the build directory) where the installed podstream-gui --version runs,
# and every library it needs resolves; then removed.
# Usage: test_deb_gui.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d /tmp/ps-deb-gui-XXXXXX)
root=$work/root
cleanup() {
    for m in proc dev; do umount "$root/$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=installer/tests/deb_lib.sh
. "$(dirname "$0")/deb_lib.sh"

# ---- build --------------------------------------------------------------------
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log"; fail "cpack"; }
svc=$(ls "$work"/pkg/podstream_*.deb)
deb=$(ls "$work"/pkg/podstream-gui_*.deb)
echo "built $(basename "$svc") and $(basename "$deb")"

# ---- control data ------------------------------------------------------------------
version=$("$build/gui/podstream-gui" --version | awk '{print $2}')
[ "$version" = "$("$PODSTREAM" --version | awk '{print $2}')" ] ||
    fail "podstream-gui --version $version, podstream --version says otherwise"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = podstream-gui ] || fail "package name $(field Package)"
[ "$(field Version)" = "$version-1" ] || fail "package version $(field Version)"
[ "$(dpkg-deb -f "$svc" Version)" = "$version-1" ] || fail "service package version"
[ "$(field Recommends)" = "podstream (= $version-1)" ] || fail "Recommends: $(field Recommends)"
for lib in libgtk-4-1 libadwaita-1-0 libsqlite3-0 libc6; do
    field Depends | grep -qE "(^|, )$lib( |,|$)" || fail "Depends lacks $lib: $(field Depends)"
done
if field Depends | grep -qE 'adduser|init-system-helpers'; then
    fail "the service's Depends leaked into the GUI's: $(field Depends)"
fi
# sed, not head: under pipefail, head's early exit can fail the writer (SIGPIPE)
summary=$(field Description | sed -n 1p)
grep -q 'podstream' <<<"$summary" || fail "summary: $summary"
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work" --one-top-level=ctrl
for s in preinst postinst prerm postrm conffiles; do
    [ ! -e "$work/ctrl/$s" ] || fail "the GUI's package has $s"
done

# ---- contents and modes: exactly these files ----------------------------------------
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $2, $6}' | sort >"$work/contents"
sort >"$work/want" <<LIST
-rwxr-xr-x root/root ./usr/bin/podstream-gui
-rw-r--r-- root/root ./usr/share/applications/podstream-gui.desktop
-rw-r--r-- root/root ./usr/share/doc/podstream-gui/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/podstream-gui/copyright
-rw-r--r-- root/root ./usr/share/icons/hicolor/scalable/apps/podstream-gui.svg
-rw-r--r-- root/root ./usr/share/man/man1/podstream-gui.1.gz
-rw-r--r-- root/root ./usr/share/lintian/overrides/podstream-gui
LIST
diff -u "$work/want" "$work/contents" || fail "contents of $(basename "$deb")"
if dpkg-deb -c "$svc" | grep 'podstream-gui' >/dev/null; then fail "the service's package carries GUI files"; fi
dpkg-deb -x "$deb" "$work/x"
file "$work/x/usr/bin/podstream-gui" | grep -q ', stripped' || fail "binary not stripped"
desktop-file-validate "$work/x/usr/share/applications/podstream-gui.desktop" ||
    fail "desktop-file-validate"
icon=$(sed -n 's/^Icon=//p' "$work/x/usr/share/applications/podstream-gui.desktop")
[ -f "$work/x/usr/share/icons/hicolor/scalable/apps/$icon.svg" ] || fail "no icon $icon.svg"
exec_=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$work/x/usr/share/applications/podstream-gui.desktop")
[ -x "$work/x/usr/bin/$exec_" ] || fail "Exec=$exec_ is not in /usr/bin"
page=$work/x/usr/share/man/man1/podstream-gui.1.gz
warnings=$(MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 "$page" 2>&1 >/dev/null || echo "man failed")
[ -z "$warnings" ] || fail "podstream-gui.1: $warnings"
text=$(man -l "$page" 2>/dev/null | col -b)
for opt in $("$build/gui/podstream-gui" --help | sed -n '/^Application Options:/,/^$/p' |
    grep -oE -- '--[a-z-]+'); do
    grep -qe "$opt" <<<"$text" || fail "podstream-gui.1 lacks $opt"
done

# ---- lintian: no error or warning (overrides carry their reasons) ----------------------
lintian_clean "$deb"

# ---- a throwaway Debian root with both packages ------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: dpkg -i into a throwaway root needs root (chroot)"
    exit 0
fi
throwaway_root gui-bookworm "$svc" "$deb"
cp "$svc" "$root/tmp/podstream.deb"
cp "$deb" "$root/tmp/podstream-gui.deb"
in_root() { chroot "$root" "$@"; }

in_root dpkg -i /tmp/podstream.deb /tmp/podstream-gui.deb >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "dpkg -i"; }
echo "dpkg -i: both installed"
for f in usr/bin/podstream-gui usr/share/applications/podstream-gui.desktop \
    usr/share/icons/hicolor/scalable/apps/podstream-gui.svg; do
    [ -f "$root/$f" ] || fail "/$f missing after dpkg -i"
done
# No display in the root: --version needs none, and ldd shows each library resolved.
got=$(env -u DISPLAY -u WAYLAND_DISPLAY chroot "$root" podstream-gui --version 2>"$work/gui.err") ||
    { cat "$work/gui.err"; fail "podstream-gui --version in the root"; }
[ "$got" = "podstream-gui $version" ] || fail "podstream-gui --version: $got"
in_root ldd /usr/bin/podstream-gui >"$work/ldd.log" 2>&1 || { cat "$work/ldd.log"; fail "ldd"; }
if grep -q 'not found' "$work/ldd.log"; then
    grep 'not found' "$work/ldd.log"
    fail "libraries missing in the root"
fi
echo "installed podstream-gui: $got; $(grep -c '=>' "$work/ldd.log") libraries resolve"

in_root dpkg -r podstream-gui >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "remove"; }
[ ! -e "$root/usr/bin/podstream-gui" ] || fail "binary left after remove"
[ ! -e "$root/usr/share/applications/podstream-gui.desktop" ] || fail ".desktop left after remove"
[ -x "$root/usr/bin/podstream" ] || fail "removing the GUI removed the service"
echo "remove: ok"
echo "test_deb_gui: ok"
