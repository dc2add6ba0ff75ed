/* The typed fields of an event: the values the store indexes, read from the tree
 * by name so that key order and producers' quirks do not matter. */
#include "event/ps_event_fields.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event/ps_event_json.h"
#include "event/ps_event_rfc2047.h"

/* Longest string we read as a number: 17 significant digits, sign, point and
 * exponent fit with room to spare; longer strings are text, not numbers. */
#define NUMBER_TEXT_MAX 64

/* ---- value helpers ------------------------------------------------------------ */

/* Walks object keys (exact case); NULL as soon as a step is missing or not an
 * object. Lookups by name make extraction independent of key order. */
static const cJSON *get_path(const cJSON *node, const char *const *keys, size_t n)
{
    for (size_t i = 0; node && i < n; i++)
        node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, keys[i]) : NULL;
    return node;
}

#define GET(node, ...)                                                                             \
    get_path((node), (const char *const[]){__VA_ARGS__},                                           \
             sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Header names are case-insensitive (RFC 5322). POD lower-cases them, so the exact
 * lookup nearly always hits; the fallback covers producers that do not. */
static const cJSON *header_first(const cJSON *headers, const char *name)
{
    const cJSON *v;

    if (!cJSON_IsObject(headers))
        return NULL;
    v = cJSON_GetObjectItemCaseSensitive(headers, name);
    if (!v)
        v = cJSON_GetObjectItem(headers, name);
    if (cJSON_IsArray(v))
        v = v->child;
    return v;
}

char *ps_event_number_text(const cJSON *v)
{
    double d = v->valuedouble;
    if (d == trunc(d) && fabs(d) < PS_EVENT_EXACT_INT_MAX) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        return strdup(tmp);
    }
    return cJSON_PrintUnformatted(v);
}

/* *out = text of a scalar (string, number, boolean); false when v is not one. */
static bool scalar_text(const cJSON *v, char **out, ps_err *err)
{
    *out = NULL;
    if (!v)
        return false;
    if (cJSON_IsString(v) && v->valuestring)
        *out = strdup(v->valuestring);
    else if (cJSON_IsNumber(v))
        *out = ps_event_number_text(v);
    else if (cJSON_IsBool(v))
        *out = strdup(cJSON_IsTrue(v) ? "true" : "false");
    else
        return false;
    if (!*out)
        *err = PS_ERR_NOMEM;
    return *out != NULL;
}

/* Sets *slot to the text of v. Arrays (recipient lists, or a sender sent as a
 * one-element list) join their scalar elements with ", "; an empty list, null, an
 * object or a missing value leave *slot NULL. */
static ps_err field_text(const cJSON *v, char **slot)
{
    ps_err err = PS_OK;
    const cJSON *e;
    size_t total = 0, n = 0;
    char *joined, *w;

    if (!cJSON_IsArray(v)) {
        scalar_text(v, slot, &err);
        return err;
    }
    cJSON_ArrayForEach(e, v)
    {
        char *t;
        if (!scalar_text(e, &t, &err)) {
            if (err != PS_OK)
                return err;
            continue;
        }
        total += strlen(t) + 2;
        n++;
        free(t);
    }
    if (n == 0)
        return PS_OK;
    joined = malloc(total);
    if (!joined)
        return PS_ERR_NOMEM;
    w = joined;
    cJSON_ArrayForEach(e, v)
    {
        char *t;
        if (!scalar_text(e, &t, &err)) {
            if (err != PS_OK) {
                free(joined);
                return err;
            }
            continue;
        }
        size_t tl = strlen(t);
        if (w != joined) {
            memcpy(w, ", ", 2);
            w += 2;
        }
        memcpy(w, t, tl);
        w += tl;
        free(t);
    }
    *w = '\0';
    *slot = joined;
    return PS_OK;
}

/* A number, or a string holding one ("1557", "40.5"): POD sends both. */
static bool number_of(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return isfinite(*out);
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return false;
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n == 0 || n > NUMBER_TEXT_MAX)
        return false;
    /* Plain digits are the common case (maillog sizes); take them directly. */
    if (n <= 15 && strspn(s, "0123456789") == n) {
        double d = 0;
        for (size_t i = 0; i < n; i++)
            d = d * 10 + (s[i] - '0');
        *out = d;
        return true;
    }
    /* Anything else is read as a JSON number, which rejects "0x1F", "inf", "1,5". */
    const char *end = NULL;
    cJSON *num = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    bool ok = cJSON_IsNumber(num) && isfinite(num->valuedouble);
    if (ok) {
        while (end && end < s + n && ps_event_json_ws(*end))
            end++;
        ok = end == s + n;
        *out = num->valuedouble;
    }
    cJSON_Delete(num);
    return ok;
}

