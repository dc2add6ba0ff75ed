# External libraries, found once through pkg-config.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=8.12)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3>=3.37)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl>=3.0)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# gzip bodies of the HTTP outputs; libcurl already brings zlib into the process.
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
# CRC-32 of the spool records, which the receivers compute over every message:
# libdeflate's uses the CPU's carry-less multiply (PCLMULQDQ), 7 times zlib's speed
# (0.09 against 0.62 us for a 2 KB message), and gives the same checksum.
pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
# Conditions use `matches` with expr/Go-style regexps (\d, (?i), non-greedy); POSIX regex
# lacks them and is absent on Windows. PCRE2 also gives JIT speed and match limits.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
# The service's allocator on Linux. Its threads hand every message on: a receiver's
# buffer, a worker's row and FTS5's per-batch terms are freed by the writer, which in
# glibc means locking the other thread's arena and merging its free chunks. mimalloc
# frees into the owning page's own list instead: 0.3-1.1 us less CPU per event end to
# end, every thread a little (docs/performance.md), peak RSS 6-7 MB more. Not with the sanitizers, which bring
# their own allocator, nor on Windows, whose heap the .exe keeps.
option(PS_MIMALLOC "Link podstream with mimalloc (Linux)" ON)
if(PS_MIMALLOC AND NOT WIN32 AND NOT PS_SANITIZE AND NOT PS_FUZZ)
    find_package(mimalloc 2.0 CONFIG)
    if(NOT mimalloc_FOUND)
        message(FATAL_ERROR "mimalloc not found: install libmimalloc-dev "
            "(scripts/install-deps.sh does) or configure with -DPS_MIMALLOC=OFF.")
    endif()
    set(PS_USE_MIMALLOC ON)
endif()
if(PS_TESTS)
    pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

# libcurl's WebSocket API only works when libcurl was built with ws/wss; older or
# trimmed builds have the symbols but refuse the scheme at run time. Catch it here.
pkg_get_variable(PS_CURL_PROTOCOLS libcurl supported_protocols)
string(TOUPPER "${PS_CURL_PROTOCOLS}" _ps_protos)
if(NOT _ps_protos MATCHES "(^|[ ;\"])WSS([ ;\"]|$)")
    message(FATAL_ERROR
        "libcurl ${CURL_VERSION} at ${CURL_LIBDIR} does not list 'wss' among its protocols "
        "(it lists: ${PS_CURL_PROTOCOLS}).\n"
        "podstream needs libcurl >= 8.12 built with WebSocket support. On Debian 12 run "
        "scripts/install-deps.sh, which installs libcurl from bookworm-backports.")
endif()
message(STATUS "libcurl ${CURL_VERSION} with wss support")
