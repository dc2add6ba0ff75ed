/* podstream: entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    ps_cmd_fn fn;
    const char *summary;
} command;

static const command commands[] = {
#define PS_COMMAND(name, fn, summary) {name, fn, summary},
#include "commands.h"
#undef PS_COMMAND
};

static void usage(FILE *out)
{
    fprintf(out, "usage: podstream <command> [options]\n"
                 "       podstream --help | --version\n\n"
                 "Streams Proofpoint On Demand log events into a local database.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'podstream <command> --help' for the options of one command.\n"
                 "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 invalid configuration,\n"
                 "            4 key or secret refused.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return PS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        ps_cli_print_version(stdout);
        return PS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        /* Every command answers --version the same way; handled once, here. */
        for (int a = 2; a < argc; a++) {
            if (strcmp(argv[a], "--version") == 0) {
                ps_cli_print_version(stdout);
                return PS_EXIT_OK;
            }
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "podstream: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return PS_EXIT_USAGE;
}
