#!/usr/bin/env bash
# Cross-builds the GTK 4.8 stack (GLib, Pango, HarfBuzz, cairo, gdk-pixbuf, GTK 4, libadwaita
# 1.2 and what they need) for x86_64-w64-mingw32 as DLLs, from Debian's own source packages
# (apt-get source, pinned below; meson with --wrap-mode=nodownload: nothing is downloaded at
# build time), then builds podstream-gui.exe against it and bundles what Windows needs to run
# it (installer/windows/gtk-bundle.sh).
#
#   BUILD_DIR/gtk-src               the unpacked sources (shared by every key)
#   BUILD_DIR/gtk-<key>/prefix      the stack; <key> hashes the pins, this script, the
#                                   toolchain file and the service's deps prefix. It starts
#                                   as a copy of installer/windows/deps.sh's static prefix
#                                   (zlib, PCRE2, SQLite, ... linked into the DLLs and the exe)
#   BUILD_DIR/gui                   the CMake build of podstream-gui.exe (PS_GUI=ON)
#   BUILD_DIR/gui-bundle            podstream-gui.exe with its DLLs, schemas and icons
# A finished prefix is reused as it is (a warm run only builds the exe and the bundle); an
# interrupted one resumes at the first unfinished package. Prints each phase's time.
#
# Usage: installer/windows/gtk.sh [--print-prefix] BUILD_DIR
#   --print-prefix  only prints the prefix this version of the stack has (built or not) and
#                   exits: tests/windows/test_gui_wine.sh runs only when it is complete.
set -euo pipefail
print_prefix=
[ "${1:-}" != --print-prefix ] || { print_prefix=yes; shift; }

PINS=(
    libffi=3.4.4-1
    gettext=0.21-12
    glib2.0=2.74.6-2+deb12u9
    libpng1.6=1.6.39-2+deb12u5
    pixman=0.42.2-1
    fribidi=1.0.8-2.1
    libjpeg-turbo=1:2.1.5-2
    tiff=4.5.0-6+deb12u4
    libepoxy=1.5.10-1
    harfbuzz=6.0.0+dfsg-3
    graphene=1.10.8-1
    gdk-pixbuf=2.42.10+dfsg-1+deb12u4
    cairo=1.16.0-7
    pango1.0=1.50.12+ds-1
    gtk4=4.8.3+ds-2+deb12u1
    libadwaita-1=1.2.2-1
)

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
toolchain=$root/cmake/toolchain-mingw64.cmake
build=$(realpath -m "${1:?usage: gtk.sh BUILD_DIR}")
HOST=x86_64-w64-mingw32
jobs=$(nproc)
mkdir -p "$build"
exec 9>"$build/.gtk.lock"
[ -n "$print_prefix" ] || flock 9

t_all=$SECONDS
deps_prefix=$("$here/deps.sh" "$build")
# PS_GTK_KEY pins the key while this script itself is being changed (a developer's
# convenience: every edit would otherwise start a cold build).
# The key hashes the stack's recipe: this script up to the line that marks the stack
# complete, not the exe's build or the bundle below it (changing those rebuilds no DLL).
# shellcheck disable=SC2016  # the marker line holds a literal $P
key=${PS_GTK_KEY:-$({ printf '%s\n' "${PINS[@]}" "$deps_prefix"
    sed '/^touch "\$P\/.complete"$/q' "$0"; cat "$toolchain"; } | sha256sum | cut -c1-12)}
gtk=$build/gtk-$key
P=$gtk/prefix
[ -z "$print_prefix" ] || { echo "$P"; exit 0; }
src=$build/gtk-src
logs=$gtk/logs
mkdir -p "$src" "$gtk/build" "$gtk/stamps" "$logs"
exec 3>&2

phase() {  # phase NAME FUNCTION: runs FUNCTION once (stamped) with its output in a log
    local name=$1 fn=$2 t0=$SECONDS rc
    [ -f "$gtk/stamps/$name" ] && return 0
    # Each package under its own lock too, so that two builds of one stack (a developer
    # building a package by hand beside the script) never share a build directory.
    exec 8>"$gtk/stamps/$name.lock"
    flock 8
    [ -f "$gtk/stamps/$name" ] && return 0
    set +e
    (set -e; "$fn") >"$logs/$name.log" 2>&1
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then
        echo "gtk: $name FAILED; the last lines of $logs/$name.log:" >&2
        tail -30 "$logs/$name.log" >&2
        exit 1
    fi
    touch "$gtk/stamps/$name"
    printf 'gtk: %-12s %4ds\n' "$name" $((SECONDS - t0)) >&2
}

