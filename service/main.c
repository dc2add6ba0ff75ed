/* podstream: entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

typedef struct command {
    ps_cmd_fn fn;
    const ps_opt_cmd *spec;
} command;

static const command commands[] = {
#define PS_COMMAND(fn, spec) {fn, &spec},
#include "commands.h"
#undef PS_COMMAND
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: podstream <command> [options]\n"
                 "       podstream help [<command>] | --help | --version\n\n"
                 "Streams Proofpoint On Demand log events into a local database.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].spec->name, commands[i].spec->summary);
    fprintf(out, "\nRun 'podstream <command> --help' for the options of one command.\n"
                 "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 invalid configuration,\n"
                 "            4 key or secret refused,\n"
                 "            5 database damaged (run 'podstream repair').\n");
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].spec->name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    fprintf(stderr, "podstream: unknown command '%s'\n\n", name);
    usage(stderr);
    return PS_EXIT_USAGE;
}

/* `podstream help [COMMAND]`: the general help, or one command's. */
static int help(int argc, char **argv)
{
    const command *c;
    if (argc < 3) {
        usage(stdout);
        return PS_EXIT_OK;
    }
    if (argc > 3) {
        fprintf(stderr, "podstream help: one command at a time ('%s' is extra)\n", argv[3]);
        return PS_EXIT_USAGE;
    }
    c = find(argv[2]);
    if (!c)
        return unknown_command(argv[2]);
    ps_cli_print_help(c->spec, stdout);
    return PS_EXIT_OK;
}

int main(int argc, char **argv)
{
    const command *c;
    /* Every command, not only those that read a token or the key: query, status and
     * trace hold mail data, pipeline test holds redaction keys, and one rule is one
     * thing to document (docs/security.md). */
    (void)ps_plat_secure_process();
    ps_store_process_init();
    if (argc < 2) {
        usage(stderr);
        return PS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0)
        return help(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return PS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        ps_cli_print_version(stdout);
        return PS_EXIT_OK;
    }
    c = find(argv[1]);
    if (!c)
        return unknown_command(argv[1]);
    /* Each command's option table includes --help and --version (ps_opt). */
    return c->fn(argc - 1, argv + 1);
}
