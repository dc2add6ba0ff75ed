/* The natural key of an event: what makes a replayed or re-fetched copy of it a
 * duplicate in the store. */
#include "event/ps_event_key.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "event/ps_event_fields.h"

/* Natural keys are short identifiers (32 characters in every sample); anything much
 * longer is not a key but garbage that would bloat the unique index. */
#define KEY_MAX 512

/* PS_ERR_NOTFOUND (no message) when the key is absent or null, so that callers can
 * try another name; other failures carry the reason. */
static ps_err key_text(const cJSON *v, const char *name, char **out, ps_errmsg *em)
{
    if (!v || cJSON_IsNull(v))
        return PS_ERR_NOTFOUND;
    if (cJSON_IsNumber(v) && v->valuedouble == trunc(v->valuedouble) &&
        fabs(v->valuedouble) < PS_EVENT_EXACT_INT_MAX) {
        *out = ps_event_number_text(v);
        return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s is not a string", name);
    if (!v->valuestring[0])
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s is empty", name);
    if (strlen(v->valuestring) > KEY_MAX)
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s is longer than %d bytes", name, KEY_MAX);
    *out = strdup(v->valuestring);
    return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
}

static char *sha256_hex(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char *hex;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return NULL;
    hex = malloc(mdlen * 2 + 1);
    if (!hex)
        return NULL;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

/* Audit events are keyed on `guid`, as POD documents them (Elastic's
 * proofpoint_on_demand audit fields); `id` is only a fallback for producers
 * that send no guid (older podsim versions did). Without either, the hex SHA-256 of
 * the raw payload, so that a replayed copy of the same frame is recognised as a
 * duplicate. `raw` is NULL when re-extracting after a pipeline: then the key
 * computed from the original frame stays, because it names the event that
 * arrived, not what a pipeline made of it. */
static ps_err audit_key(const ps_event *ev, const char *raw, size_t len, char **out, ps_errmsg *em)
{
    static const char *const names[] = {"guid", "id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ps_errmsg ignored;
        if (key_text(cJSON_GetObjectItemCaseSensitive(ev->root, names[i]), names[i], out,
                     &ignored) == PS_OK)
            return PS_OK;
    }
    if (raw) {
        *out = sha256_hex(raw, len);
    } else if (ev->key) {
        *out = strdup(ev->key);
    } else {
        /* Built by hand, never parsed: hash its canonical form instead. */
        char *text = cJSON_PrintUnformatted(ev->root);
        *out = text ? sha256_hex(text, strlen(text)) : NULL;
        free(text);
    }
    return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
}

ps_err ps_event_extract_key(const ps_event *ev, const char *raw, size_t len, char **out,
                            ps_errmsg *em)
{
    const char *name;
    ps_err err;

    switch (ev->type) {
    case PS_DATA_MESSAGE:
        name = "guid";
        break;
    case PS_DATA_MAILLOG:
        name = "id";
        break;
    case PS_DATA_AUDIT:
        return audit_key(ev, raw, len, out, em);
    default:
        return ps_errmsg_set(em, PS_ERR_INVALID, "unknown data type %d", (int)ev->type);
    }
    err = key_text(cJSON_GetObjectItemCaseSensitive(ev->root, name), name, out, em);
    if (err == PS_ERR_NOTFOUND)
        return ps_errmsg_set(em, PS_ERR_PARSE, "no %s", name);
    return err;
}
