/* The workers' JSON parser: builds exactly the cJSON tree that cJSON 1.7's
 * cJSON_ParseWithLengthOpts builds, from the same bytes, and fails exactly where it
 * fails (fuzz_event compares the two on every input, test_event_json on the
 * leniencies below).
 *
 * Why not cJSON's own: it was two fifths of a worker's time. Every value starts
 * with three strncmp calls for null/false/true, every allocation goes through a
 * function pointer, every number through a copy and strtod, and every string is
 * copied byte by byte. Here a value dispatches on its first byte, a string without
 * escapes is found with memchr and copied with memcpy, and a plain integer is
 * converted without strtod (exact below 2^53, as strtod is).
 *
 * cJSON's leniencies are kept on purpose, so that what was stored before is stored
 * the same: any byte up to 0x20 counts as whitespace, control bytes may stand in
 * strings, an invalid \u digit reads as 0, a number is the longest run of
 * [0-9+-.eE] that strtod takes a prefix of. Even the quirk that skipping whitespace
 * up to the end steps back one byte is kept, since offsets decide where a parse
 * fails. */
#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "event/ps_event_arena.h"
#include "event/ps_event_json.h"
#include "podstream/ps_utf8.h"

typedef struct jp {
    const unsigned char *s;
    size_t len, off, depth;
} jp;

static bool parse_value(jp *j, cJSON *item);

static cJSON *new_item(void)
{
    cJSON *it = ps_event_arena_malloc(sizeof *it);
    if (it)
        memset(it, 0, sizeof *it);
    return it;
}

static void skip_ws(jp *j)
{
    if (j->off >= j->len)
        return;
    while (j->off < j->len && j->s[j->off] <= 32)
        j->off++;
    if (j->off == j->len)
        j->off--;
}

static unsigned hex4(const unsigned char *p)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return 0; /* cJSON's reading of a bad digit */
        h = h << 4 | d;
    }
    return h;
}

/* One \uXXXX (or a surrogate pair) at p, before end; returns the escape's length in
 * the input, 0 when cJSON refuses it. */
static size_t utf16_escape(const unsigned char *p, const unsigned char *end, unsigned char **out)
{
    uint32_t cp;
    size_t seq = 6;
    unsigned first;

    if (end - p < 6)
        return 0;
    first = hex4(p + 2);
    if (first >= 0xDC00 && first <= 0xDFFF)
        return 0;
    if (first >= 0xD800 && first <= 0xDBFF) {
        const unsigned char *second = p + 6;
        unsigned low;
        if (end - second < 6 || second[0] != '\\' || second[1] != 'u')
            return 0;
        low = hex4(second + 2);
        if (low < 0xDC00 || low > 0xDFFF)
            return 0;
        cp = 0x10000 + (((first & 0x3FFu) << 10) | (low & 0x3FFu));
        seq = 12;
    } else {
        cp = first;
    }
    /* never a lone surrogate (refused above), never past U+10FFFF; the escape is
     * at least 6 bytes of input, so its at most 4 fit where the caller writes */
    *out += ps_utf8_encode(cp, (char *)*out);
    return seq;
}

/* The string at j->off (its opening quote), unescaped into a new block; NULL when
 * cJSON refuses it or memory runs out. */
static char *parse_string(jp *j)
{
    const unsigned char *start = j->s + j->off, *lim = j->s + j->len, *q = start + 1, *end;
    bool escaped = false;
    unsigned char *out, *op;

    if (*start != '"')
        return NULL;
    for (;;) {
        const unsigned char *quote = memchr(q, '"', (size_t)(lim - q));
        const unsigned char *bs;
        if (!quote)
            return NULL;
        if (!(bs = memchr(q, '\\', (size_t)(quote - q)))) {
            end = quote;
            break;
        }
        escaped = true; /* the byte after a backslash never ends the string */
        q = bs + 2;     /* bs < quote, so at most lim */
        if (q >= lim)
            return NULL;
    }
    /* An escape can reach one byte past `end` (cJSON's \u steps are not the scan's);
     * each writes no more bytes than it reads. */
    if (!(out = ps_event_arena_malloc((size_t)(end - start) + 1)))
        return NULL;
    if (!escaped) {
        memcpy(out, start + 1, (size_t)(end - start - 1));
        out[end - start - 1] = '\0';
        j->off = (size_t)(end - j->s) + 1;
        return (char *)out;
    }
    op = out;
    for (const unsigned char *ip = start + 1; ip < end;) {
        size_t seq = 2;
        if (*ip != '\\') {
            *op++ = *ip++;
            continue;
        }
        switch (ip[1]) {
        case 'b':
            *op++ = '\b';
            break;
        case 'f':
            *op++ = '\f';
            break;
        case 'n':
            *op++ = '\n';
            break;
        case 'r':
            *op++ = '\r';
            break;
        case 't':
            *op++ = '\t';
            break;
        case '"':
        case '\\':
        case '/':
            *op++ = ip[1];
            break;
        case 'u':
            if ((seq = utf16_escape(ip, end, &op)) == 0)
                goto fail;
            break;
        default:
            goto fail;
        }
        ip += seq;
    }
    *op = '\0';
    j->off = (size_t)(end - j->s) + 1;
    return (char *)out;
fail:
    cJSON_free(out);
    return NULL;
}

