/* cli: what every `podstream` subcommand shares: exit codes, common options and
 * help text. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ps_error.h"

/* Exit codes, documented in docs/cli.md. */
enum {
    PS_EXIT_OK = 0,       /* success */
    PS_EXIT_FAILURE = 1,  /* runtime failure: I/O, network, database */
    PS_EXIT_USAGE = 2,    /* bad command line */
    PS_EXIT_CONFIG = 3,   /* the configuration is invalid */
    PS_EXIT_SECURITY = 4, /* key or secret refused: permissions, decryption, missing secret */
};

/* A subcommand: argv[0] is the subcommand name. */
typedef int (*ps_cmd_fn)(int argc, char **argv);

#define PS_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "commands.h"
#undef PS_COMMAND

/* Maps an error code to the exit code a script should see. */
int ps_cli_exit_code(ps_err err);

/* The configuration directory: -c/--config, else $PODSTREAM_CONFIG_DIR, else the
 * platform default. Never NULL. */
const char *ps_cli_config_dir(const char *from_option);

/* Prints "podstream <version> (libcurl x, SQLite y, OpenSSL z)" to `out`. */
void ps_cli_print_version(FILE *out);

/* Prints "podstream <cmd>: <message>" to stderr and returns PS_EXIT_USAGE. */
int ps_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
