/* Why a frame is not JSON. cJSON says only that parsing failed, at a rough
 * position, and the same way when memory runs out. Admins reading the quarantine table need the
 * exact byte and whether the frame was cut short, so on failure (never on the hot path) a strict
 * RFC 8259 scanner walks the payload again. */
#include "event/ps_event_json.h"

#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

typedef enum json_fault { JF_NONE = 0, JF_SYNTAX, JF_TRUNCATED, JF_DEEP } json_fault;

bool ps_event_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static json_fault scan_hex4(const char *s, size_t n, size_t at, unsigned *cp)
{
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        if (at + k >= n)
            return JF_TRUNCATED;
        char c = s[at + k];
        unsigned x;
        if (c >= '0' && c <= '9')
            x = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x = (unsigned)(c - 'A' + 10);
        else
            return JF_SYNTAX;
        v = v << 4 | x;
    }
    *cp = v;
    return JF_NONE;
}

/* *i is at the opening quote; on success it ends past the closing one, on failure
 * at the fault. Lone surrogate escapes are faults because cJSON refuses them. */
static json_fault scan_string(const char *s, size_t n, size_t *i)
{
    size_t p = *i + 1;
    json_fault f;
    unsigned cp;

    while (p < n) {
        unsigned char c = (unsigned char)s[p];
        if (c == '"') {
            *i = p + 1;
            return JF_NONE;
        }
        if (c < 0x20)
            goto fault_here;
        if (c != '\\') {
            p++;
            continue;
        }
        if (p + 1 >= n)
            goto truncated;
        c = (unsigned char)s[p + 1];
        if (c != 'u') {
            if (!c || !strchr("\"\\/bfnrt", c))
                goto fault_here;
            p += 2;
            continue;
        }
        if ((f = scan_hex4(s, n, p + 2, &cp)) != JF_NONE)
            goto fault;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            goto fault_here;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (p + 6 >= n)
                goto truncated;
            if (s[p + 6] != '\\')
                goto fault_here;
            if (p + 7 >= n)
                goto truncated;
            if (s[p + 7] != 'u')
                goto fault_here;
            if ((f = scan_hex4(s, n, p + 8, &cp)) != JF_NONE)
                goto fault;
            if (cp < 0xDC00 || cp > 0xDFFF)
                goto fault_here;
            p += 6;
        }
        p += 6;
    }
truncated:
    *i = n;
    return JF_TRUNCATED;
fault:
    if (f == JF_TRUNCATED)
        goto truncated;
fault_here:
    *i = p;
    return JF_SYNTAX;
}

static json_fault scan_number(const char *s, size_t n, size_t *i)
{
    size_t p = *i;

    if (s[p] == '-')
        p++;
    if (p >= n)
        goto truncated;
    if (s[p] == '0') {
        p++;
    } else if (is_digit(s[p])) {
        while (p < n && is_digit(s[p]))
            p++;
    } else {
        goto fault;
    }
    if (p < n && s[p] == '.') {
        if (++p >= n)
            goto truncated;
        if (!is_digit(s[p]))
            goto fault;
        while (p < n && is_digit(s[p]))
            p++;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        if (++p < n && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= n)
            goto truncated;
        if (!is_digit(s[p]))
            goto fault;
        while (p < n && is_digit(s[p]))
            p++;
    }
    *i = p;
    return JF_NONE;
truncated:
    *i = n;
    return JF_TRUNCATED;
fault:
    *i = p;
    return JF_SYNTAX;
}

static json_fault scan_literal(const char *s, size_t n, size_t *i, const char *lit)
{
    size_t len = strlen(lit);
    for (size_t k = 0; k < len; k++) {
        if (*i + k >= n) {
            *i = n;
            return JF_TRUNCATED;
        }
        if (s[*i + k] != lit[k])
            return JF_SYNTAX; /* *i stays at the start of the bad word */
    }
    *i += len;
    return JF_NONE;
}

