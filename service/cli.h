/* cli: what every `podstream` subcommand shares: exit codes, common options and
 * help text. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "podstream/ps_compiler.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_error.h"
#include "podstream/ps_pipeline.h"

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

/* Hand-rolled option matching for commands that must never echo an argument back
 * (it might be a token): matches argv[*i] as `NAME VALUE`, `NAME=VALUE` or
 * `ALIAS VALUE`. 1: matched, the value in *out and *i advanced past it; 0: argv[*i]
 * is something else; -1: the value is missing. */
int ps_cli_take_value(int argc, char **argv, int *i, const char *name, const char *alias,
                      const char **out);

/* Prints "podstream <cmd>: <message>" to stderr and returns PS_EXIT_USAGE. */
int ps_cli_usage_error(const char *cmd, const char *fmt, ...) PS_PRINTF(2, 3);

/* The database a reading command opens: `db_option` (--db) when given, else the
 * `database` setting of the configuration in ps_cli_config_dir(config_option).
 * Returns a new string (caller frees); on failure prints why to stderr, naming the
 * file and what to do, and returns NULL with *rc set to the exit code. */
char *ps_cli_database_path(const char *cmd, const char *db_option, const char *config_option,
                           int *rc);

#endif
