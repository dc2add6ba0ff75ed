/* libFuzzer target for the command line: ps_opt_parse with the real option table
 * of every podstream command (commands.h), and ps_time on every argument (ISO 8601,
 * durations, --since/--until values) and ps_cli_device_id, as the commands check
 * their values after parsing.
 *
 * Input: byte 0 picks the command; the rest, split at NUL bytes, is argv[1..]
 * (at most 64 words). Besides memory errors the contract is checked: a usage error
 * says why; every string or list value the parser stored points to a non-empty
 * word of argv; choices and numbers are within their table's bounds when given;
 * ISO 8601 and durations read back what they format. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (16u * 1024u)
#define MAX_ARGS       64
/* 2024-05-22T12:00:00Z: a fixed "now", so that a run is reproducible. */
#define NOW_US 1716379200000000LL

static const ps_opt_cmd *const commands[] = {
#define PS_COMMAND(fn, spec) &spec,
#include "commands.h"
#undef PS_COMMAND
};

/* Room for any command's options struct (checked against each table below). */
typedef union opts_room {
    max_align_t align;
    unsigned char bytes[1024];
} opts_room;

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* True when s is one of the words argv[1..argc). */
static bool is_arg(const char *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (s >= argv[i] && s <= argv[i] + strlen(argv[i]))
            return true;
    return false;
}

static size_t count_choices(const char *choices)
{
    size_t n = 1;
    for (const char *p = choices; *p; p++)
        n += *p == '|';
    return n;
}

static void check_values(const ps_opt_cmd *cmd, const opts_room *room, int argc, char **argv)
{
    for (size_t i = 0; i < cmd->nopts; i++) {
        const ps_opt *o = &cmd->opts[i];
        const unsigned char *field = room->bytes + o->offset;
        if (o->type == PS_OPT_STRING) {
            const char *s;
            memcpy(&s, field, sizeof s);
            check(!s || (*s && is_arg(s, argc, argv)));
        } else if (o->type == PS_OPT_INT) {
            long long v;
            memcpy(&v, field, sizeof v);
            check(v == 0 || (v >= o->min && v <= o->max));
        } else if (o->type == PS_OPT_CHOICE) {
            int v;
            memcpy(&v, field, sizeof v);
            check(v >= 0 && (size_t)v < count_choices(o->choices));
        } else if (o->type == PS_OPT_LIST) {
            ps_opt_list l;
            memcpy(&l, field, sizeof l);
            for (size_t j = 0; j < l.n; j++)
                check(*l.v[j] && is_arg(l.v[j], argc, argv));
        }
    }
}

static void parse_command(const ps_opt_cmd *cmd, int argc, char **argv)
{
    opts_room room;
    ps_opt_list positional = {0};
    ps_opt_action action = PS_OPT_RUN;
    ps_errmsg em;
    ps_err err;

    for (size_t i = 0; i < cmd->nopts; i++)
        check(cmd->opts[i].offset + sizeof(ps_opt_list) <= sizeof room.bytes);
    memset(&room, 0, sizeof room);
    em.text[0] = '\0';
    err = ps_opt_parse(cmd, argc, argv, &room, &positional, &action, &em);
    check(err == PS_OK || err == PS_ERR_USAGE || err == PS_ERR_NOMEM);
    if (err == PS_ERR_USAGE)
        check(em.text[0] != '\0');
    if (err == PS_OK) {
        check(action <= PS_OPT_VERSION);
        check_values(cmd, &room, argc, argv);
        for (size_t i = 0; i < positional.n; i++)
            check(is_arg(positional.v[i], argc, argv));
    }
    ps_opt_free(cmd, &room);
    ps_opt_list_free(&positional);
}

/* Every time reader on one word, and what it reads formatted and read again. */
static void parse_time(const char *s)
{
    char buf[64];
    int64_t us = 0, again = 0, ms = 0;
    long long id, min, max;
    ps_errmsg em;

    if (ps_time_parse_iso(s, &us) == PS_OK) {
        ps_time_format_iso(us, buf, sizeof buf);
        if (ps_time_parse_iso(buf, &again) == PS_OK)
            check(again == us);
        (void)ps_time_format_local(us, false, true, buf, sizeof buf);
    }
    if (ps_time_parse_duration(s, &ms) == PS_OK) {
        ps_time_format_duration(ms, buf, sizeof buf);
        if (ms >= 0) {
            check(ps_time_parse_duration(buf, &again) == PS_OK);
            check(again == ms);
        }
        ps_time_format_elapsed(ms, buf, sizeof buf);
    }
    em.text[0] = '\0';
    if (ps_time_parse_when(s, NOW_US, &us, &em) == PS_OK)
        ps_time_format_iso(us, buf, sizeof buf);
    else
        check(em.text[0] != '\0');
    if (ps_cli_device_id(s, &id, &min, &max))
        check(id >= min && id <= max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ps_opt_cmd *cmd;
    char *words, *argv[MAX_ARGS + 2];
    int argc = 1;

    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    cmd = commands[data[0] % (sizeof commands / sizeof commands[0])];
    /* The words, each NUL-terminated as argv strings are. */
    words = malloc(size);
    check(words != NULL);
    memcpy(words, data + 1, size - 1);
    words[size - 1] = '\0';
    argv[0] = (char *)cmd->name;
    for (char *p = words; p < words + size - 1 && argc <= MAX_ARGS; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    parse_command(cmd, argc, argv);
    for (int i = 1; i < argc; i++)
        parse_time(argv[i]);
    free(words);
    return 0;
}
