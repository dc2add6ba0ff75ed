/* ps_schema values: the syntax of sizes, durations and URLs in the configuration
 * (see ps_schema.h), shared with the CLI and the GUI. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "podstream/ps_num.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_time.h"

/* ---- sizes and durations -------------------------------------------------- */

typedef struct unit {
    const char *name;
    uint64_t mult;
} unit;

#define KIB 1024ULL
static const unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", KIB},
    {"kib", KIB},
    {"kb", 1000ULL},
    {"m", KIB *KIB},
    {"mib", KIB *KIB},
    {"mb", 1000000ULL},
    {"g", KIB *KIB *KIB},
    {"gib", KIB *KIB *KIB},
    {"gb", 1000000000ULL},
    {"t", KIB *KIB *KIB *KIB},
    {"tib", KIB *KIB *KIB *KIB},
    {"tb", 1000000000000ULL},
};

ps_err ps_schema_parse_size(const char *text, uint64_t *out)
{
    uint64_t v;
    const char *p;
    if (!text || !(text[0] >= '0' && text[0] <= '9'))
        return PS_ERR_INVALID;
    p = ps_num_read_u64(text, &v);
    if (!p)
        return PS_ERR_RANGE; /* it starts with a digit, so only overflow gets here */
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
        if (strcasecmp(p, size_units[i].name) == 0) {
            if (v > UINT64_MAX / size_units[i].mult)
                return PS_ERR_RANGE;
            *out = v * size_units[i].mult;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

void ps_schema_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const unit order[] = {
        {"TiB", KIB * KIB * KIB * KIB},
        {"GiB", KIB * KIB * KIB},
        {"MiB", KIB * KIB},
        {"KiB", KIB},
        {"TB", 1000000000000ULL},
        {"GB", 1000000000ULL},
        {"MB", 1000000ULL},
        {"KB", 1000ULL},
    };
    const unit *best = NULL;
    if (bytes == 0) {
        snprintf(buf, len, "0");
        return;
    }
    /* The largest unit that divides exactly gives the shortest number. */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (bytes % order[i].mult == 0 && (!best || order[i].mult > best->mult))
            best = &order[i];
    if (best)
        snprintf(buf, len, "%llu%s", (unsigned long long)(bytes / best->mult), best->name);
    else
        snprintf(buf, len, "%lluB", (unsigned long long)bytes);
}

void ps_schema_format_bounds(const ps_schema_field *f, char *buf, size_t len)
{
    char lo[32], hi[32];
    buf[0] = '\0';
    if (!f->has_min && !f->has_max)
        return;
    switch (f->type) {
    case PS_SCHEMA_SIZE:
        ps_schema_format_size((uint64_t)f->min, lo, sizeof lo);
        ps_schema_format_size((uint64_t)f->max, hi, sizeof hi);
        break;
    case PS_SCHEMA_DURATION:
        ps_time_format_duration(f->min, lo, sizeof lo);
        ps_time_format_duration(f->max, hi, sizeof hi);
        break;
    default:
        snprintf(lo, sizeof lo, "%lld", f->min);
        snprintf(hi, sizeof hi, "%lld", f->max);
        break;
    }
    if (f->has_min && f->has_max)
        snprintf(buf, len, "%s..%s", lo, hi);
    else if (f->has_min)
        snprintf(buf, len, ">= %s", lo);
    else
        snprintf(buf, len, "<= %s", hi);
}

/* ---- URL checks ----------------------------------------------------------- */

/* Checks "host[:port][/rest]" after the scheme. */
static bool check_authority(const char *p, bool allow_path, char *why, size_t whylen,
                            const char *what)
{
    const char *host = p, *end;
    size_t hlen;
    if (memchr(p, '@', strcspn(p, "/?#"))) {
        snprintf(why, whylen, "must not contain a user name or password");
        return false;
    }
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end || end == p + 1) {
            snprintf(why, whylen, "must be %s with a host", what);
            return false;
        }
        end++;
    } else {
        end = p + strcspn(p, ":/?#");
    }
    hlen = (size_t)(end - host);
    if (hlen == 0) {
        snprintf(why, whylen, "must be %s with a host", what);
        return false;
    }
    if (*end == ':') {
        uint64_t port = 0;
        const char *q = ps_num_read_u64(end + 1, &port);
        if (!q || port == 0 || port > 65535 || (*q && *q != '/' && *q != '?' && *q != '#')) {
            snprintf(why, whylen, "has an invalid port (must be 1..65535)");
            return false;
        }
        end = q;
    }
    if (!allow_path && *end && strcmp(end, "/") != 0) {
        snprintf(why, whylen, "must be %s without a path", what);
        return false;
    }
    return true;
}

static bool has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
            return true;
    return false;
}

bool ps_schema_check_ws_url(const char *value, char *why, size_t whylen)
{
    static const char what[] = "a ws:// or wss:// URL";
    const char *rest;
    if (strncasecmp(value, "wss://", 6) == 0) {
        rest = value + 6;
    } else if (strncasecmp(value, "ws://", 5) == 0) {
        rest = value + 5;
    } else {
        if (strncasecmp(value, "https://", 8) == 0)
            snprintf(why, whylen, "must be %s (write wss:// instead of https://)", what);
        else if (strncasecmp(value, "http://", 7) == 0)
            snprintf(why, whylen, "must be %s (write ws:// instead of http://)", what);
        else
            snprintf(why, whylen, "must be %s", what);
        return false;
    }
    if (has_space(value)) {
        snprintf(why, whylen, "must not contain spaces or control characters");
        return false;
    }
    return check_authority(rest, true, why, whylen, what);
}

bool ps_schema_check_proxy_url(const char *value, char *why, size_t whylen)
{
    static const char *const schemes[] = {"http://", "https://", "socks5://", "socks5h://"};
    static const char what[] = "an http://, https://, socks5:// or socks5h:// URL";
    const char *rest = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(value, schemes[i], n) == 0) {
            rest = value + n;
            break;
        }
    }
    if (!rest) {
        snprintf(why, whylen, "must be %s", what);
        return false;
    }
    if (has_space(value)) {
        snprintf(why, whylen, "must not contain spaces or control characters");
        return false;
    }
    if (strchr(rest, '@')) {
        snprintf(why, whylen,
                 "must not contain a user name or password; use proxy_username and "
                 "proxy_password");
        return false;
    }
    return check_authority(rest, false, why, whylen, what);
}
