#include "podstream/ps_opt.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const ps_opt ps_opt_builtins[2] = {
    {"help", 'h', PS_OPT_FLAG, NULL, 0, "show this help", NULL, 0, 0, NULL},
    {"version", 'V', PS_OPT_FLAG, NULL, 0, "show the version and the library versions", NULL, 0, 0,
     NULL},
};

/* Option names longer than this are not repeated in messages of a command whose
 * arguments may be secrets: a real option name is short, a token is not. */
#define SECRET_NAME_MAX 32

typedef struct parser {
    const ps_opt_cmd *cmd;
    int argc;
    char **argv;
    int i; /* the argument being read */
    void *dst;
    ps_opt_list *positional;
    ps_opt_action *action;
    ps_errmsg *em;
} parser;

void ps_opt_list_free(ps_opt_list *list)
{
    if (!list)
        return;
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

void ps_opt_free(const ps_opt_cmd *cmd, void *dst)
{
    for (size_t k = 0; k < cmd->nopts; k++)
        if (cmd->opts[k].type == PS_OPT_LIST)
            ps_opt_list_free((ps_opt_list *)((char *)dst + cmd->opts[k].offset));
}

/* Room for every argument is taken at once: a list never holds more than argc. */
static ps_err list_add(ps_opt_list *list, const char *s, int argc)
{
    if (!list->v) {
        list->v = calloc((size_t)argc + 1, sizeof *list->v);
        if (!list->v)
            return PS_ERR_NOMEM;
    }
    list->v[list->n++] = s;
    return PS_OK;
}

static const ps_opt *find_long(const ps_opt_cmd *cmd, const char *name, size_t len)
{
    for (size_t k = 0; k < cmd->nopts; k++)
        if (strlen(cmd->opts[k].name) == len && strncmp(cmd->opts[k].name, name, len) == 0)
            return &cmd->opts[k];
    for (size_t k = 0; k < 2; k++)
        if (strlen(ps_opt_builtins[k].name) == len &&
            strncmp(ps_opt_builtins[k].name, name, len) == 0)
            return &ps_opt_builtins[k];
    return NULL;
}

const ps_opt *ps_opt_find(const ps_opt_cmd *cmd, const char *name)
{
    return find_long(cmd, name, strlen(name));
}

static const ps_opt *find_short(const ps_opt_cmd *cmd, char c)
{
    for (size_t k = 0; k < cmd->nopts; k++)
        if (cmd->opts[k].letter == c)
            return &cmd->opts[k];
    for (size_t k = 0; k < 2; k++)
        if (ps_opt_builtins[k].letter == c)
            return &ps_opt_builtins[k];
    return NULL;
}

static bool is_builtin(const ps_opt *o)
{
    return o >= ps_opt_builtins && o < ps_opt_builtins + 2;
}

/* Only lower-case letters, digits and dashes, and short: safe to repeat even
 * where an argument may be a secret. */
static bool looks_like_option(const char *s, size_t len)
{
    if (len > SECRET_NAME_MAX)
        return false;
    for (size_t k = 0; k < len; k++)
        if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '-'))
            return false;
    return true;
}

static bool secret(const parser *p)
{
    return (p->cmd->flags & PS_OPT_CMD_SECRET_ARGS) != 0;
}

/* `arg` is the whole argument, `len` how much of it names the option. */
static ps_err unknown(const parser *p, const char *arg, size_t len)
{
    if (secret(p) && !looks_like_option(arg, strlen(arg) < len ? strlen(arg) : len))
        return ps_errmsg_set(p->em, PS_ERR_USAGE,
                             "unknown option (not shown, in case it is a secret)");
    return ps_errmsg_set(p->em, PS_ERR_USAGE, "unknown option '%.*s'", (int)len, arg);
}

/* The words of a choice list as "a, b or c". */
static void choice_text(const char *choices, char *buf, size_t cap)
{
    size_t o = 0, words = 1;
    for (const char *c = choices; *c; c++)
        words += *c == '|';
    for (size_t w = 0; w < words && o + 1 < cap; w++) {
        size_t len = strcspn(choices, "|");
        int n = snprintf(buf + o, cap - o, "%s%.*s",
                         w == 0           ? ""
                         : w + 1 == words ? " or "
                                          : ", ",
                         (int)len, choices);
        if (n < 0)
            break;
        o += (size_t)n;
        choices += len + (choices[len] == '|');
    }
}

static ps_err set_choice(const parser *p, const ps_opt *o, const char *spelled, const char *value,
                         int *out)
{
    const char *c = o->choices;
    char words[256];
    for (int index = 0; *c; index++) {
        size_t len = strcspn(c, "|");
        if (strlen(value) == len && strncmp(c, value, len) == 0) {
            *out = index;
            return PS_OK;
        }
        c += len + (c[len] == '|');
    }
    choice_text(o->choices, words, sizeof words);
    if (secret(p))
        return ps_errmsg_set(p->em, PS_ERR_USAGE, "%s must be %s", spelled, words);
    return ps_errmsg_set(p->em, PS_ERR_USAGE, "%s must be %s, not '%s'", spelled, words, value);
}

