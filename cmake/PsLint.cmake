# `cmake --build <dir> --target lint` runs clang-format (check only), clang-tidy and cppcheck
# over the project's own C sources. `format` rewrites them in place.
file(GLOB_RECURSE PS_LINT_SOURCES CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/common/*.c ${PROJECT_SOURCE_DIR}/common/*.h
    ${PROJECT_SOURCE_DIR}/service/*.c ${PROJECT_SOURCE_DIR}/service/*.h
    ${PROJECT_SOURCE_DIR}/tray/*.c ${PROJECT_SOURCE_DIR}/tray/*.h
    ${PROJECT_SOURCE_DIR}/tests/*.c ${PROJECT_SOURCE_DIR}/tests/*.h)
set(PS_LINT_C_SOURCES ${PS_LINT_SOURCES})
list(FILTER PS_LINT_C_SOURCES INCLUDE REGEX "\\.c$")
# Fuzzers are only in the compile database of a PS_FUZZ build.
list(FILTER PS_LINT_C_SOURCES EXCLUDE REGEX "/tests/fuzz/")
# Each system's platform files (and their tests) are only in that system's database.
if(WIN32)
    list(FILTER PS_LINT_C_SOURCES EXCLUDE REGEX "/platform/posix/")
else()
    list(FILTER PS_LINT_C_SOURCES EXCLUDE REGEX "_win32\\.c$")
endif()
# podstream-gui and its tests, when gui/ found GTK 4 (else not in the compile database).
if(TARGET podstream-gui)
    file(GLOB_RECURSE PS_LINT_GUI CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/gui/*.c
        ${PROJECT_SOURCE_DIR}/gui/*.h)
    list(APPEND PS_LINT_SOURCES ${PS_LINT_GUI})
    list(FILTER PS_LINT_GUI INCLUDE REGEX "\\.c$")
    list(APPEND PS_LINT_C_SOURCES ${PS_LINT_GUI})
else()
    list(FILTER PS_LINT_C_SOURCES EXCLUDE REGEX "/tests/gui/")
endif()

find_program(CLANG_FORMAT NAMES clang-format clang-format-14)
find_program(CLANG_TIDY NAMES clang-tidy clang-tidy-14)
find_program(CPPCHECK NAMES cppcheck)

set(_lint_cmds)
if(CLANG_FORMAT)
    add_custom_target(format COMMAND ${CLANG_FORMAT} -i ${PS_LINT_SOURCES}
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} COMMENT "clang-format -i")
    list(APPEND _lint_cmds COMMAND ${CLANG_FORMAT} --dry-run --Werror ${PS_LINT_SOURCES})
endif()
if(CLANG_TIDY)
    list(APPEND _lint_cmds COMMAND ${CLANG_TIDY} -p ${PROJECT_BINARY_DIR} --quiet
        --warnings-as-errors=* ${PS_LINT_C_SOURCES})
endif()
if(CPPCHECK)
    list(APPEND _lint_cmds COMMAND ${CPPCHECK} --project=${PROJECT_BINARY_DIR}/compile_commands.json
        --enable=warning,performance,portability --inline-suppr --error-exitcode=1 --quiet
        --suppress=missingIncludeSystem -i${PROJECT_SOURCE_DIR}/tests/fuzz)
endif()
# The platform rule (issue #10): OS headers and POSIX calls only in common/src/platform/,
# and, where the MinGW-w64 cross compiler is installed, every public header compiles
# for Windows. Run by `lint` and, with label lint, by ctest.
find_program(PS_LINT_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(PS_MINGW_CC NAMES x86_64-w64-mingw32-gcc)
if(PS_LINT_PYTHON3)
    set(_platform_check ${PS_LINT_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check-platform.py
        --root ${PROJECT_SOURCE_DIR})
    if(PS_MINGW_CC)
        list(APPEND _platform_check --mingw ${PS_MINGW_CC})
        foreach(_dir ${CJSON_INCLUDE_DIRS})
            if(EXISTS ${_dir}/cJSON.h)
                list(APPEND _platform_check --cjson ${_dir})
                break()
            endif()
        endforeach()
    else()
        message(STATUS "x86_64-w64-mingw32-gcc not found: public headers are not checked for "
                       "Windows (scripts/install-deps.sh installs it)")
    endif()
    list(APPEND _lint_cmds COMMAND ${_platform_check})
    add_test(NAME check_platform COMMAND ${_platform_check})
    set_tests_properties(check_platform PROPERTIES LABELS lint)
    # The layer rule: folders include lower layers only, no header cycles.
    set(_layer_check ${PS_LINT_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check-layers.py
        --root ${PROJECT_SOURCE_DIR})
    list(APPEND _lint_cmds COMMAND ${_layer_check})
    add_test(NAME check_layers COMMAND ${_layer_check})
    set_tests_properties(check_layers PROPERTIES LABELS lint)
endif()

add_custom_target(lint ${_lint_cmds} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "clang-format, clang-tidy, cppcheck, check-platform, check-layers" VERBATIM)