srcdir() {  # srcdir PKG: the tree apt-get source (or the orig tarball) unpacked
    local d
    d=$(find "$src" -maxdepth 1 -mindepth 1 -type d -name "$1-[0-9]*" | sort | tail -1)
    [ -n "$d" ] || { echo "gtk: no source tree for $1 in $src" >&2; return 1; }
    echo "$d"
}

fetch() {
    local pin name ver
    cd "$src"
    for pin in "${PINS[@]}"; do
        name=${pin%%=*}
        ver=${pin#*=}
        ver=${ver#*:}
        ls -d "$name"-[0-9]* >/dev/null 2>&1 && continue
        apt-get source -q "$pin" && continue
        # pixman, graphene, libepoxy: the archive serves the .dsc and the orig tarball (which
        # apt checked against the signed index) but not Debian's part; build the tarball.
        echo "gtk: WARNING: no Debian packaging for $pin; building its orig tarball" >&3
        tar xf "${name}_${ver%-*}.orig.tar."*
    done
}

cross_file() {
    cat >"$gtk/cross.ini" <<INI
[binaries]
c = '$HOST-gcc'
cpp = '$HOST-g++'
ar = '$HOST-ar'
strip = '$HOST-strip'
windres = '$HOST-windres'
pkgconfig = 'pkg-config'
glib-compile-resources = '/usr/bin/glib-compile-resources'
glib-compile-schemas = '/usr/bin/glib-compile-schemas'
glib-mkenums = '/usr/bin/glib-mkenums'
glib-genmarshal = '/usr/bin/glib-genmarshal'
sassc = '/usr/bin/sassc'

[properties]
pkg_config_libdir = '$P/lib/pkgconfig'

[built-in options]
c_args = ['-I$P/include']
cpp_args = ['-I$P/include']
c_link_args = ['-L$P/lib']
cpp_link_args = ['-L$P/lib']

[host_machine]
system = 'windows'
cpu_family = 'x86_64'
cpu = 'x86_64'
endian = 'little'
INI
}

seed_prefix() {  # the service's static deps: the DLLs and the exe link zlib, PCRE2, ...
    rm -rf "$P"
    cp -a "$deps_prefix" "$P"
    rm -f "$P/.complete"
}

meson_pkg() {  # meson_pkg PKG [meson options...]
    local s b
    s=$(srcdir "$1")
    b=$gtk/build/$1
    shift
    rm -rf "$b"
    cross_file
    PKG_CONFIG_LIBDIR=$P/lib/pkgconfig PKG_CONFIG_PATH='' meson setup "$b" "$s" \
        --cross-file "$gtk/cross.ini" --prefix "$P" --libdir lib --buildtype release \
        --default-library shared --wrap-mode nodownload -Db_pie=false "$@"
    ninja -C "$b" -j"$jobs"
    ninja -C "$b" install
}

cmake_pkg() {  # cmake_pkg PKG [cmake options...]
    local s b
    s=$(srcdir "$1")
    b=$gtk/build/$1
    shift
    rm -rf "$b"
    cmake -S "$s" -B "$b" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DPS_WIN_DEPS="$P" \
        -DCMAKE_CXX_COMPILER=$HOST-g++ -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_INSTALL_LIBDIR=lib \
        -DCMAKE_PREFIX_PATH="$P" -DBUILD_SHARED_LIBS=ON "$@"
    cmake --build "$b" -j"$jobs"
    cmake --install "$b"
}

configure_pkg() {  # configure_pkg DIR [configure options...]: autotools, out of tree
    local s=$1 b
    b=$gtk/build/$(basename "$s")
    shift
    rm -rf "$b" && mkdir -p "$b" && cd "$b"
    PKG_CONFIG_LIBDIR=$P/lib/pkgconfig PKG_CONFIG_PATH='' CPPFLAGS="-I$P/include" \
        LDFLAGS="-L$P/lib" "$s/configure" --host=$HOST --prefix="$P" --libdir="$P/lib" \
        --enable-shared --disable-static "$@"
}

# make variables that stop automake from regenerating a tarball's files (stale timestamps).
no_autoreconf=(ACLOCAL=true AUTOMAKE=true AUTOCONF=true AUTOHEADER=true)

build_libffi() {
    configure_pkg "$(srcdir libffi)" --disable-docs --disable-multi-os-directory
    make -j"$jobs"
    make install
}

build_intl() {
    # GLib needs libintl on Windows; only gettext's runtime library is built. The make
    # variables stop automake from rerunning on the tarball's stale timestamps.
    configure_pkg "$(srcdir gettext)/gettext-runtime" --with-included-gettext --disable-java \
        --disable-csharp --disable-libasprintf --disable-openmp --disable-curses \
        --enable-threads=windows
    make -C intl -j"$jobs" "${no_autoreconf[@]}"
    make -C intl install "${no_autoreconf[@]}"
}

build_glib() {
    meson_pkg glib2.0 -Dtests=false -Dinstalled_tests=false -Dman=false -Dgtk_doc=false \
        -Dnls=disabled -Dlibmount=disabled -Dselinux=disabled -Dxattr=false \
        -Dlibelf=disabled -Ddtrace=false -Dsystemtap=false -Dsysprof=disabled
}

build_png() {
    cmake_pkg libpng1.6 -DPNG_SHARED=ON -DPNG_STATIC=OFF -DPNG_TESTS=OFF \
        -DPNG_EXECUTABLES=OFF -DSKIP_INSTALL_PROGRAMS=ON
}

build_jpeg() {
    # Its GNUInstallDirs take a relative libdir from the current directory: absolute here.
    cmake_pkg libjpeg-turbo -DENABLE_STATIC=OFF -DWITH_SIMD=OFF -DWITH_TURBOJPEG=OFF \
        -DCMAKE_INSTALL_LIBDIR="$P/lib"
}

build_tiff() {
    cmake_pkg tiff -Dtiff-tools=OFF -Dtiff-tests=OFF -Dtiff-contrib=OFF -Dtiff-docs=OFF \
        -Djbig=OFF -Dlzma=OFF -Dzstd=OFF -Dwebp=OFF -Dlerc=OFF -Dlibdeflate=OFF -Djpeg=OFF \
        -Dcxx=OFF
}

build_pixman() {
    meson_pkg pixman -Dtests=disabled -Dgtk=disabled -Dlibpng=disabled -Dopenmp=disabled
}

build_fribidi() {
    meson_pkg fribidi -Ddocs=false
}

build_epoxy() {
    meson_pkg libepoxy -Degl=no -Dglx=no -Dx11=false -Dtests=false
}

build_harfbuzz() {
    meson_pkg harfbuzz -Dtests=disabled -Ddocs=disabled -Dglib=enabled -Dgobject=disabled \
        -Dfreetype=disabled -Dcairo=disabled -Dicu=disabled -Dintrospection=disabled \
        -Dbenchmark=disabled
}

build_graphene() {
    meson_pkg graphene -Dtests=false -Dinstalled_tests=false -Dintrospection=disabled
}

build_pixbuf() {
    # The loaders are built into the DLL: no loader modules and no loaders.cache to ship.
    meson_pkg gdk-pixbuf -Dpng=enabled -Djpeg=enabled -Dtiff=disabled -Dbuiltin_loaders=all \
        -Dnative_windows_loaders=false -Drelocatable=true -Dman=false -Dgtk_doc=false \
        -Ddocs=false -Dintrospection=disabled -Dinstalled_tests=false -Dtests=false
}

build_cairo() {
    local s
    s=$(srcdir cairo)
    # Its configure adds -D_FORTIFY_SOURCE=2, which mingw cannot link (__memcpy_chk).
    sed -i 's/-D_FORTIFY_SOURCE=2//g' "$s/configure"
    # libtool would not link the static zlib into a DLL and silently build cairo static
    # only: let it (pass_all), as the meson-built DLLs do.
    lt_cv_deplibs_check_method=pass_all configure_pkg "$s" --enable-win32 --enable-win32-font --enable-png --disable-ft \
        --disable-fc --disable-xlib --disable-xcb --disable-xlib-xrender --disable-quartz \
        --disable-gl --disable-glesv2 --disable-script --disable-interpreter \
        --disable-trace --disable-gtk-doc --disable-full-testing --disable-symbol-lookup \
        --enable-gobject
    # The library and cairo-gobject (GTK needs both); not the tests or the tools. Debian's
    # patches touch configure.ac (it runs autoreconf): keep the tarball's generated files.
    local m
    for m in src util/cairo-gobject; do
        make -C "$m" -j"$jobs" "${no_autoreconf[@]}"
        make -C "$m" install "${no_autoreconf[@]}"
    done
}

build_pango() {
    meson_pkg pango1.0 -Dintrospection=disabled -Dfontconfig=disabled -Dfreetype=disabled \
        -Dsysprof=disabled -Dlibthai=disabled -Dxft=disabled -Dcairo=enabled -Dgtk_doc=false \
        -Dinstall-tests=false
}

build_gtk() {
    meson_pkg gtk4 -Dx11-backend=false -Dwayland-backend=false -Dwin32-backend=true \
        -Dmedia-gstreamer=disabled -Dprint-cups=disabled -Dvulkan=disabled \
        -Dcloudproviders=disabled -Dsysprof=disabled -Dtracker=disabled -Dcolord=disabled \
        -Dintrospection=disabled -Dgtk_doc=false -Dman-pages=false -Ddemos=false \
        -Dbuild-examples=false -Dbuild-tests=false -Dbroadway-backend=false -Df16c=disabled
}

build_adwaita() {
    # It compiles with -fstack-protector-strong, whose runtime is mingw's libssp.
    meson_pkg libadwaita-1 -Dintrospection=disabled -Dvapi=false -Dgtk_doc=false \
        -Dtests=false -Dexamples=false -Dc_link_args="['-L$P/lib', '-lssp']"
}

phase fetch fetch
phase seed seed_prefix
phase libffi build_libffi
phase intl build_intl
phase glib build_glib
phase libpng build_png
phase libjpeg build_jpeg
phase libtiff build_tiff
phase pixman build_pixman
phase fribidi build_fribidi
phase libepoxy build_epoxy
phase harfbuzz build_harfbuzz
phase graphene build_graphene
phase gdk-pixbuf build_pixbuf
phase cairo build_cairo
phase pango build_pango
phase gtk4 build_gtk
phase libadwaita build_adwaita
touch "$P/.complete"
printf 'gtk: %-12s %4ds (prefix %s)\n' stack $((SECONDS - t_all)) "$P" >&2

# podstream-gui.exe, and test_gui_window.exe for tests/windows/test_gui_wine.sh: a CMake
# build of their own against the prefix (the service's static deps are in it too).
t=$SECONDS
gui=$build/gui
fresh=()
if [ -f "$gui/CMakeCache.txt" ] && ! grep -qxF "PS_WIN_DEPS:UNINITIALIZED=$P" \
    "$gui/CMakeCache.txt"; then
    fresh=(--fresh)
fi
cmake "${fresh[@]}" -S "$root" -B "$gui" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DPS_WIN_DEPS="$P" -DPS_GUI=ON -DPS_BENCH=OFF \
    >"$gui.configure.log" 2>&1 || { tail -40 "$gui.configure.log" >&2; exit 1; }
cmake --build "$gui" -j"$jobs" --target podstream-gui test_gui_window >"$gui.build.log" 2>&1 ||
    { tail -40 "$gui.build.log" >&2; exit 1; }
printf 'gtk: %-12s %4ds\n' gui $((SECONDS - t)) >&2

t=$SECONDS
"$here/gtk-bundle.sh" "$gui/gui/podstream-gui.exe" "$P" "$build/gui-bundle"
printf 'gtk: %-12s %4ds\n' bundle $((SECONDS - t)) >&2

# The MSI again, now with the bundle, when this directory holds the service's build.
if [ -x "$here/msi.sh" ] && [ -f "$build/service/podstream.exe" ]; then
    PS_MSI_GUI_BUNDLE=$build/gui-bundle "$here/msi.sh" "$build"
fi
printf 'gtk: %-12s %4ds\n' total $((SECONDS - t_all)) >&2
