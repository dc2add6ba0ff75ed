/* ps_event: a frame checked and parsed, and the values the store needs pulled out
 * of it. The pieces live beside this file, each depending only on those after it:
 * ps_event_key (natural key) -> ps_event_fields (typed fields) -> ps_event_json
 * (why a frame is not JSON) and ps_event_rfc2047 (subjects); ps_event_time (ts)
 * stands alone. */
#include "podstream/ps_event.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "event/ps_event_arena.h"
#include "event/ps_event_fields.h"
#include "event/ps_event_json.h"
#include "event/ps_event_key.h"
#include "event/ps_event_time.h"
#include "podstream/ps_utf8.h"

static const char *const field_names[PS_EF__COUNT] = {
    [PS_EF_SENDER] = "sender",
    [PS_EF_RECIPIENTS] = "recipients",
    [PS_EF_SUBJECT] = "subject",
    [PS_EF_DISPOSITION] = "disposition",
    [PS_EF_ACTION] = "action",
    [PS_EF_MODULE] = "module",
    [PS_EF_RULE] = "rule",
    [PS_EF_DIRECTION] = "direction",
    [PS_EF_QID] = "qid",
    [PS_EF_MESSAGE_ID] = "message_id",
    [PS_EF_CLIENT_IP] = "client_ip",
    [PS_EF_CLIENT_HOST] = "client_host",
    [PS_EF_COUNTRY] = "country",
    [PS_EF_STAT] = "stat",
    [PS_EF_DSN] = "dsn",
    [PS_EF_RELAY] = "relay",
    [PS_EF_ACTOR] = "actor",
    [PS_EF_RESOURCE] = "resource",
    [PS_EF_RESULT] = "result",
};

const char *ps_event_field_name(ps_event_field f)
{
    if ((int)f < 0 || f >= PS_EF__COUNT)
        return NULL;
    return field_names[f];
}

void ps_event_init(ps_event *ev)
{
    memset(ev, 0, sizeof *ev);
}

static void free_texts(char **text)
{
    for (int i = 0; i < PS_EF__COUNT; i++) {
        free(text[i]);
        text[i] = NULL;
    }
}

void ps_event_deinit(ps_event *ev)
{
    if (!ev)
        return;
    ps_event_tree_free(ev->root);
    free(ev->key);
    free_texts(ev->text);
    memset(ev, 0, sizeof *ev);
}

/* ---- extraction ---------------------------------------------------------------- */

/* Computes key and ts (unless only `typed`) and with `typed` every typed field, and
 * stores them in ev only when all succeed, so a failure leaves the previous values
 * intact. */
static ps_err extract(ps_event *ev, const char *raw, size_t len, bool key_ts, bool typed,
                      ps_errmsg *em)
{
    ps_event_fields f = {0};
    char *key = NULL;
    int64_t ts = 0;
    ps_err err;

    if (!cJSON_IsObject(ev->root)) {
        err = ps_errmsg_set(em, PS_ERR_PARSE, "not a JSON object");
        goto cleanup;
    }
    if (key_ts && ((err = ps_event_extract_ts(ev->root, &ts, em)) != PS_OK ||
                   (err = ps_event_extract_key(ev, raw, len, &key, em)) != PS_OK))
        goto cleanup;
    if (typed && (err = ps_event_extract_fields(ev->type, ev->root, &f)) != PS_OK) {
        err = ps_errmsg_set(em, err, "out of memory extracting fields");
        goto cleanup;
    }
    if (key_ts) {
        free(ev->key);
        ev->key = key;
        key = NULL;
        ev->ts_us = ts;
    }
    if (typed) {
        free_texts(ev->text);
        memcpy(ev->text, f.text, sizeof f.text);
        memset(f.text, 0, sizeof f.text);
        ev->spam_score = f.has_spam_score ? f.spam_score : 0;
        ev->has_spam_score = f.has_spam_score;
        ev->size_bytes = f.has_size ? f.size_bytes : 0;
        ev->has_size = f.has_size;
    }
cleanup:
    free(key);
    free_texts(f.text);
    return err;
}

/* ---- entry points ---------------------------------------------------------------- */

ps_err ps_event_parse(ps_event *ev, ps_data_type type, const char *raw, size_t len, ps_errmsg *em)
{
    size_t bad = 0, skip = 0;
    const char *end = NULL, *nul;
    cJSON *root;
    ps_err err;

    ps_event_deinit(ev);
    ev->type = type;
    if ((unsigned)type > PS_DATA_AUDIT)
        return ps_errmsg_set(em, PS_ERR_INVALID, "unknown data type %d", (int)type);
    if (!raw || len == 0)
        return ps_errmsg_set(em, PS_ERR_PARSE, "empty payload");
    if (!ps_utf8_valid(raw, len, &bad))
        return ps_errmsg_set(em, PS_ERR_PARSE, "invalid UTF-8 at byte %zu", bad);
    /* cJSON would cut a string short at a NUL and keep going; JSON allows none. */
    if ((nul = memchr(raw, '\0', len)) != NULL)
        return ps_errmsg_set(em, PS_ERR_PARSE, "not valid JSON near byte %zu", (size_t)(nul - raw));
    if (len >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0)
        skip = 3; /* RFC 8259 lets parsers ignore a byte order mark */

    bool arena = ps_event_arena_parse_begin();
    root = ps_event_json_parse(raw + skip, len - skip, &end);
    if (arena)
        ps_event_arena_parse_end();
    if (!root)
        return ps_event_json_failure(raw, len, skip, em);
    while (end && end < raw + len && ps_event_json_ws(*end))
        end++;
    if (end != raw + len) {
        cJSON_Delete(root);
        return ps_errmsg_set(em, PS_ERR_PARSE, "not valid JSON near byte %zu",
                             end ? (size_t)(end - raw) : (size_t)0);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ps_errmsg_set(em, PS_ERR_PARSE, "not a JSON object");
    }
    ev->root = root;
    err = extract(ev, raw, len, true, false, em);
    if (err != PS_OK) {
        ps_event_deinit(ev);
        ev->type = type;
    }
    return err;
}

ps_err ps_event_extract(ps_event *ev, ps_errmsg *em)
{
    return extract(ev, NULL, 0, true, true, em);
}

ps_err ps_event_extract_typed(ps_event *ev, ps_errmsg *em)
{
    return extract(ev, NULL, 0, false, true, em);
}