static ps_err set_int(const parser *p, const ps_opt *o, const char *spelled, const char *value,
                      long long *out)
{
    char *end = NULL;
    long long v;
    errno = 0;
    v = strtoll(value, &end, 10);
    if (errno == 0 && end != value && *end == '\0' && v >= o->min && v <= o->max &&
        (value[0] == '-' || (value[0] >= '0' && value[0] <= '9'))) {
        *out = v;
        return PS_OK;
    }
    if (secret(p))
        return ps_errmsg_set(p->em, PS_ERR_USAGE, "%s: not a whole number from %lld to %lld",
                             spelled, o->min, o->max);
    return ps_errmsg_set(p->em, PS_ERR_USAGE, "%s: '%s' is not a whole number from %lld to %lld",
                         spelled, value, o->min, o->max);
}

/* Stores the value of `o`, spelled `spelled` on the command line. */
static ps_err set_value(parser *p, const ps_opt *o, const char *spelled, const char *value)
{
    void *field = (char *)p->dst + o->offset;
    if (is_builtin(o)) {
        *p->action = o->letter == 'h' ? PS_OPT_HELP : PS_OPT_VERSION;
        return PS_OK;
    }
    if (o->type == PS_OPT_FLAG) {
        *(bool *)field = true;
        return PS_OK;
    }
    if (!*value)
        return ps_errmsg_set(p->em, PS_ERR_USAGE, "%s needs a value, not an empty string", spelled);
    switch (o->type) {
    case PS_OPT_STRING:
        *(const char **)field = value;
        return PS_OK;
    case PS_OPT_INT:
        return set_int(p, o, spelled, value, (long long *)field);
    case PS_OPT_CHOICE:
        return set_choice(p, o, spelled, value, (int *)field);
    case PS_OPT_LIST:
        return list_add((ps_opt_list *)field, value, p->argc);
    default:
        return ps_errmsg_set(p->em, PS_ERR_INTERNAL, "%s: unknown option type", spelled);
    }
}

/* The value of an option that needs one and was not given it attached: the next
 * argument, unless there is none or it is itself a long option. */
static ps_err next_value(parser *p, const ps_opt *o, const char *spelled)
{
    const char *next = p->i + 1 < p->argc ? p->argv[p->i + 1] : NULL;
    if (!next)
        return ps_errmsg_set(p->em, PS_ERR_USAGE, "%s needs a value", spelled);
    if (next[0] == '-' && next[1] == '-' && next[2])
        return ps_errmsg_set(p->em, PS_ERR_USAGE,
                             "%s needs a value (for a value that starts with --, write "
                             "--%s=VALUE)",
                             spelled, o->name);
    p->i++;
    return set_value(p, o, spelled, next);
}

static ps_err parse_long(parser *p, const char *arg)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    const ps_opt *o = find_long(p->cmd, name, len);
    char spelled[SECRET_NAME_MAX + 64];

    if (!o)
        return unknown(p, arg, len + 2);
    snprintf(spelled, sizeof spelled, "--%s", o->name);
    if (name[len] == '=') {
        if (o->type == PS_OPT_FLAG)
            return ps_errmsg_set(p->em, PS_ERR_USAGE, "%s takes no value", spelled);
        return set_value(p, o, spelled, name + len + 1);
    }
    if (o->type == PS_OPT_FLAG)
        return set_value(p, o, spelled, NULL);
    return next_value(p, o, spelled);
}

/* -x, -xVALUE, -x VALUE, or a bundle of flags -qz whose last letter may take a
 * value. */
static ps_err parse_short(parser *p, const char *arg)
{
    for (const char *c = arg + 1; *c; c++) {
        const ps_opt *o = find_short(p->cmd, *c);
        char spelled[3] = {'-', *c, '\0'};
        ps_err err;
        if (!o) {
            if (secret(p) && !looks_like_option(arg, strlen(arg)))
                return unknown(p, arg, strlen(arg));
            return unknown(p, spelled, 2);
        }
        if (o->type != PS_OPT_FLAG)
            return c[1] ? set_value(p, o, spelled, c + 1) : next_value(p, o, spelled);
        err = set_value(p, o, spelled, NULL);
        if (err != PS_OK || *p->action != PS_OPT_RUN)
            return err;
    }
    return PS_OK;
}

/* "-" (standard input, by convention) and negative numbers are arguments, not
 * options: no option letter is a digit. */
static bool is_option(const char *arg)
{
    return arg[0] == '-' && arg[1] && !(arg[1] >= '0' && arg[1] <= '9') && arg[1] != '.';
}