static bool size_of(const cJSON *v, int64_t *out)
{
    double d;
    if (!number_of(v, &d) || d < 0 || d != trunc(d) || d > PS_EVENT_EXACT_INT_MAX)
        return false;
    *out = (int64_t)d;
    return true;
}

/* isFinal is a boolean in every sample, but some producers write "true". */
static bool is_final(const cJSON *v)
{
    if (cJSON_IsTrue(v))
        return true;
    if (cJSON_IsString(v) && v->valuestring)
        return strcasecmp(v->valuestring, "true") == 0;
    return cJSON_IsNumber(v) && v->valuedouble == 1;
}

/* ---- typed fields ------------------------------------------------------------------ */

static ps_err header_text(const cJSON *msg, const char *name, bool decode, char **slot)
{
    static const char *const maps[] = {"header", "normalizedHeader"};
    ps_err err = PS_OK;

    /* The raw header first: it is what the sender wrote (and what maillog msgid
     * matches); the normalized copy covers events whose raw header map is empty. */
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        const cJSON *v = header_first(GET(msg, maps[i]), name);
        if (decode && cJSON_IsString(v) && v->valuestring) {
            *slot = ps_event_rfc2047_decode(v->valuestring, strlen(v->valuestring));
            return *slot ? PS_OK : PS_ERR_NOMEM;
        }
        if (scalar_text(v, slot, &err) || err != PS_OK)
            return err;
    }
    return PS_OK;
}

static ps_err extract_message(const cJSON *root, ps_event_fields *f)
{
    const cJSON *filter = GET(root, "filter");
    const cJSON *conn = GET(root, "connection");
    const cJSON *msg = GET(root, "msg");
    const cJSON *final = NULL, *a;
    const struct {
        ps_event_field field;
        const cJSON *value;
    } plain[] = {
        {PS_EF_SENDER, GET(root, "envelope", "from")},
        {PS_EF_RECIPIENTS, GET(root, "envelope", "rcpts")},
        {PS_EF_DISPOSITION, GET(filter, "disposition")},
        {PS_EF_DIRECTION, GET(filter, "routeDirection")},
        {PS_EF_QID, GET(filter, "qid")},
        {PS_EF_CLIENT_IP, GET(conn, "ip")},
        {PS_EF_CLIENT_HOST, GET(conn, "host")},
        {PS_EF_COUNTRY, GET(conn, "country")},
    };
    ps_err err;

    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if ((err = field_text(plain[i].value, &f->text[plain[i].field])) != PS_OK)
            return err;
    if ((err = header_text(msg, "subject", true, &f->text[PS_EF_SUBJECT])) != PS_OK ||
        (err = header_text(msg, "message-id", false, &f->text[PS_EF_MESSAGE_ID])) != PS_OK)
        return err;

    /* The first action marked final decided the disposition; the others only
     * added headers or copies along the way. */
    const cJSON *actions = GET(filter, "actions");
    if (cJSON_IsArray(actions)) {
        cJSON_ArrayForEach(a, actions)
        {
            if (is_final(GET(a, "isFinal"))) {
                final = a;
                break;
            }
        }
    }
    if (final && ((err = field_text(GET(final, "action"), &f->text[PS_EF_ACTION])) != PS_OK ||
                  (err = field_text(GET(final, "module"), &f->text[PS_EF_MODULE])) != PS_OK ||
                  (err = field_text(GET(final, "rule"), &f->text[PS_EF_RULE])) != PS_OK))
        return err;

    f->has_spam_score =
        number_of(GET(filter, "modules", "spam", "scores", "overall"), &f->spam_score);
    f->has_size = size_of(GET(msg, "sizeBytes"), &f->size_bytes) ||
                  size_of(GET(filter, "msgSizeBytes"), &f->size_bytes);
    return PS_OK;
}

/* out[i] = the member names[i] of obj, or NULL: what cJSON_GetObjectItemCaseSensitive
 * gives for each name (the first member of that name; none after a member without
 * a name), found in one walk of the members instead of one walk per name. */
