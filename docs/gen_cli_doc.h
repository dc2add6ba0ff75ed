/* gen_cli_doc: man pages and shell completions from the option tables of the
 * `podstream` commands (service/cmd_*.c) and the schema tables. Shared between
 * gen_cli_doc.c (man pages, main) and gen_cli_complete.c (completions). */
#ifndef GEN_CLI_DOC_H
#define GEN_CLI_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "podstream/ps_compiler.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_opt.h"

/* An output file being built; `oom` is sticky, so writers need not check each step. */
typedef struct gen_out {
    ps_buf b;
    bool oom;
} gen_out;

void gen_put(gen_out *o, const char *s, size_t n);
void gen_puts(gen_out *o, const char *s);
void gen_printf(gen_out *o, const char *fmt, ...) PS_PRINTF(2, 3);

/* The commands in `podstream --help` order (commands.h), and how many. */
extern const ps_opt_cmd *const gen_commands[];
extern const size_t gen_ncommands;

/* The actions of a command that has them (`pipeline test|list`): the first word of
 * each usage line that starts with a lowercase word. Returns how many were put in
 * `words` (each at most 31 characters). */
size_t gen_actions(const ps_opt_cmd *c, char words[][32], size_t max);

/* What an option's value is, for completions. */
typedef enum gen_value {
    GEN_VALUE_NONE,  /* a flag */
    GEN_VALUE_WORD,  /* free text: nothing to complete */
    GEN_VALUE_DIR,   /* a directory (argument named DIR) */
    GEN_VALUE_FILE,  /* a file (argument named PATH, FILE or EVENTS) */
    GEN_VALUE_CHOICE /* one of o->choices */
} gen_value;

gen_value gen_value_of(const ps_opt *o);

/* The first line of an option's help, with {config_dir} substituted and the
 * characters in `drop` left out: a one-line description for a completion. */
void gen_summary(const ps_opt *o, const char *drop, char *buf, size_t len);

/* Completion scripts for bash, zsh and fish. */
void gen_bash(gen_out *o);
void gen_zsh(gen_out *o);
void gen_fish(gen_out *o);

#endif
