/* cli: what every `podstream` subcommand shares: exit codes, common options and
 * help text. */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "podstream/ps_compiler.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_error.h"
#include "podstream/ps_opt.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

/* Exit codes, documented in docs/cli.md. */
enum {
    PS_EXIT_OK = 0,       /* success */
    PS_EXIT_FAILURE = 1,  /* runtime failure: I/O, network, database */
    PS_EXIT_USAGE = 2,    /* bad command line */
    PS_EXIT_CONFIG = 3,   /* the configuration is invalid */
    PS_EXIT_SECURITY = 4, /* key or secret refused: permissions, decryption, missing secret */
    /* The database is damaged: restarting cannot help, `podstream repair` can. The
     * systemd unit names it in RestartPreventExitStatus so it does not loop. */
    PS_EXIT_DAMAGED = 5,
};

/* A subcommand: argv[0] is the subcommand name. */
typedef int (*ps_cmd_fn)(int argc, char **argv);

/* Each command's handler and its description as data (name, summary, usage, option
 * table), defined in cmd_<name>.c. */
#define PS_COMMAND(fn, spec)                                                                       \
    int fn(int argc, char **argv);                                                                 \
    extern const ps_opt_cmd spec;
#include "commands.h"
#undef PS_COMMAND

/* What ps_cli_parse returns when the command should go on. */
#define PS_CLI_RUN (-1)

/* Parses the command line of `cmd` into `dst` (see ps_opt_parse). Prints the help
 * or the version when asked, and a usage error naming the command and the option
 * otherwise. Returns PS_CLI_RUN to go on, else the exit code to return; in both
 * cases the caller frees `positional` and the lists in `dst` (ps_opt_free). */
int ps_cli_parse(const ps_opt_cmd *cmd, int argc, char **argv, void *dst, ps_opt_list *positional);

/* The options of the commands that read the database: -c/--config DIR and --db
 * PATH, into the `config` and `db` fields (const char *) of `type`. */
/* clang-format off */
#define PS_CLI_DATABASE_OPTIONS(type, section)                                                     \
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(type, config),                                 \
     "configuration directory whose `database` setting names\nthe database (default: "            \
     "$PODSTREAM_CONFIG_DIR\nor {config_dir})", section, 0, 0, NULL},                              \
    {"db", 0, PS_OPT_STRING, "PATH", offsetof(type, db), "read this database instead", NULL, 0, 0, \
     NULL}
/* clang-format on */

/* Prints the --help of `cmd` to `out`, with the platform's default paths. */
void ps_cli_print_help(const ps_opt_cmd *cmd, FILE *out);

/* Parses a device id as the configuration accepts it: a whole number within the
 * schema's bounds. False, with the bounds in *min and *max, when it is not. */
bool ps_cli_device_id(const char *s, long long *out, long long *min, long long *max);

/* Opens, read-only, the database named as ps_cli_database_path says. Returns
 * PS_EXIT_OK with *st set (the caller destroys it), else prints why and returns
 * the exit code. */
int ps_cli_open_reader(const char *cmd, const char *db_option, const char *config_option,
                       ps_store **st);

/* The devices a reading command knows by name: the counters the service writes
 * (ps_store_counters_list; the caller frees `c`). */
typedef struct ps_cli_devices {
    ps_device_counters *c;
    size_t n;
} ps_cli_devices;

/* For ps_report_writer.device_name, with a ps_cli_devices as ctx: the device's
 * name (borrowed), or NULL when it has none. */
const char *ps_cli_device_name(long long id, void *ctx);

/* The width of a table on stdout: `option` when not 0, else the terminal's, else
 * $COLUMNS, else 120 (also when narrower than 60). */
int ps_cli_table_width(long long option);

/* Maps an error code to the exit code a script should see. */
int ps_cli_exit_code(ps_err err);

/* The configuration directory: -c/--config, else $PODSTREAM_CONFIG_DIR, else the
 * platform default. Never NULL. (ps_opt refuses an empty -c, so "" never gets
 * here from the command line.) */
const char *ps_cli_config_dir(const char *from_option);

/* Prints "podstream <version> (libcurl x, SQLite y, OpenSSL z)" to `out`. */
void ps_cli_print_version(FILE *out);

/* Prints "podstream <cmd>: <message>" to stderr and returns PS_EXIT_USAGE. */
int ps_cli_usage_error(const char *cmd, const char *fmt, ...) PS_PRINTF(2, 3);

/* The database a reading command opens: `db_option` (--db) when given, else the
 * `database` setting of the configuration in ps_cli_config_dir(config_option).
 * Returns a new string (caller frees); on failure prints why to stderr, naming the
 * file and what to do, and returns NULL with *rc set to the exit code. */
char *ps_cli_database_path(const char *cmd, const char *db_option, const char *config_option,
                           int *rc);

/* Takes the locks a writer of the database holds (`podstream run`, `repair`): the file
 * `<db>.lock` beside it (made, with its directory, when missing), then the database
 * file itself, which nobody can remove from under the lock (see ps_plat_lock). On
 * failure nothing stays held; PS_ERR_CONFLICT when another process holds one. Release
 * with ps_cli_unlock_database once every connection to the database is closed. */
ps_err ps_cli_lock_database(const char *db, ps_plat_lockh locks[2], ps_errmsg *em);
/* The path of the lock file beside database `db` (caller frees; NULL: out of memory). */
char *ps_cli_lock_path(const char *db);
void ps_cli_unlock_database(ps_plat_lockh locks[2]);

#endif
