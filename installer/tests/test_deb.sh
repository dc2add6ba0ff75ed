#!/usr/bin/env bash
# The .deb: built by CPack from this build, its control data, contents, modes and
# conffiles, maintainer scripts (shellcheck), lintian, then installed for real with
# dpkg -i into a throwaway Debian 12 root (mmdebstrap, cached per day in the build
# directory), upgraded over itself, removed and purged, checking owners and modes.
# systemd is not PID 1 in that root (nor on CI machines), so the unit is enabled but
# not started: tests/integration/test_notify.py covers the running service.
# With PODSIM, the installed service also runs for real in that root, as the service
# user and with the package's files, against podsim on this machine, and an admin in
# the podstream group reads its status while someone outside it cannot.
# Usage: test_deb.sh SOURCE_DIR BUILD_DIR [PODSIM GEN_CERTS]
set -euo pipefail
build=$2 # $1, the source directory, is not needed: the build has everything
podsim=${3:-}
gen_certs=${4:-}
work=$(mktemp -d /tmp/ps-deb-XXXXXX)
root=$work/root
sim_pid=
cleanup() {
    [ -z "$sim_pid" ] || kill "$sim_pid" 2>/dev/null || true
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
deb=$(ls "$work"/pkg/podstream_*.deb)
echo "built $(basename "$deb")"

# ---- control data ------------------------------------------------------------------
version=$("$PODSTREAM" --version | awk '{print $2}')
[ "$(dpkg-deb -f "$deb" Version)" = "$version-1" ] ||
    fail "package version $(dpkg-deb -f "$deb" Version), podstream --version $version"
[ "$(dpkg-deb -f "$deb" Package)" = podstream ] || fail "package name"
dpkg-deb -f "$deb" Depends | grep -q 'libcurl4' || fail "no libcurl4 dependency"
dpkg-deb -f "$deb" Depends | grep -q 'libmimalloc2.0' || fail "no libmimalloc2.0 dependency"
dpkg-deb -f "$deb" Depends | grep -q 'libdeflate0' || fail "no libdeflate0 dependency"
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work" --one-top-level=ctrl
[ "$(cat "$work/ctrl/conffiles")" = /etc/podstream/podstream.yml ] || fail "conffiles"
for s in postinst prerm postrm; do
    [ -x "$work/ctrl/$s" ] || fail "$s missing or not executable"
done
shellcheck -s sh "$work/ctrl/postinst" "$work/ctrl/prerm" "$work/ctrl/postrm" ||
    fail "shellcheck"

# ---- contents and modes ------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' >"$work/contents"
expect() { # mode owner path
    grep -qxF -e "$1 $2 ./$3" "$work/contents" || fail "want $1 $2 $3 in the package"
}
expect -rwxr-xr-x root/root usr/bin/podstream
expect -rw-r--r-- root/root etc/podstream/podstream.yml
expect -rw-r--r-- root/root lib/systemd/system/podstream.service
expect -rw-r--r-- root/root usr/lib/sysusers.d/podstream.conf
expect -rw-r--r-- root/root usr/lib/tmpfiles.d/podstream.conf
expect -rw-r--r-- root/root usr/share/man/man1/podstream.1.gz
expect -rw-r--r-- root/root usr/share/man/man1/podstream-run.1.gz
expect -rw-r--r-- root/root usr/share/man/man5/podstream.yml.5.gz
expect -rw-r--r-- root/root usr/share/bash-completion/completions/podstream
expect -rw-r--r-- root/root usr/share/zsh/vendor-completions/_podstream
expect -rw-r--r-- root/root usr/share/fish/vendor_completions.d/podstream.fish
expect -rw-r--r-- root/root usr/share/doc/podstream/copyright
expect -rw-r--r-- root/root usr/share/doc/podstream/changelog.Debian.gz
expect -rw-r--r-- root/root usr/share/doc/podstream/examples/podstream.yml
expect -rw-r--r-- root/root usr/share/doc/podstream/examples/devices/proofpoint.yml
# every man page the build generated is in it
for p in "$build"/man/*.[1-8]; do
    n=$(basename "$p")
    expect -rw-r--r-- root/root "usr/share/man/man${n##*.}/$n.gz"
done
# the binary is stripped
dpkg-deb -x "$deb" "$work/x"
file "$work/x/usr/bin/podstream" | grep -q ', stripped' || fail "binary not stripped"
if grep -q '/usr/local' "$work/x/lib/systemd/system/podstream.service"; then
    fail "unit names /usr/local"
fi

# ---- lintian: no error or warning (overrides carry their reasons) ----------------------
lintian_clean "$deb"

# ---- a throwaway Debian root -------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: dpkg -i into a throwaway root needs root (chroot)"
    exit 0
fi
throwaway_root bookworm "$deb"
cp "$deb" "$root/tmp/podstream.deb"
in_root() { chroot "$root" "$@"; }
mode_of() { in_root stat -c '%a %U:%G' "$1"; }
want_mode() { # path "mode owner:group"
    got=$(mode_of "$1") || fail "$1 missing"
    [ "$got" = "$2" ] || fail "$1 is $got, want $2"
}

in_root dpkg -i /tmp/podstream.deb >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "dpkg -i"; }
echo "dpkg -i: installed"
in_root getent passwd podstream | grep -q ':/var/lib/podstream:/usr/sbin/nologin$' ||
    fail "service user: $(in_root getent passwd podstream)"
in_root getent group podstream >/dev/null || fail "no podstream group"
want_mode /etc/podstream "750 root:podstream"
want_mode /etc/podstream/devices "750 root:podstream"
want_mode /etc/podstream/secrets "750 root:podstream"
want_mode /etc/podstream/podstream.key "600 podstream:podstream"
want_mode /var/lib/podstream "750 podstream:podstream"
[ -L "$root/etc/systemd/system/multi-user.target.wants/podstream.service" ] ||
    fail "the unit is not enabled"
[ "$(in_root podstream --version | awk '{print $2}')" = "$version" ] || fail "--version"
in_root runuser -u podstream -- podstream validate -c /etc/podstream >"$work/validate.log" 2>&1 ||
    { cat "$work/validate.log"; fail "validate as the service user"; }

# ---- the installed service, for real -------------------------------------------------
if [ -n "$podsim" ]; then
    mkdir -p "$work/certs"
    bash "$gen_certs" "$work/certs" >/dev/null 2>&1 || fail "gen-certs"
    "$podsim" --history 0 --initial-backlog 10m --rate 20 --port off --control-port 0 \
        --tls-port 0 --cert "$work/certs/server.pem" --key "$work/certs/server.key" \
        --port-file "$work/ports" --token "deb_cluster:deb-token-0123456789" -q \
        >"$work/podsim.log" 2>&1 &
    sim_pid=$!
    for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.1; done
    port=$(sed -E 's/.*"wss": *([0-9]+).*/\1/' "$work/ports")
    cp "$work/certs/ca.pem" "$root/etc/podstream/ca.pem"
    echo "tls_ca_file: /etc/podstream/ca.pem" >>"$root/etc/podstream/podstream.yml"
    cat >"$root/etc/podstream/devices/pod.yml" <<YML
devices:
  - id: 1
    name: deb-message
    type: proofpoint
    properties:
      endpoint: wss://127.0.0.1:$port/v1/stream
      cluster: deb_cluster
      token: "\$secret{pod-token}"
      type: message
YML
    printf 'deb-token-0123456789' >"$root/etc/podstream/secrets/pod-token"
    in_root chown podstream:podstream /etc/podstream/secrets/pod-token
    chmod 0600 "$root/etc/podstream/secrets/pod-token"
    in_root useradd -M -G podstream alice
    in_root useradd -M bob
    # As the unit runs it: the service user, UMask=0027.
    chroot "$root" runuser -u podstream -- sh -c 'umask 0027; exec podstream run -c /etc/podstream' \
        >"$work/run.log" 2>&1 &
    run_pid=$!
    live=
    for _ in $(seq 150); do
        if in_root runuser -u alice -- podstream status -c /etc/podstream 2>/dev/null |
            grep -qE '^1 deb-message +message +live +.* [1-9][0-9]* '; then
            live=1
            break
        fi
        sleep 0.2
    done
    [ -n "$live" ] || { cat "$work/run.log"; fail "the installed service did not stream"; }
    in_root runuser -u alice -- podstream status -c /etc/podstream | head -5
    want_mode /var/lib/podstream/podstream.db "640 podstream:podstream"
    want_mode /var/lib/podstream/podstream.db-wal "640 podstream:podstream"
    want_mode /var/lib/podstream/spool "750 podstream:podstream"
    if in_root runuser -u bob -- podstream status -c /etc/podstream >/dev/null 2>&1; then
        fail "a user outside the podstream group read the status"
    fi
    # chroot became runuser; its child is podstream, which the stop request is for
    # (runuser itself would end the session, killing it).
    svc_pid=$(pgrep -P "$run_pid" -x podstream) || fail "no podstream under runuser"
    kill -TERM "$svc_pid"
    wait "$run_pid" || { cat "$work/run.log"; fail "the service did not stop cleanly"; }
    grep -q 'stopped cleanly' "$work/run.log" || { cat "$work/run.log"; fail "no clean stop"; }
    if grep -q 'deb-token-0123456789' "$work/run.log"; then fail "the token was logged"; fi
    kill "$sim_pid"
    sim_pid=
    rm -f "$root/etc/podstream/devices/pod.yml" "$root/etc/podstream/secrets/pod-token" \
        "$root/etc/podstream/ca.pem"
    echo "the installed service streamed as podstream; alice (group podstream) read it, bob not"
fi

# An upgrade (the same package again) keeps the key, an edited conffile and the
# database, and puts the database's modes right.
keysum=$(md5sum <"$root/etc/podstream/podstream.key")
echo "retention_days: 7" >>"$root/etc/podstream/podstream.yml"
[ -f "$root/var/lib/podstream/podstream.db" ] || printf 'db' >"$root/var/lib/podstream/podstream.db"
chmod 0644 "$root/var/lib/podstream/podstream.db"
in_root dpkg -i /tmp/podstream.deb >"$work/upgrade.log" 2>&1 ||
    { cat "$work/upgrade.log"; fail "upgrade"; }
[ "$(md5sum <"$root/etc/podstream/podstream.key")" = "$keysum" ] || fail "upgrade changed the key"
grep -q '^retention_days: 7$' "$root/etc/podstream/podstream.yml" || fail "conffile edit lost"
want_mode /var/lib/podstream/podstream.db "640 podstream:podstream"
echo "upgrade: key, configuration and database kept"

# Remove keeps configuration, key and state; purge removes state and the key.
in_root dpkg -r podstream >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "remove"; }
[ ! -e "$root/usr/bin/podstream" ] || fail "binary left after remove"
[ ! -e "$root/lib/systemd/system/podstream.service" ] || fail "unit left after remove"
[ -f "$root/var/lib/podstream/podstream.db" ] || fail "remove deleted the database"
[ -f "$root/etc/podstream/podstream.key" ] || fail "remove deleted the key"
in_root dpkg -P podstream >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge"; }
[ ! -e "$root/var/lib/podstream" ] || fail "purge left /var/lib/podstream"
[ ! -e "$root/etc/podstream" ] || fail "purge left /etc/podstream: $(ls -R "$root/etc/podstream")"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/podstream.service" ] ||
    fail "purge left the unit enabled"
echo "remove and purge: ok"
echo "test_deb: ok"