static bool num_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'e' || c == 'E' || c == '.';
}

static bool parse_number(jp *j, cJSON *item)
{
    const unsigned char *p = j->s + j->off;
    size_t n = 0, used;
    bool plain = true; /* an optional '-' and at most 15 digits: exact as an integer */
    double v;

    while (j->off + n < j->len && num_byte(p[n])) {
        plain = plain && ((p[n] >= '0' && p[n] <= '9') || (n == 0 && p[n] == '-'));
        n++;
    }
    if (plain && n > (p[0] == '-' ? 1u : 0u) && n <= 15) {
        uint64_t u = 0;
        for (size_t i = p[0] == '-'; i < n; i++)
            u = u * 10 + (uint64_t)(p[i] - '0');
        v = p[0] == '-' ? -(double)u : (double)u;
        used = n;
    } else {
        char small[64], *buf = n < sizeof small ? small : malloc(n + 1), *after;
        const char dp = localeconv()->decimal_point[0];
        if (!buf)
            return false;
        for (size_t i = 0; i < n; i++)
            buf[i] = p[i] == '.' ? dp : (char)p[i]; /* strtod reads the locale's point */
        buf[n] = '\0';
        v = strtod(buf, &after);
        used = (size_t)(after - buf);
        if (buf != small)
            free(buf);
        if (used == 0)
            return false;
    }
    item->valuedouble = v;
    item->valueint = v >= INT_MAX ? INT_MAX : v <= (double)INT_MIN ? INT_MIN : (int)v;
    item->type = cJSON_Number;
    j->off += used;
    return true;
}

/* An array's or object's members, from the opening bracket to the closing one. */
static bool parse_members(jp *j, cJSON *item, bool object)
{
    const unsigned char close = object ? '}' : ']';
    cJSON *head = NULL, *cur = NULL;

    if (j->depth >= CJSON_NESTING_LIMIT)
        return false;
    j->depth++;
    j->off++;
    skip_ws(j);
    if (j->off < j->len && j->s[j->off] == close)
        goto success;
    if (j->off >= j->len) {
        j->off--;
        goto fail;
    }
    j->off--;
    do {
        cJSON *it = new_item();
        if (!it)
            goto fail;
        if (!head) {
            head = cur = it;
        } else {
            cur->next = it;
            it->prev = cur;
            cur = it;
        }
        if (object) {
            if (j->off + 1 >= j->len)
                goto fail;
            j->off++;
            skip_ws(j);
            if (!(cur->string = parse_string(j)))
                goto fail;
            skip_ws(j);
            if (j->off >= j->len || j->s[j->off] != ':')
                goto fail;
        }
        j->off++;
        skip_ws(j);
        if (!parse_value(j, cur))
            goto fail;
        skip_ws(j);
    } while (j->off < j->len && j->s[j->off] == ',');
    if (j->off >= j->len || j->s[j->off] != close)
        goto fail;
success:
    j->depth--;
    if (head)
        head->prev = cur; /* cJSON appends in O(1) through the first child's prev */
    item->type = object ? cJSON_Object : cJSON_Array;
    item->child = head;
    j->off++;
    return true;
fail:
    cJSON_Delete(head);
    return false;
}

static bool literal(jp *j, const char *word, size_t n)
{
    if (j->len - j->off < n || memcmp(j->s + j->off, word, n) != 0)
        return false;
    j->off += n;
    return true;
}

static bool parse_value(jp *j, cJSON *item)
{
    if (j->off >= j->len)
        return false;
    switch (j->s[j->off]) {
    case 'n':
        item->type = cJSON_NULL;
        return literal(j, "null", 4);
    case 'f':
        item->type = cJSON_False;
        return literal(j, "false", 5);
    case 't':
        item->type = cJSON_True;
        item->valueint = 1;
        return literal(j, "true", 4);
    case '"':
        if (!(item->valuestring = parse_string(j)))
            return false;
        item->type = cJSON_String;
        return true;
    case '[':
        return parse_members(j, item, false);
    case '{':
        return parse_members(j, item, true);
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return parse_number(j, item);
    default:
        return false;
    }
}

cJSON *ps_event_json_parse(const char *s, size_t len, const char **end)
{
    jp j = {(const unsigned char *)s, len, 0, 0};
    cJSON *root;

    if (!s || len == 0 || !(root = new_item()))
        return NULL;
    if (len > 4 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        j.off = 3;
    skip_ws(&j);
    if (!parse_value(&j, root)) {
        cJSON_Delete(root);
        return NULL;
    }
    if (end)
        *end = s + j.off;
    return root;
}
