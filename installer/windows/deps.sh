#!/usr/bin/env bash
# Cross-builds podstream's dependencies for x86_64-w64-mingw32 from Debian's own source
# packages (apt-get source, pinned versions below) into static libraries under
#   BUILD_DIR/deps-<key>/prefix     (include/, lib/, lib/pkgconfig/)
# where <key> hashes the pins, this script and the toolchain file: change any of them and
# the next run builds a fresh prefix; otherwise a finished prefix is reused as it is.
# Sources are downloaded into BUILD_DIR/deps-<key>/src. Prints the prefix on stdout, and
# each phase's time on stderr. Called by installer/windows/build.sh.
#
# Usage: installer/windows/deps.sh BUILD_DIR
set -euo pipefail

# The pins: the newest of each in bookworm (+ -updates); curl from bookworm-backports,
# the version the Linux build links (8.14.1, with WebSockets).
PINS=(
    openssl=3.0.20-1~deb12u2
    curl=8.14.1-2+deb13u2~bpo13+1
    libyaml=0.2.5-1
    cjson=1.7.15-1+deb12u4
    sqlite3=3.40.1-2+deb12u2
    libzstd=1.5.4+dfsg2-5
    zlib=1:1.2.13.dfsg-1
    libdeflate=1.14-1
    pcre2=10.42-1
    cmocka=1.1.5-2.1
)

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
toolchain=$root/cmake/toolchain-mingw64.cmake
build=$(realpath -m "${1:?usage: deps.sh BUILD_DIR}")
HOST=x86_64-w64-mingw32
jobs=$(nproc)

key=$({ printf '%s\n' "${PINS[@]}"; cat "$0" "$toolchain"; $HOST-gcc -dumpversion; } \
    | sha256sum | cut -c1-12)
deps=$build/deps-$key
P=$deps/prefix
if [ -f "$P/.complete" ]; then
    echo "deps: cached prefix $P" >&2
    echo "$P"
    exit 0
fi
mkdir -p "$deps/src" "$deps/build" "$deps/stamps" "$P/lib/pkgconfig" "$P/include"
# Logs of each step, so that the console shows timings and a failure shows its log's tail.
logs=$deps/logs
mkdir -p "$logs"
exec 3>&2  # the console, while a step's own output goes to its log

phase() {  # phase NAME FUNCTION: runs FUNCTION once (stamped), prints how long it took
    local name=$1 fn=$2 t0=$SECONDS
    if [ -f "$deps/stamps/$name" ]; then
        return 0
    fi
    local rc
    # A subshell (each step may cd) with errexit on: `if ! fn` would switch it off.
    set +e
    (set -e; "$fn") >"$logs/$name.log" 2>&1
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then
        echo "deps: $name FAILED; the last lines of $logs/$name.log:" >&2
        tail -30 "$logs/$name.log" >&2
        exit 1
    fi
    touch "$deps/stamps/$name"
    printf 'deps: %-8s %4ds\n' "$name" $((SECONDS - t0)) >&2
}

