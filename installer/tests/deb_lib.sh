# shellcheck shell=bash
# shellcheck disable=SC2154 # build, work and root are set by the sourcing script
# Helpers of the package tests (sourced by test_deb.sh and test_deb_gui.sh, which set
# $build, $work and $root and define fail first).
#   lintian_clean DEB           lintian reports no error or warning (overrides carry
#                               their reasons)
#   throwaway_root NAME DEBS... a Debian 12 root in $root with what the packages
#                               depend on plus INCLUDE_EXTRA (mmdebstrap, cached per day
#                               and package set as $build/installer/rootfs/NAME-*.tar),
#                               /proc and /dev mounted; the caller unmounts them

lintian_clean() {
    local rc=0
    lintian --fail-on error,warning "$1" >"$work/lintian.out" 2>&1 || rc=$?
    grep -v 'running with root privileges' "$work/lintian.out" >"$work/lintian.log" || true
    if [ "$rc" -ne 0 ] || [ -s "$work/lintian.log" ]; then
        cat "$work/lintian.log"
        fail "lintian $(basename "$1")"
    fi
    echo "lintian: $(basename "$1") clean"
}

throwaway_root() {
    local name=$1 deps include key cache tarball t0
    shift
    # What the packages depend on (as dpkg-shlibdeps found it; libcurl with WebSockets
    # from bookworm-backports, as scripts/install-deps.sh installs it) and systemd,
    # whose systemd-sysusers and systemd-tmpfiles the service's postinst uses.
    deps=$(for d in "$@"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
        sed -E 's/\(.*\)//; s/ //g' | sed 's|^libcurl4$|libcurl4/bookworm-backports|' |
        sort -u | paste -sd, -)
    include="$deps,systemd,file,passwd"
    key=$(printf '%s' "$include" | md5sum | cut -c1-8)
    cache=$build/installer/rootfs
    tarball=$cache/$name-$(date -u +%Y%m%d)-$key.tar
    if [ ! -f "$tarball" ]; then
        mkdir -p "$cache"
        rm -f "$cache/$name"-*.tar
        t0=$(date +%s)
        mmdebstrap --quiet --format=tar --variant=minbase --include="$include" bookworm \
            "$tarball.tmp" "deb http://deb.debian.org/debian bookworm main" \
            "deb http://deb.debian.org/debian bookworm-backports main" \
            >"$work/mmdebstrap.log" 2>&1 ||
            { tail -20 "$work/mmdebstrap.log"; fail "mmdebstrap"; }
        mv "$tarball.tmp" "$tarball"
        echo "throwaway root made in $(($(date +%s) - t0)) s (cached: $tarball)"
    fi
    mkdir -p "$root"
    tar -x -C "$root" -f "$tarball"
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
}