ps_err ps_opt_parse(const ps_opt_cmd *cmd, int argc, char **argv, void *dst,
                    ps_opt_list *positional, ps_opt_action *action, ps_errmsg *em)
{
    parser p = {cmd, argc, argv, 1, dst, positional, action, em};
    bool options = true;
    ps_err err = PS_OK;

    *action = PS_OPT_RUN;
    for (; err == PS_OK && *action == PS_OPT_RUN && p.i < argc; p.i++) {
        const char *arg = argv[p.i];
        if (options && strcmp(arg, "--") == 0)
            options = false;
        else if (options && arg[0] == '-' && arg[1] == '-')
            err = parse_long(&p, arg);
        else if (options && is_option(arg))
            err = parse_short(&p, arg);
        else
            err = list_add(positional, arg, argc);
    }
    if (err == PS_ERR_NOMEM)
        ps_errmsg_set(em, err, "out of memory");
    return err;
}

/* ---- help ------------------------------------------------------------------------ */

/* The substitution whose key starts `text`, or NULL. */
static const ps_opt_subst *subst_at(const char *text, const ps_opt_subst *subst, size_t nsubst)
{
    for (size_t k = 0; k < nsubst; k++)
        if (strncmp(text, subst[k].key, strlen(subst[k].key)) == 0)
            return &subst[k];
    return NULL;
}

/* Prints `text`, replacing "{key}"s and indenting every line after the first by
 * `indent` spaces. */
static void put_text(FILE *out, const char *text, const ps_opt_subst *subst, size_t nsubst,
                     int indent)
{
    for (const char *c = text; *c; c++) {
        const ps_opt_subst *s = *c == '{' ? subst_at(c, subst, nsubst) : NULL;
        if (*c == '\n') {
            fprintf(out, "\n%*s", c[1] && c[1] != '\n' ? indent : 0, "");
        } else if (s) {
            fputs(s->value, out);
            c += strlen(s->key) - 1;
        } else {
            fputc(*c, out);
        }
    }
}

/* "  -c, --config DIR" or "      --db PATH". */
static int label(const ps_opt *o, char *buf, size_t cap)
{
    int n =
        snprintf(buf, cap, "  %c%c%s--%s%s%s", o->letter ? '-' : ' ', o->letter ? o->letter : ' ',
                 o->letter ? ", " : "  ", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    return n < 0 ? 0 : n;
}

/* Wider labels start their help on the next line. */
#define HELP_COLUMN_MAX 28

static void print_option(FILE *out, const ps_opt *o, int column, const ps_opt_subst *subst,
                         size_t nsubst)
{
    char buf[160];
    int n = label(o, buf, sizeof buf);
    fputs(buf, out);
    if (n + 2 > column)
        fprintf(out, "\n%*s", column, "");
    else
        fprintf(out, "%*s", column - n, "");
    put_text(out, o->help ? o->help : "", subst, nsubst, column);
    fputc('\n', out);
}

static int help_column(const ps_opt_cmd *cmd)
{
    char buf[160];
    int column = 0;
    for (size_t k = 0; k < cmd->nopts + 2; k++) {
        const ps_opt *o = k < cmd->nopts ? &cmd->opts[k] : &ps_opt_builtins[k - cmd->nopts];
        int n = label(o, buf, sizeof buf) + 2;
        if (n > column && n <= HELP_COLUMN_MAX)
            column = n;
    }
    return column;
}

void ps_opt_print_help(const ps_opt_cmd *cmd, const char *prog, const ps_opt_subst *subst,
                       size_t nsubst, FILE *out)
{
    int column = help_column(cmd);
    int indent = (int)(strlen(prog) + strlen(cmd->name)) + 9;

    fprintf(out, "usage: %s %s ", prog, cmd->name);
    for (const char *u = cmd->usage; *u; u++) {
        if (*u == '\n' && u[1] && u[1] != ' ')
            fprintf(out, "\n       %s %s ", prog, cmd->name);
        else if (*u == '\n')
            fprintf(out, "\n%*s", indent - 1, "");
        else
            fputc(*u, out);
    }
    fputc('\n', out);
    if (cmd->description) {
        fputc('\n', out);
        put_text(out, cmd->description, subst, nsubst, 0);
        fputc('\n', out);
    }
    for (size_t k = 0; k < cmd->nopts + 2; k++) {
        const ps_opt *o = k < cmd->nopts ? &cmd->opts[k] : &ps_opt_builtins[k - cmd->nopts];
        if (k == 0 || (k < cmd->nopts && o->section))
            fprintf(out, "\n%s:\n", k < cmd->nopts && o->section ? o->section : "Options");
        print_option(out, o, column, subst, nsubst);
    }
    if (cmd->epilog) {
        fputc('\n', out);
        put_text(out, cmd->epilog, subst, nsubst, 0);
        fputc('\n', out);
    }
}
