# Small helpers so that every directory adds targets the same way (after nng's cmake/).
# Warnings, sanitizers and the C standard are applied here, once.

set(PS_WARNINGS -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -Wvla -Wno-unused-parameter)

# The sample events from ../shared/samples, kept in the tree so that a checkout anywhere
# runs the tests (tests/data/samples/SOURCES.md: where each line comes from).
set(PS_SAMPLES_DIR ${PROJECT_SOURCE_DIR}/tests/data/samples)

function(ps_target_defaults target)
    target_compile_options(${target} PRIVATE ${PS_WARNINGS})
    if(UNIX)
        target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
    endif()
    if(MINGW)
        # mingw-w64's C99 stdio (%zu, %lld) rather than msvcrt's, as PS_PRINTF's
        # gnu_printf checks; -static: the .exe needs no toolchain DLL (libgcc,
        # winpthread), only Windows' own (installer/windows/build.sh).
        target_compile_definitions(${target} PRIVATE __USE_MINGW_ANSI_STDIO=1)
        target_link_options(${target} PRIVATE -static)
    endif()
    if(PS_SANITIZE)
        target_compile_options(${target} PRIVATE -fsanitize=address,undefined
            -fno-sanitize-recover=all -fno-omit-frame-pointer)
        target_link_options(${target} PRIVATE -fsanitize=address,undefined)
    endif()
    if(PS_FUZZ)
        # Coverage in the libraries too, or libFuzzer only sees its harness.
        target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
    endif()
endfunction()

# ps_add_library(name SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
function(ps_add_library name)
    cmake_parse_arguments(A "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS;INCLUDE" ${ARGN})
    add_library(${name} STATIC ${A_SOURCES})
    ps_target_defaults(${name})
    target_include_directories(${name} PUBLIC ${A_INCLUDE})
    target_link_libraries(${name} PUBLIC ${A_PUBLIC_LIBS} PRIVATE ${A_PRIVATE_LIBS})
endfunction()

# ps_add_executable(name SOURCES ... [LIBS ...])
function(ps_add_executable name)
    cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${A_SOURCES})
    ps_target_defaults(${name})
    target_link_libraries(${name} PRIVATE ${A_LIBS})
endfunction()

# ps_link_allocator(target): the process-wide allocator of a program that streams
# (PsDependencies.cmake). Linked first and kept even without a direct call, so that
# its malloc is the one every library of the process binds to.
function(ps_link_allocator target)
    if(PS_USE_MIMALLOC)
        target_link_libraries(${target} PRIVATE
            "$<LINK_LIBRARY:PS_NO_AS_NEEDED,mimalloc>")
    endif()
endfunction()
set(CMAKE_C_LINK_LIBRARY_USING_PS_NO_AS_NEEDED
    "LINKER:--push-state,--no-as-needed" "<LINK_ITEM>" "LINKER:--pop-state")
set(CMAKE_C_LINK_LIBRARY_USING_PS_NO_AS_NEEDED_SUPPORTED TRUE)

# On Windows, tests/unit/ps_test_win32.h gives a test the POSIX calls it sets up with
# (mkdtemp, setenv, open_memstream ...) and skips what has no Windows meaning.
function(ps_test_win32_shim target)
    if(WIN32)
        target_compile_options(${target} PRIVATE
            -include ${PROJECT_SOURCE_DIR}/tests/unit/ps_test_win32.h)
    endif()
endfunction()

# ps_add_unit_test(name SOURCES ... [LIBS ...] [TIMEOUT s] [LABELS ...])
# A cmocka test binary registered with ctest. Tests run from the build tree with
# PS_TEST_DATA / PS_SOURCE_DIR pointing at the sources, so fixtures are never copied.
function(ps_add_unit_test name)
    cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
    ps_add_executable(${name} SOURCES ${A_SOURCES} LIBS ${A_LIBS} PkgConfig::CMOCKA)
    ps_test_win32_shim(${name})
    add_test(NAME ${name} COMMAND ${name})
    if(NOT A_TIMEOUT)
        set(A_TIMEOUT 120)
    endif()
    set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT}
        LABELS "unit;${A_LABELS}"
        ENVIRONMENT "PS_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data;PS_SOURCE_DIR=${PROJECT_SOURCE_DIR};PS_BINARY_DIR=${PROJECT_BINARY_DIR};PS_SAMPLES=${PS_SAMPLES_DIR};CMOCKA_MESSAGE_OUTPUT=STDOUT")
endfunction()

# ps_add_script_test(name SCRIPT path [TIMEOUT s] [LABELS ...])
# A shell or python test driving real binaries (CLI, podsim, service).
function(ps_add_script_test name)
    cmake_parse_arguments(A "" "SCRIPT;TIMEOUT" "LABELS;ARGS" ${ARGN})
    add_test(NAME ${name} COMMAND ${A_SCRIPT} ${A_ARGS})
    if(NOT A_TIMEOUT)
        set(A_TIMEOUT 300)
    endif()
    set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT}
        LABELS "${A_LABELS}"
        ENVIRONMENT "PS_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data;PS_SOURCE_DIR=${PROJECT_SOURCE_DIR};PS_BINARY_DIR=${PROJECT_BINARY_DIR};PS_SAMPLES=${PS_SAMPLES_DIR};PODSTREAM=$<TARGET_FILE:podstream>")
endfunction()

# ps_add_fuzzer(name SOURCES ... [LIBS ...] [INCLUDES ...]): one fuzz target whose
# LLVMFuzzerTestOneInput is in SOURCES. With PS_FUZZ=ON (clang) it is a libFuzzer
# binary, built by the `fuzzers` target; otherwise it is linked with
# tests/fuzz/replay_main.c into a program that runs each file once. Either way ctest
# replays tests/fuzz/corpus/<short> and tests/fuzz/regress/<short> (short: name
# without "fuzz_"; the second when it exists at configure time) as test <name>,
# label `fuzz`, so kept crash inputs stay fixed.
function(ps_add_fuzzer name)
    cmake_parse_arguments(A "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
    string(REGEX REPLACE "^fuzz_" "" short ${name})
    set(dirs ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${short})
    if(EXISTS ${PROJECT_SOURCE_DIR}/tests/fuzz/regress/${short})
        list(APPEND dirs ${PROJECT_SOURCE_DIR}/tests/fuzz/regress/${short})
    endif()
    if(PS_FUZZ)
        add_executable(${name} ${A_SOURCES})
        target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
        target_link_options(${name} PRIVATE -fsanitize=fuzzer)
        if(TARGET fuzzers)
            add_dependencies(fuzzers ${name})
        endif()
        set(replay -runs=0)  # libFuzzer: run every input of the dirs once, then stop
    elseif(PS_TESTS)
        add_executable(${name} ${A_SOURCES} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.c)
        set(replay)
    else()
        return()
    endif()
    ps_target_defaults(${name})
    ps_test_win32_shim(${name})
    if(WIN32)
        target_compile_definitions(${name} PRIVATE PS_TEST_NO_CMOCKA)
    endif()
    target_include_directories(${name} PRIVATE ${A_INCLUDES})
    target_link_libraries(${name} PRIVATE ${A_LIBS})
    if(PS_TESTS)
        add_test(NAME ${name} COMMAND ${name} ${replay} ${dirs})
        set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
    endif()
endfunction()
