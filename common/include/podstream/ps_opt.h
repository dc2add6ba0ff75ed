/* ps_opt: table-driven command-line options, shared by every podstream command
 * (and the GUI).
 *
 * A command is described once, as data: its name, usage lines, description and one
 * table of options (long name, short letter, argument name, type, help text). The
 * same table drives parsing, the --help text and, later, man pages and shell
 * completions. Parsing writes each value into the caller's struct at the offset
 * the table names, so a command's own code only checks what the table cannot say.
 *
 * Accepted spellings: `--opt value`, `--opt=value`, `-x value`, `-xvalue`, bundled
 * flags `-qz` (the last letter of a bundle may take a value), `--` ending the
 * options. A value may start with '-' (`--device -1`), except that a word starting
 * with `--` is never taken as the value of the option before it: `--qid --limit 5`
 * is a missing value, not a queue id of "--limit" (write `--qid=--limit` for that).
 * `-h`/`--help` and `-V`/`--version` are built in (ps_opt_builtins). Arguments that
 * are not options, including negative numbers such as `-5`, are positional and may
 * come anywhere. No getopt: this builds with MinGW and MSVC. */
#ifndef PS_OPT_H
#define PS_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "podstream/ps_error.h"

typedef enum ps_opt_type {
    PS_OPT_FLAG,   /* no value; sets a bool to true */
    PS_OPT_STRING, /* a non-empty string (const char *, borrowed from argv); last one wins */
    PS_OPT_INT,    /* a whole number from min to max (long long) */
    PS_OPT_CHOICE, /* one word of `choices` ("table|json|csv"); its index (int) */
    PS_OPT_LIST,   /* a non-empty string, repeatable; all of them (ps_opt_list) */
} ps_opt_type;

/* One option, written {name, letter, type, arg, offset, help, section, min, max,
 * choices}. `offset` is where its value goes in the caller's struct
 * (offsetof(struct, field)); the field's C type follows `type`, see above. */
typedef struct ps_opt {
    const char *name;    /* long name without the dashes: "config" */
    char letter;         /* short letter, or 0 for none */
    ps_opt_type type;    /* what the value is */
    const char *arg;     /* name of the value in help ("DIR"); NULL for PS_OPT_FLAG */
    size_t offset;       /* where it goes in the caller's struct */
    const char *help;    /* help text; '\n' starts a line; "{key}" is substituted */
    const char *section; /* heading of the group it starts in --help; NULL: same as before */
    long long min, max;  /* PS_OPT_INT bounds, inclusive */
    const char *choices; /* PS_OPT_CHOICE words, separated by '|' */
} ps_opt;

/* Command flags. */
enum {
    /* Arguments may be secrets (a token typed in the wrong place): error messages
     * repeat an unknown option only when it looks like an option name, and never a
     * value. */
    PS_OPT_CMD_SECRET_ARGS = 1u << 0,
};

/* A command: everything its --help says, and its options. All static data. */
typedef struct ps_opt_cmd {
    const char *name;        /* "query" */
    const char *summary;     /* one line for the list of commands */
    const char *usage;       /* usage after "PROG NAME ", one line each, '\n' between */
    const char *description; /* paragraphs before the options; may be NULL */
    const ps_opt *opts;      /* the option table */
    size_t nopts;            /* its length */
    const char *epilog;      /* text after the options (examples, exit codes); may be NULL */
    unsigned flags;          /* PS_OPT_CMD_* */
} ps_opt_cmd;

/* The options every command has, which the table does not list: -h/--help and
 * -V/--version. For generators of man pages and completions. */
extern const ps_opt ps_opt_builtins[2];

/* Strings collected by a PS_OPT_LIST option or as positional arguments. The
 * pointers are borrowed from argv; the array is the parser's: ps_opt_list_free. */
typedef struct ps_opt_list {
    const char **v;
    size_t n;
} ps_opt_list;

/* Frees what ps_opt_parse allocated for `list` and empties it. NULL allowed. */
void ps_opt_list_free(ps_opt_list *list);

/* Frees the PS_OPT_LIST values of `cmd` in `dst` (as filled by ps_opt_parse). */
void ps_opt_free(const ps_opt_cmd *cmd, void *dst);

/* What the command line asks for, when it parses. */
typedef enum ps_opt_action {
    PS_OPT_RUN,     /* run the command */
    PS_OPT_HELP,    /* -h or --help was given: print the help and exit */
    PS_OPT_VERSION, /* -V or --version was given: print the version and exit */
} ps_opt_action;

/* Parses argv[1..argc-1] (argv[0] is the command name) against cmd's table,
 * writing values into `dst` at each option's offset; fields of options not given
 * keep what the caller put there (the defaults). Positional arguments are appended
 * to `positional` (zero it first; free it with ps_opt_list_free), and LIST values to
 * their lists (free them with ps_opt_free), in every outcome. Stops at the first
 * help or version option. On a bad command line returns PS_ERR_USAGE with a message
 * naming the option, as typed, in `em` ("unknown option '--bogus'", "--limit needs
 * a value", "--width: 'x' is not a whole number from 60 to 1000"); PS_ERR_NOMEM. */
ps_err ps_opt_parse(const ps_opt_cmd *cmd, int argc, char **argv, void *dst,
                    ps_opt_list *positional, ps_opt_action *action, ps_errmsg *em);

/* A "{key}" in help texts and what to print for it. */
typedef struct ps_opt_subst {
    const char *key; /* "{config_dir}" */
    const char *value;
} ps_opt_subst;

/* Prints cmd's --help: "usage: PROG NAME ..." lines, the description, the options
 * grouped by section with the built-ins last, and the epilog. Borrows everything. */
void ps_opt_print_help(const ps_opt_cmd *cmd, const char *prog, const ps_opt_subst *subst,
                       size_t nsubst, FILE *out);

/* Looks a long option up by name: the table entry, or NULL (built-ins included). */
const ps_opt *ps_opt_find(const ps_opt_cmd *cmd, const char *name);

#endif