srcdir() {  # srcdir PKG: the directory apt-get source unpacked PKG into
    local pin d
    for pin in "${PINS[@]}"; do
        if [ "${pin%%=*}" = "$1" ]; then
            local v=${pin#*=}
            v=${v#*:}        # epoch
            v=${v%-*}        # Debian revision
            for d in "$deps/src/$1-$v" "$deps/src/$1-${v%%+*}"; do
                [ -d "$d" ] && { echo "$d"; return 0; }
            done
        fi
    done
    # Some unpack under their upstream name (libzstd -> zstd-*).
    d=$(find "$deps/src" -maxdepth 1 -mindepth 1 -type d -name "*${1#lib}-*" | head -1)
    [ -n "$d" ] && echo "$d" && return 0
    echo "deps: no source tree for $1 in $deps/src" >&2
    return 1
}

cross_cmake() {  # cross_cmake SRC BUILD [cmake args...]: a static Release library build
    local s=$1 b=$2
    shift 2
    rm -rf "$b"  # a step that failed half-way starts again from scratch
    cmake -S "$s" -B "$b" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DPS_WIN_DEPS="$P" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_INSTALL_LIBDIR=lib \
        -DCMAKE_PREFIX_PATH="$P" -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF "$@"
}

write_pc() {  # write_pc NAME VERSION CFLAGS LIBS [LIBS_PRIVATE]
    cat >"$P/lib/pkgconfig/$1.pc" <<PC
prefix=$P
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $1
Description: $1 (static, cross-built by installer/windows/deps.sh)
Version: $2
Cflags: -I\${includedir} $3
Libs: -L\${libdir} $4
Libs.private: ${5:-}
PC
}

fetch_orig() {  # fetch_orig PKG VERSION: the upstream tarball alone, checked against apt's index
    local dir files f
    # The stanza of that version: its pool directory and the SHA-256 of each file.
    dir=$(apt-cache showsrc "$1" | awk -v v="$2" '/^Package:/{ok=0} /^Version:/{ok=($2==v)} ok&&/^Directory:/{print $2}')
    files=$(apt-cache showsrc "$1" | awk -v v="$2" '/^Package:/{ok=0} /^Version:/{ok=($2==v)}
        /^[A-Z]/{sec=$1} ok&&sec=="Checksums-Sha256:"&&/^ /&&$3~/\.orig\.tar\.[a-z0-9]+$/{print $1" "$3}')
    [ -n "$dir" ] && [ -n "$files" ] || { echo "no source stanza for $1 $2"; return 1; }
    while read -r sum f; do
        curl -fsSL -o "$f" "http://deb.debian.org/debian/$dir/$f"
        echo "$sum  $f" | sha256sum -c -
        tar xf "$f"
    done <<<"$files"
}

fetch() {
    local pin
    cd "$deps/src"
    for pin in "${PINS[@]}"; do
        # apt-get source unpacks and applies Debian's patches: the code Debian ships.
        if apt-get source -q "$pin"; then
            continue
        fi
        # The archive sometimes serves a backport's .dsc index entry and orig tarball but
        # not its Debian part (curl's ~bpo today): build the checked upstream tarball.
        echo "deps: WARNING: Debian's packaging of $pin is not downloadable; using its" \
            "orig tarball (SHA-256 from apt's index) without Debian's patches" | tee /dev/fd/3
        fetch_orig "${pin%%=*}" "${pin#*=}"
    done
}

build_zlib() {
    # Debian's dfsg tarball has no win32/ and its configure refuses mingw: compile the
    # library's sources directly.
    local s b
    s=$(srcdir zlib)
    b=$deps/build/zlib
    mkdir -p "$b"
    (cd "$b" && for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback \
        inffast inflate inftrees trees uncompr zutil; do
        $HOST-gcc -O2 -I"$s" -c "$s/$f.c" -o "$f.o"
    done && $HOST-ar rcs libz.a ./*.o)
    cp "$b/libz.a" "$P/lib/"
    cp "$s/zlib.h" "$s/zconf.h" "$P/include/"
    write_pc zlib 1.2.13 "" "-lz"
}

build_libdeflate() {
    # Its Makefile builds the command-line programs too: compile the library alone.
    # Static (no LIBDEFLATE_DLL), as the Makefile's libdeflate.a is.
    local s b
    s=$(srcdir libdeflate)
    b=$deps/build/libdeflate
    mkdir -p "$b"
    (cd "$b" && for f in "$s"/lib/*.c "$s"/lib/x86/*.c; do
        $HOST-gcc -O2 -fvisibility=hidden -I"$s" -c "$f" -o "$(basename "$f" .c).o"
    done && $HOST-ar rcs libdeflate.a ./*.o)
    cp "$b/libdeflate.a" "$P/lib/"
    cp "$s/libdeflate.h" "$P/include/"
    write_pc libdeflate 1.14 "" "-ldeflate"
}

build_openssl() {
    local s b
    s=$(srcdir openssl)
    b=$deps/build/openssl
    rm -rf "$b" && cp -a "$s" "$b"
    cd "$b"
    ./Configure mingw64 no-shared no-tests --cross-compile-prefix=$HOST- \
        --prefix="$P" --libdir=lib
    make -j"$jobs" build_libs
    make install_dev
}

build_curl() {
    local s
    s=$(srcdir curl)
    # OpenSSL rather than Schannel: TLS behaves as on Linux (same CA handling, same errors).
    cross_cmake "$s" "$deps/build/curl" -DBUILD_STATIC_LIBS=ON -DBUILD_CURL_EXE=OFF \
        -DBUILD_LIBCURL_DOCS=OFF -DBUILD_MISC_DOCS=OFF -DENABLE_CURL_MANUAL=OFF \
        -DCURL_USE_OPENSSL=ON -DCURL_USE_SCHANNEL=OFF -DCURL_WINDOWS_SSPI=OFF \
        -DENABLE_WEBSOCKETS=ON -DCURL_USE_LIBPSL=OFF -DUSE_LIBIDN2=OFF -DUSE_WIN32_IDN=OFF \
        -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF \
        -DUSE_NGHTTP2=OFF -DCURL_DISABLE_LDAP=ON -DCURL_USE_GSSAPI=OFF \
        -DOPENSSL_ROOT_DIR="$P" -DOPENSSL_USE_STATIC_LIBS=ON -DZLIB_ROOT="$P" \
        -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none
    cmake --build "$deps/build/curl" -j"$jobs"
    cmake --install "$deps/build/curl"
}

build_libyaml() {
    cross_cmake "$(srcdir libyaml)" "$deps/build/libyaml" -DINSTALL_CMAKE_DIR=lib/cmake/yaml
    cmake --build "$deps/build/libyaml" -j"$jobs"
    cmake --install "$deps/build/libyaml"
    # yaml.h declares dllimport unless told the library is static.
    write_pc yaml-0.1 0.2.5 "-DYAML_DECLARE_STATIC" "-lyaml"
}

build_cjson() {
    local s b
    s=$(srcdir cjson)
    b=$deps/build/cjson
    mkdir -p "$b" "$P/include/cjson"
    # CJSON_HIDE_SYMBOLS: no dllexport, or podstream.exe would export cJSON's API.
    $HOST-gcc -O2 -std=c89 -DCJSON_HIDE_SYMBOLS -c "$s/cJSON.c" -o "$b/cJSON.o"
    $HOST-ar rcs "$P/lib/libcjson.a" "$b/cJSON.o"
    cp "$s/cJSON.h" "$P/include/cjson/"
    write_pc libcjson 1.7.15 "-I\${includedir}/cjson -DCJSON_HIDE_SYMBOLS" "-lcjson"
}

build_sqlite3() {
    local s b
    s=$(srcdir sqlite3)
    b=$deps/build/sqlite3
    # Debian ships SQLite's full source tree: generate the amalgamation with the native
    # tools (tclsh, lemon), then cross-compile that one file.
    rm -rf "$b" && mkdir -p "$b"
    (cd "$b" && "$s/configure" --disable-tcl >/dev/null && make sqlite3.c)
    # The feature set of Debian's libsqlite3 (debian/rules) that podstream relies on: FTS5.
    $HOST-gcc -O2 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS \
        -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_UNLOCK_NOTIFY \
        -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_SECURE_DELETE -DSQLITE_THREADSAFE=1 \
        -DSQLITE_MAX_SCHEMA_RETRY=25 -DSQLITE_MAX_VARIABLE_NUMBER=250000 \
        -c "$b/sqlite3.c" -o "$b/sqlite3.o"
    $HOST-ar rcs "$P/lib/libsqlite3.a" "$b/sqlite3.o"
    cp "$b/sqlite3.h" "$b/sqlite3ext.h" "$P/include/"
    write_pc sqlite3 3.40.1 "" "-lsqlite3"
}

build_libzstd() {
    local s b
    s=$(srcdir libzstd)/lib
    b=$deps/build/libzstd
    mkdir -p "$b"
    # zstd's CMake project wants a C++ compiler (Debian's mingw-w64 C compiler is all
    # there is) and its lib/Makefile guesses the OS from the build machine: compile the
    # library's sources directly. The amd64 assembly is ELF-only.
    find "$s/common" "$s/compress" "$s/decompress" "$s/dictBuilder" -name '*.c' -print0 \
        | xargs -0 -n 4 -P "$jobs" sh -c 'for f; do
            '"$HOST"'-gcc -O2 -DZSTD_MULTITHREAD -DZSTD_DISABLE_ASM -I"'"$s"'" \
                -I"'"$s"'/common" -c "$f" -o "'"$b"'/$(basename "$f" .c).o" || exit 255
        done' sh
    $HOST-ar rcs "$P/lib/libzstd.a" "$b"/*.o
    cp "$s/zstd.h" "$s/zdict.h" "$s/zstd_errors.h" "$P/include/"
    # zdict.h's experimental API (the store trains dictionaries) needs no DLL export.
    write_pc libzstd 1.5.4 "" "-lzstd"
}

build_pcre2() {
    cross_cmake "$(srcdir pcre2)" "$deps/build/pcre2" -DBUILD_STATIC_LIBS=ON \
        -DPCRE2_BUILD_PCRE2_8=ON -DPCRE2_BUILD_PCRE2_16=OFF -DPCRE2_BUILD_PCRE2_32=OFF \
        -DPCRE2_SUPPORT_JIT=ON -DPCRE2_BUILD_PCRE2GREP=OFF -DPCRE2_BUILD_TESTS=OFF
    cmake --build "$deps/build/pcre2" -j"$jobs"
    cmake --install "$deps/build/pcre2"
    # pcre2.h declares dllimport on Windows unless told the library is static.
    sed -i 's|^Cflags: .*|& -DPCRE2_STATIC|' "$P/lib/pkgconfig/libpcre2-8.pc"
}

build_cmocka() {
    local b=$deps/build/cmocka
    cross_cmake "$(srcdir cmocka)" "$b" -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF \
        -DUNIT_TESTING=OFF
    cmake --build "$b" -j"$jobs" --target cmocka-static
    cp "$(find "$b" -name 'libcmocka-static.a' | head -1)" "$P/lib/libcmocka.a"
    cp "$(srcdir cmocka)/include/cmocka.h" "$P/include/"
    write_pc cmocka 1.1.5 "" "-lcmocka"
}

t0=$SECONDS
phase fetch fetch
phase zlib build_zlib
phase libdeflate build_libdeflate
phase openssl build_openssl
phase curl build_curl
phase libyaml build_libyaml
phase cjson build_cjson
phase sqlite3 build_sqlite3
phase libzstd build_libzstd
phase pcre2 build_pcre2
phase cmocka build_cmocka
# Relocatable: the .pc files name their prefix by their own place, so the prefix can be
# copied or linked into another build directory (a second Windows build shares it).
sed -i "s|$P|\${pcfiledir}/../..|g" "$P"/lib/pkgconfig/*.pc
touch "$P/.complete"
printf 'deps: built in %ds\n' $((SECONDS - t0)) >&2
echo "$P"
