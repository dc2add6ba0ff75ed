# `cmake --build <dir> --target lint` runs clang-format (check only), clang-tidy and cppcheck
# over the project's own C sources. `format` rewrites them in place.
file(GLOB_RECURSE PS_LINT_SOURCES CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/common/*.c ${PROJECT_SOURCE_DIR}/common/*.h
    ${PROJECT_SOURCE_DIR}/service/*.c ${PROJECT_SOURCE_DIR}/service/*.h
    ${PROJECT_SOURCE_DIR}/tests/*.c ${PROJECT_SOURCE_DIR}/tests/*.h)
set(PS_LINT_C_SOURCES ${PS_LINT_SOURCES})
list(FILTER PS_LINT_C_SOURCES INCLUDE REGEX "\\.c$")
# Fuzzers are only in the compile database of a PS_FUZZ build.
list(FILTER PS_LINT_C_SOURCES EXCLUDE REGEX "/tests/fuzz/")

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
add_custom_target(lint ${_lint_cmds} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "clang-format, clang-tidy, cppcheck" VERBATIM)
