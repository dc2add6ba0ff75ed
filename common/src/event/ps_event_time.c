/* The event's time: the `ts` member read as ISO 8601, and UTC microseconds written
 * back the same way. */
#include "event/ps_event_time.h"

#include <string.h>

#include "podstream/ps_event.h"
#include "podstream/ps_time.h"
#include "podstream/ps_utf8.h"

/* How much of a bad ts value a quarantine reason shows. */
#define TS_SHOWN_CHARS 40

/* ---- the ts member -------------------------------------------------------------- */

/* Copies at most `chars` code points of a (valid UTF-8) value into out for a
 * quarantine reason, with control characters shown as '?' so that the reason
 * stays one printable line. */
static void clip_for_reason(const char *s, size_t chars, char *out, size_t outlen)
{
    size_t o = 0, count = 0;
    const unsigned char *p = (const unsigned char *)s;

    while (*p && count < chars && o + 8 < outlen) {
        uint32_t cp;
        size_t n = ps_utf8_decode((const char *)p, PS_UTF8_MAX, &cp); /* stops at the NUL */
        for (size_t k = 0; k < n; k++)
            out[o + k] = (char)(p[k] < 0x20 || p[k] == 0x7F ? '?' : p[k]);
        o += n;
        p += n;
        count++;
    }
    if (*p) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

ps_err ps_event_extract_ts(const cJSON *root, int64_t *ts, ps_errmsg *em)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "ts");
    char shown[TS_SHOWN_CHARS * 4 + 8];

    if (!v || cJSON_IsNull(v))
        return ps_errmsg_set(em, PS_ERR_PARSE, "no ts");
    if (!cJSON_IsString(v) || !v->valuestring)
        return ps_errmsg_set(em, PS_ERR_PARSE, "ts is not a string");
    if (ps_time_parse_iso(v->valuestring, ts) == PS_OK)
        return PS_OK;
    clip_for_reason(v->valuestring, TS_SHOWN_CHARS, shown, sizeof shown);
    return ps_errmsg_set(em, PS_ERR_PARSE, "ts is not ISO 8601: \"%s\"", shown);
}
