/* Helpers shared by the ps_event tests: fixtures, parse expectations, trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event_fixture.h"
#include "podstream/ps_platform.h"

/* ---- helpers ------------------------------------------------------------------ */

char *read_fixture(const char *env, const char *name, size_t *len)
{
    const char *dir = getenv(env);
    char path[1024];
    char *buf = NULL;
    ps_errmsg em = {{0}};

    if (!dir)
        fail_msg("%s is not set (run the test through ctest)", env);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ps_plat_read_file(path, 16u << 20, &buf, len, &em) != PS_OK)
        fail_msg("cannot read %s: %s", path, em.text);
    return buf;
}

/* Line `n` (1-based) of a JSONL file, as a new string without the newline. */
char *fixture_line(const char *env, const char *name, int n)
{
    size_t len;
    char *all = read_fixture(env, name, &len);
    char *p = all, *line = NULL;

    for (int i = 1; p && p < all + len; i++) {
        char *nl = memchr(p, '\n', (size_t)(all + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(all + len - p);
        if (i == n) {
            line = strndup(p, l);
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(all);
    if (!line)
        fail_msg("%s has no line %d", name, n);
    return line;
}

void parse_ok(ps_event *ev, ps_data_type type, const char *raw, size_t len)
{
    ps_errmsg em = {{0}};
    ps_err err = ps_event_parse(ev, type, raw, len, &em);
    if (err != PS_OK)
        fail_msg("parse failed (%s): %s", ps_strerror(err), em.text);
    err = ps_event_extract(ev, &em);
    if (err != PS_OK)
        fail_msg("extract failed (%s): %s", ps_strerror(err), em.text);
}

/* Expects the parse to fail with PS_ERR_PARSE and exactly `reason`. */
void parse_fails(ps_data_type type, const char *raw, size_t len, const char *reason)
{
    ps_event ev;
    ps_errmsg em = {{0}};

    ps_event_init(&ev);
    assert_int_equal(ps_event_parse(&ev, type, raw, len, &em), PS_ERR_PARSE);
    assert_string_equal(em.text, reason);
    assert_null(ev.root);
    assert_null(ev.key);
    ps_event_deinit(&ev);
}

void parse_fails_str(ps_data_type type, const char *raw, const char *reason)
{
    parse_fails(type, raw, strlen(raw), reason);
}

void assert_ts(int64_t us, const char *utc)
{
    char buf[40];
    ps_time_format_iso(us, buf, sizeof buf);
    assert_string_equal(buf, utc);
}

/* A minimal message tree: guid, ts and whatever the test adds. */
cJSON *base_message(void)
{
    cJSON *root = cJSON_CreateObject();
    assert_non_null(root);
    cJSON_AddStringToObject(root, "guid", "guid-0001");
    cJSON_AddStringToObject(root, "ts", "2024-05-22T12:10:03.058340-0700");
    return root;
}

/* Puts `root` into ev (which takes it) and extracts. */
void extract_tree(ps_event *ev, ps_data_type type, cJSON *root)
{
    ps_errmsg em = {{0}};
    ps_event_init(ev);
    ev->type = type;
    ev->root = root;
    ps_err err = ps_event_extract(ev, &em);
    if (err != PS_OK)
        fail_msg("extract failed (%s): %s", ps_strerror(err), em.text);
}

/* The subject extracted from a message whose msg.header.subject[0] is `raw`. */
/* Sample line 1 of message.jsonl with one member replaced: `path` is a dotted
 * object path whose last step is replaced by `value` (which the tree takes). */
cJSON *message_with(const char *path, cJSON *value)
{
    char *line = fixture_line("PS_SAMPLES", "message.jsonl", 1);
    cJSON *root = cJSON_Parse(line);
    char buf[256];
    char *save = NULL, *step, *next;
    cJSON *node = root;

    free(line);
    assert_non_null(root);
    snprintf(buf, sizeof buf, "%s", path);
    step = strtok_r(buf, ".", &save);
    while ((next = strtok_r(NULL, ".", &save)) != NULL) {
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, step);
        if (!child)
            child = cJSON_AddObjectToObject(node, step);
        node = child;
        step = next;
    }
    if (value) {
        if (cJSON_GetObjectItemCaseSensitive(node, step))
            cJSON_ReplaceItemInObjectCaseSensitive(node, step, value);
        else
            cJSON_AddItemToObject(node, step, value);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(node, step);
    }
    return root;
}

/* ---- fixtures: every shared sample, every field -------------------------------- */