static json_fault scan_scalar(const char *s, size_t n, size_t *i)
{
    switch (s[*i]) {
    case '"':
        return scan_string(s, n, i);
    case 't':
        return scan_literal(s, n, i, "true");
    case 'f':
        return scan_literal(s, n, i, "false");
    case 'n':
        return scan_literal(s, n, i, "null");
    default:
        if (s[*i] == '-' || is_digit(s[*i]))
            return scan_number(s, n, i);
        return JF_SYNTAX;
    }
}

/* Finds the first fault of s[0..n) as one JSON text; *pos is its byte offset. */
static json_fault json_scan(const char *s, size_t n, size_t *pos)
{
    enum { ST_VALUE, ST_FIRST_VALUE, ST_KEY, ST_FIRST_KEY, ST_COLON, ST_AFTER } st = ST_VALUE;
    char stack[CJSON_NESTING_LIMIT]; /* '{' or '[' per open container */
    size_t depth = 0, i = 0;
    json_fault f = JF_NONE;

    for (;;) {
        bool close = false;
        while (i < n && ps_event_json_ws(s[i]))
            i++;
        if (i >= n) {
            *pos = n;
            return st == ST_AFTER && depth == 0 ? JF_NONE : JF_TRUNCATED;
        }
        char c = s[i];
        switch (st) {
        case ST_FIRST_VALUE:
        case ST_VALUE:
            if (st == ST_FIRST_VALUE && c == ']') {
                close = true;
            } else if (c == '{' || c == '[') {
                if (depth == CJSON_NESTING_LIMIT) {
                    *pos = i;
                    return JF_DEEP;
                }
                stack[depth++] = c;
                i++;
                st = c == '{' ? ST_FIRST_KEY : ST_FIRST_VALUE;
            } else {
                if ((f = scan_scalar(s, n, &i)) != JF_NONE)
                    goto fault;
                st = ST_AFTER;
            }
            break;
        case ST_FIRST_KEY:
        case ST_KEY:
            if (st == ST_FIRST_KEY && c == '}') {
                close = true;
            } else {
                if (c != '"') {
                    f = JF_SYNTAX;
                    goto fault;
                }
                if ((f = scan_string(s, n, &i)) != JF_NONE)
                    goto fault;
                st = ST_COLON;
            }
            break;
        case ST_COLON:
            if (c != ':') {
                f = JF_SYNTAX;
                goto fault;
            }
            i++;
            st = ST_VALUE;
            break;
        case ST_AFTER: {
            char open = depth ? stack[depth - 1] : 0;
            if (open && c == ',') {
                i++;
                st = open == '{' ? ST_KEY : ST_VALUE;
            } else if (open && c == (open == '{' ? '}' : ']')) {
                close = true;
            } else {
                f = JF_SYNTAX; /* also: data after the top-level value */
                goto fault;
            }
            break;
        }
        }
        if (close) {
            depth--;
            i++;
            st = ST_AFTER;
        }
    }
fault:
    *pos = i;
    return f;
}

ps_err ps_event_json_failure(const char *raw, size_t len, size_t skip, ps_errmsg *em)
{
    size_t pos = 0;
    bool blank = true;

    for (size_t i = skip; i < len && blank; i++)
        blank = ps_event_json_ws(raw[i]);
    if (blank)
        return ps_errmsg_set(em, PS_ERR_PARSE, "empty payload");
    switch (json_scan(raw + skip, len - skip, &pos)) {
    case JF_TRUNCATED:
        return ps_errmsg_set(em, PS_ERR_PARSE, "JSON truncated at byte %zu", pos + skip);
    case JF_DEEP:
        return ps_errmsg_set(em, PS_ERR_PARSE, "JSON nested deeper than %d levels at byte %zu",
                             CJSON_NESTING_LIMIT, pos + skip);
    case JF_SYNTAX:
        return ps_errmsg_set(em, PS_ERR_PARSE, "not valid JSON near byte %zu", pos + skip);
    case JF_NONE:
        break;
    }
    /* Valid JSON that cJSON could not build: it ran out of memory. */
    return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory parsing the event");
}