static void get_members(const cJSON *obj, const char *const *names, size_t n, const cJSON **out)
{
    size_t left = n;

    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (!cJSON_IsObject(obj))
        return;
    for (const cJSON *c = obj->child; c && c->string && left > 0; c = c->next)
        for (size_t i = 0; i < n; i++)
            if (!out[i] && c->string[0] == names[i][0] && strcmp(c->string, names[i]) == 0) {
                out[i] = c;
                left--;
                break;
            }
}

static ps_err extract_maillog(const cJSON *root, ps_event_fields *f)
{
    /* Two thirds of the traffic, each looking up eight members of `sm`: one walk. */
    enum { TEXTS = 7, SIZE = TEXTS, NAMES };
    static const char *const names[NAMES] = {"from", "to",  "qid",   "msgid",
                                             "stat", "dsn", "relay", [SIZE] = "sizeBytes"};
    static const ps_event_field fields[TEXTS] = {
        PS_EF_SENDER, PS_EF_RECIPIENTS, PS_EF_QID,   PS_EF_MESSAGE_ID,
        PS_EF_STAT,   PS_EF_DSN,        PS_EF_RELAY,
    };
    const cJSON *v[NAMES];
    ps_err err;

    get_members(GET(root, "sm"), names, NAMES, v);
    for (size_t i = 0; i < TEXTS; i++)
        if ((err = field_text(v[i], &f->text[fields[i]])) != PS_OK)
            return err;
    f->has_size = size_of(v[SIZE], &f->size_bytes);
    return PS_OK;
}

/* The outcome of an audited action. POD has no result field: each event carries a
 * tag named `<action>.<eventSubCategory>` whose value is "true" or "false" (every
 * public sample says "true"); we read it as success or failure and keep any other
 * value as it is. */
static ps_err audit_result(const cJSON *audit, char **slot)
{
    const cJSON *action = GET(audit, "action");
    const cJSON *tags = GET(audit, "tags");
    const cJSON *t;
    size_t alen;

    if (!cJSON_IsString(action) || !action->valuestring || !cJSON_IsArray(tags))
        return PS_OK;
    alen = strlen(action->valuestring);
    cJSON_ArrayForEach(t, tags)
    {
        const cJSON *name = GET(t, "name"), *value = GET(t, "value");
        const char *v;
        if (!cJSON_IsString(name) || !name->valuestring || !cJSON_IsString(value) ||
            !value->valuestring || strncmp(name->valuestring, action->valuestring, alen) != 0 ||
            name->valuestring[alen] != '.')
            continue;
        v = value->valuestring;
        *slot = strdup(strcasecmp(v, "true") == 0    ? "success"
                       : strcasecmp(v, "false") == 0 ? "failure"
                                                     : v);
        return *slot ? PS_OK : PS_ERR_NOMEM;
    }
    return PS_OK;
}

static ps_err extract_audit(const cJSON *root, ps_event_fields *f)
{
    const cJSON *audit = GET(root, "audit");
    const cJSON *rtype = GET(audit, "resourceType"), *rname = GET(audit, "resourceName");
    ps_err err;

    if ((err = field_text(GET(audit, "action"), &f->text[PS_EF_ACTION])) != PS_OK ||
        (err = field_text(GET(audit, "user", "email"), &f->text[PS_EF_ACTOR])) != PS_OK ||
        (err = field_text(GET(audit, "user", "ipAddress"), &f->text[PS_EF_CLIENT_IP])) != PS_OK ||
        (err = audit_result(audit, &f->text[PS_EF_RESULT])) != PS_OK)
        return err;
    /* "config: new_key": the kind of thing changed and which one; logins name none. */
    if (cJSON_IsString(rtype) && rtype->valuestring && rtype->valuestring[0]) {
        bool named = cJSON_IsString(rname) && rname->valuestring && rname->valuestring[0];
        size_t n = strlen(rtype->valuestring) + (named ? strlen(rname->valuestring) + 2 : 0) + 1;
        char *r = malloc(n);
        if (!r)
            return PS_ERR_NOMEM;
        snprintf(r, n, "%s%s%s", rtype->valuestring, named ? ": " : "",
                 named ? rname->valuestring : "");
        f->text[PS_EF_RESOURCE] = r;
    } else if ((err = field_text(rname, &f->text[PS_EF_RESOURCE])) != PS_OK) {
        return err;
    }
    return PS_OK;
}

ps_err ps_event_extract_fields(ps_data_type type, const cJSON *root, ps_event_fields *f)
{
    if (type == PS_DATA_MESSAGE)
        return extract_message(root, f);
    if (type == PS_DATA_MAILLOG)
        return extract_maillog(root, f);
    return extract_audit(root, f);
}
