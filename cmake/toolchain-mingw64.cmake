# Cross-compiling podstream (and its dependencies) for 64-bit Windows with Debian's
# mingw-w64. installer/windows/build.sh passes PS_WIN_DEPS, the prefix its cross-built
# dependencies live in; pkg-config and find_* look there and in the mingw sysroot only,
# never at the Linux libraries. Test executables run under wine64 through
# installer/windows/wine-run.sh (CMAKE_CROSSCOMPILING_EMULATOR), so ctest works unchanged.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(PS_MINGW_HOST x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${PS_MINGW_HOST}-gcc)
set(CMAKE_RC_COMPILER ${PS_MINGW_HOST}-windres)
set(CMAKE_AR ${PS_MINGW_HOST}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${PS_MINGW_HOST}-ranlib CACHE FILEPATH "")
set(PS_WINDMC ${PS_MINGW_HOST}-windmc CACHE FILEPATH "message compiler for the Event Log resource")

# try_compile() re-reads this file in a fresh project: hand it the prefix too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES PS_WIN_DEPS)
if(NOT PS_WIN_DEPS AND DEFINED ENV{PS_WIN_DEPS})
    set(PS_WIN_DEPS $ENV{PS_WIN_DEPS})
endif()

set(CMAKE_FIND_ROOT_PATH /usr/${PS_MINGW_HOST} ${PS_WIN_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Only the cross-built .pc files; --static so a library's Libs.private (OpenSSL's ws2_32
# and crypt32, libcurl's) and Cflags.private (CURL_STATICLIB) come along.
if(PS_WIN_DEPS)
    set(ENV{PKG_CONFIG_LIBDIR} ${PS_WIN_DEPS}/lib/pkgconfig)
    set(ENV{PKG_CONFIG_PATH} "")
    set(PKG_CONFIG_ARGN --static CACHE STRING "")
endif()

# Each test .exe runs under wine64 in a prefix inside the build directory.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../installer/windows/wine-run.sh)
