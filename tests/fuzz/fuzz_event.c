/* libFuzzer target for event frames: bytes -> ps_event_parse as each data type,
 * then ps_event_extract (natural key, ts, typed fields with the RFC 2047 subject),
 * as a worker does with every frame it receives. The same bytes also go straight
 * to the RFC 2047 decoder, as one header value.
 *
 * Besides memory errors, the contract is checked: a parse either fails with a
 * reason or gives an object with a key; every typed field is valid UTF-8 (they go
 * into SQLite and the full-text index); the decoder always gives valid UTF-8.
 *
 * The workers' own JSON parser (ps_event_json_parse) must build exactly cJSON's
 * tree, or fail exactly where cJSON fails: every input is parsed by both and the
 * results compared node by node (types, keys, strings, numbers to the bit, the
 * first child's prev link) and by where the value ended. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/ps_event_json.h"
#include "event/ps_event_rfc2047.h"
#include "podstream/ps_event.h"
#include "podstream/ps_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Frames are capped by max_frame_size; far less reaches every branch. */
#define FUZZ_MAX_INPUT (256u * 1024u)

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_text(const char *s)
{
    if (s)
        check(ps_utf8_valid(s, strlen(s), NULL));
}

static void run_type(ps_data_type type, const char *raw, size_t len)
{
    ps_event ev;
    ps_errmsg em;
    ps_err err;

    ps_event_init(&ev);
    em.text[0] = '\0';
    err = ps_event_parse(&ev, type, raw, len, &em);
    check(err == PS_OK || err == PS_ERR_PARSE || err == PS_ERR_NOMEM);
    if (err != PS_OK) {
        check(em.text[0] != '\0' && ev.root == NULL);
        ps_event_deinit(&ev);
        return;
    }
    check(cJSON_IsObject(ev.root) && ev.key && *ev.key);
    err = ps_event_extract(&ev, &em);
    check(err == PS_OK || err == PS_ERR_NOMEM);
    if (err == PS_OK) {
        check(ev.key != NULL);
        check_text(ev.key);
        for (int f = 0; f < PS_EF__COUNT; f++)
            check_text(ev.text[f]);
    }
    ps_event_deinit(&ev);
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_tree(const cJSON *a, const cJSON *b)
{
    for (; a && b; a = a->next, b = b->next) {
        if (a->type != b->type || a->valueint != b->valueint ||
            memcmp(&a->valuedouble, &b->valuedouble, sizeof a->valuedouble) != 0 ||
            !same_text(a->string, b->string) || !same_text(a->valuestring, b->valuestring) ||
            !same_tree(a->child, b->child))
            return false;
        /* cJSON appends through the first child's prev: it must be the last one */
        if (a->child &&
            (!a->child->prev || !b->child->prev || a->child->prev->next || b->child->prev->next))
            return false;
    }
    return !a && !b;
}

static void compare_parsers(const char *raw, size_t len)
{
    const char *end_ours = NULL, *end_cjson = NULL;
    cJSON *ours, *theirs;

    /* ps_event_parse refuses a NUL before either parser sees it */
    if (memchr(raw, '\0', len))
        return;
    ours = ps_event_json_parse(raw, len, &end_ours);
    theirs = cJSON_ParseWithLengthOpts(raw, len, &end_cjson, 0);
    check((ours == NULL) == (theirs == NULL));
    if (ours) {
        check(end_ours == end_cjson);
        check(same_tree(ours, theirs));
    }
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    char *decoded;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    compare_parsers(raw, size);
    run_type(PS_DATA_MESSAGE, raw, size);
    run_type(PS_DATA_MAILLOG, raw, size);
    run_type(PS_DATA_AUDIT, raw, size);

    decoded = ps_event_rfc2047_decode(raw, size);
    check(decoded != NULL);
    check_text(decoded);
    free(decoded);
    return 0;
}
