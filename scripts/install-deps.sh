#!/usr/bin/env bash
# Installs everything podstream needs to build, test and run its demo on Debian 12.
# libcurl's WebSocket API (curl_ws_*) is only usable from curl 8.x with wss built in;
# Debian 12 ships 7.88, so libcurl comes from bookworm-backports.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

. /etc/os-release
codename="${VERSION_CODENAME:-bookworm}"

if [ "$codename" = "bookworm" ]; then
    bp=/etc/apt/sources.list.d/podstream-backports.sources
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        $SUDO tee "$bp" >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    curl_target="-t bookworm-backports"
else
    curl_target=""
fi

if [ -z "${PODSTREAM_SKIP_APT_UPDATE:-}" ]; then
    $SUDO apt-get update -qq
fi

# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $curl_target \
    libcurl4-openssl-dev libcurl4 curl

$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config ninja-build \
    clang clang-tidy clang-format cppcheck libclang-rt-14-dev \
    libssl-dev openssl libyaml-dev libcjson-dev libsqlite3-dev sqlite3 \
    libzstd-dev zlib1g-dev libcmocka-dev libpcre2-dev libmimalloc-dev libdeflate-dev \
    python3 python3-websockets python3-cryptography tinyproxy-bin faketime \
    ca-certificates procps psmisc

# Packaging and the service: systemd-analyze checks the unit, CPack builds the .deb
# (dpkg-shlibdeps from dpkg-dev), lintian and shellcheck check it, mmdebstrap makes
# the throwaway Debian root it is installed into (installer/tests/test_deb.sh).
$SUDO apt-get install -y -qq --no-install-recommends \
    systemd dpkg-dev lintian shellcheck mmdebstrap file

# The admin tooling's tests: the fish and zsh completions are loaded by their shells
# (docs/check-completions.sh), and the metrics file is read by prometheus_client's
# parser (tests/integration/test_metrics.py).
$SUDO apt-get install -y -qq --no-install-recommends zsh fish python3-prometheus-client

# podstream-gui (GTK 4.8, libadwaita 1.2) and its window tests on a private X server
# (tests/gui/run_under_xvfb.sh).
$SUDO apt-get install -y -qq --no-install-recommends libgtk-4-dev libadwaita-1-dev xvfb xauth
# The GUI's package: its .desktop file is checked by desktop-file-validate
# (installer/tests/test_deb_gui.sh).
$SUDO apt-get install -y -qq --no-install-recommends desktop-file-utils

# The Windows build (installer/windows/build.sh): the cross compiler and its binutils
# (windmc, windres), Debian's source packages of the dependencies (apt-get source needs
# deb-src lines; tcl generates the SQLite amalgamation), wine64 to run the tests, wixl to
# build the MSI and msitools to check it.
$SUDO apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 \
    binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev wine64 wixl msitools dpkg-dev tcl
if ! grep -rqs "^Types: deb-src" /etc/apt/sources.list.d/podstream-src.sources; then
    $SUDO tee /etc/apt/sources.list.d/podstream-src.sources >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    if [ -z "${PODSTREAM_SKIP_APT_UPDATE:-}" ]; then $SUDO apt-get update -qq; fi
fi
# The Windows desktop app (installer/windows/gtk.sh): the GTK stack's build tools (meson,
# the C++ cross compiler for HarfBuzz, sassc and GLib's native code generators), the
# Adwaita icons the bundle takes its subset from, and the app's test under wine on Xvfb
# (with wine's Tahoma from fonts-wine, and wrestool from icoutils to see the exe's icon).
# librsvg2-bin: rsvg-convert for installer/windows/gen-gui-icon.sh.
$SUDO apt-get install -y -qq --no-install-recommends meson g++-mingw-w64-x86-64 sassc \
    libglib2.0-dev-bin adwaita-icon-theme xvfb xauth fonts-wine icoutils librsvg2-bin

# The outputs' tests run real receivers: rsyslog with its TLS and RELP modules, and ClickHouse.
$SUDO apt-get install -y -qq --no-install-recommends rsyslog rsyslog-openssl rsyslog-relp \
    clickhouse-server clickhouse-client

echo "install-deps: done ($(curl-config --version))"
