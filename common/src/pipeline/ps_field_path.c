/* Field paths: parsing a.b["c.d"][0], and reading and writing the event at one.
 *
 * Writes are checked before they are made (pl_check_set), so that a processor can
 * know everything will succeed, except for memory, before it changes anything. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"

#define PATH_MAX_SEGS 64

void pl_fpath_free(fpath *p)
{
    for (size_t i = 0; p->segs && i < p->n; i++)
        free(p->segs[i].key);
    free(p->segs);
    free(p->text);
    memset(p, 0, sizeof *p);
}

void pl_fpaths_free(fpath *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        pl_fpath_free(&list[i]);
    free(list);
}

static bool bare_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && !strchr(".[]\"'{}", c);
}

/* The state of parsing one path; errors go to *eoff and emsg. */
typedef struct pparse {
    const char *s;
    size_t len, i;
    size_t *eoff;
    char *emsg;
    size_t elen;
} pparse;

static bool perr(pparse *pp, size_t off, const char *fmt, ...) PS_PRINTF(3, 4);

static bool perr(pparse *pp, size_t off, const char *fmt, ...)
{
    va_list ap;
    *pp->eoff = off;
    va_start(ap, fmt);
    vsnprintf(pp->emsg, pp->elen, fmt, ap);
    va_end(ap);
    return false;
}

/* ["quoted key"], ['k'] or [index], from the '['. The segment counts as parsed
 * (so that it is freed) as soon as it holds a key. */
static bool parse_bracket(pparse *pp, fseg *seg, size_t *n)
{
    const char *s = pp->s;
    size_t len = pp->len, open = pp->i, i = pp->i + 1;
    if (i < len && (s[i] == '"' || s[i] == '\'')) {
        char q = s[i++];
        char *key = malloc(len - i + 1);
        size_t o = 0;
        if (!key)
            return perr(pp, open, "out of memory");
        while (i < len && s[i] != q) {
            if (s[i] == '\\' && i + 1 < len)
                i++;
            key[o++] = s[i++];
        }
        key[o] = '\0';
        seg->key = key;
        (*n)++;
        if (i >= len)
            return perr(pp, open, "unterminated quoted key (no closing %c)", q);
        i++;
    } else if (i < len && (s[i] == '-' || (s[i] >= '0' && s[i] <= '9'))) {
        char *end;
        errno = 0;
        seg->index = strtoll(s + i, &end, 10);
        if (end == s + i || errno)
            return perr(pp, i, "invalid list index");
        i = (size_t)(end - s);
        (*n)++;
    } else {
        return perr(pp, i, "expected a number or a quoted key after '['");
    }
    if (i >= len || s[i] != ']')
        return perr(pp, i, "expected ']'");
    pp->i = i + 1;
    return true;
}

/* A plain name, or the complaint about the character that cannot start one. */
static bool parse_bare(pparse *pp, fseg *seg, size_t *n)
{
    const char *s = pp->s;
    size_t b = pp->i, i = pp->i;
    unsigned char c = (unsigned char)s[i];
    if (!bare_char(c)) {
        if (c == ' ' || c == '\t')
            return perr(pp, i, "unexpected space; quote keys with spaces like a[\"k k\"]");
        if (c >= 0x20 && c < 0x7f)
            return perr(pp, i, "unexpected '%c'; quote such keys like a[\"k%c\"]", c, c);
        return perr(pp, i, "unexpected control character");
    }
    while (i < pp->len && bare_char((unsigned char)s[i]))
        i++;
    if (!(seg->key = malloc(i - b + 1)))
        return perr(pp, b, "out of memory");
    memcpy(seg->key, s + b, i - b);
    seg->key[i - b] = '\0';
    (*n)++;
    pp->i = i;
    return true;
}

static bool parse_segments(pparse *pp, fpath *p)
{
    enum { START, AFTER_DOT, AFTER_SEG } st = START;
    while (pp->i < pp->len) {
        unsigned char c = (unsigned char)pp->s[pp->i];
        fseg *seg = &p->segs[p->n];
        if (c == '.') {
            if (st != AFTER_SEG)
                return perr(pp, pp->i, "empty field name before '.'");
            st = AFTER_DOT;
            pp->i++;
            continue;
        }
        if (st == AFTER_SEG && c != '[' && c != ' ' && c != '\t')
            return perr(pp, pp->i, "expected '.' or '[' after a field name, found '%c'", c);
        if (p->n == PATH_MAX_SEGS)
            return perr(pp, pp->i, "field path has more than %d parts", PATH_MAX_SEGS);
        if (c == '[' && st == AFTER_DOT)
            return perr(pp, pp->i, "write a[\"k\"], not a.[\"k\"]");
        if (!(c == '[' ? parse_bracket(pp, seg, &p->n) : parse_bare(pp, seg, &p->n)))
            return false;
        seg->text_end = pp->i;
        st = AFTER_SEG;
    }
    if (st != AFTER_SEG)
        return perr(pp, pp->len, st == START ? "empty field path" : "field path ends with '.'");
    return true;
}

bool pl_fpath_parse(const char *s, size_t len, fpath *p, size_t *eoff, char *emsg, size_t elen)
{
    pparse pp = {s, len, 0, eoff, emsg, elen};
    memset(p, 0, sizeof *p);
    if (!(p->text = malloc(len + 1)) || !(p->segs = calloc(PATH_MAX_SEGS, sizeof *p->segs))) {
        perr(&pp, 0, "out of memory");
        goto fail;
    }
    memcpy(p->text, s, len);
    p->text[len] = '\0';
    if (!parse_segments(&pp, p))
        goto fail;
    p->meta = p->segs[0].key && strcmp(p->segs[0].key, "_ingest") == 0;
    return true;
fail:
    pl_fpath_free(p);
    return false;
}

const char *pl_json_kind(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "string";
    if (cJSON_IsNumber(j))
        return "number";
    if (cJSON_IsBool(j))
        return "boolean";
    if (cJSON_IsArray(j))
        return "list";
    if (cJSON_IsObject(j))
        return "mapping";
    return "null";
}

/* A member of a JSON object; the first byte is compared before calling strcmp
 * because paths are walked for every event. */
static cJSON *member(const cJSON *obj, const char *key)
{
    for (cJSON *c = obj ? obj->child : NULL; c; c = c->next)
        if (c->string && c->string[0] == key[0] && strcmp(c->string, key) == 0)
            return c;
    return NULL;
}

static long long norm_index(long long i, int size)
{
    return i < 0 ? i + size : i;
}

/* Walks the first `nsegs` segments of `p` from `root`. A missing key, an index out of
 * range or a null on the way is W_MISSING; a scalar where a container is needed is
 * W_ERROR with the reason in err. On W_FOUND *found is the node and *parent its
 * container (NULL for the root). */
walk_rc pl_walk(cJSON *root, const fpath *p, size_t nsegs, cJSON **found, cJSON **parent, char *err,
                size_t elen)
{
    cJSON *cur = root, *par = NULL;
    for (size_t i = 0; i < nsegs; i++) {
        const fseg *s = &p->segs[i];
        cJSON *next;
        if (cJSON_IsNull(cur))
            return W_MISSING;
        if (s->key) {
            if (!cJSON_IsObject(cur)) {
                if (i == 0)
                    snprintf(err, elen, "the event is not a mapping");
                else
                    snprintf(err, elen, "%.*s is a %s, not a mapping", (int)p->segs[i - 1].text_end,
                             p->text, pl_json_kind(cur));
                return W_ERROR;
            }
            next = member(cur, s->key);
        } else {
            int size;
            long long idx;
            if (!cJSON_IsArray(cur)) {
                if (i == 0)
                    snprintf(err, elen, "the event is a mapping, not a list");
                else
                    snprintf(err, elen, "%.*s is a %s, not a list", (int)p->segs[i - 1].text_end,
                             p->text, pl_json_kind(cur));
                return W_ERROR;
            }
            size = cJSON_GetArraySize(cur);
            idx = norm_index(s->index, size);
            next = idx >= 0 && idx < size ? cJSON_GetArrayItem(cur, (int)idx) : NULL;
        }
        if (!next)
            return W_MISSING;
        par = cur;
        cur = next;
    }
    *found = cur;
    *parent = par;
    return W_FOUND;
}

/* Finds the value at `p` for reading; null counts as missing. */
walk_rc pl_get(cJSON *root, const fpath *p, cJSON **found, char *err, size_t elen)
{
    cJSON *parent;
    walk_rc rc = pl_walk(root, p, p->n, found, &parent, err, elen);
    if (rc == W_FOUND && cJSON_IsNull(*found))
        return W_MISSING;
    return rc;
}

/* Puts `item` where `old` is. cJSON_ReplaceItemViaPointer keeps the replacement's
 * own member name, so in a mapping it must first get the name of what it replaces
 * (and in a list lose any name it had). */
static bool replace_item(cJSON *parent, cJSON *old, cJSON *item)
{
    char *name = NULL;
    if (cJSON_IsObject(parent) && old->string) {
        size_t n = strlen(old->string) + 1;
        if (!(name = cJSON_malloc(n)))
            return false;
        memcpy(name, old->string, n);
    }
    if (item->string && !(item->type & cJSON_StringIsConst))
        cJSON_free(item->string);
    item->type &= ~cJSON_StringIsConst;
    item->string = name;
    return cJSON_ReplaceItemViaPointer(parent, old, item);
}

/* Makes sure the containers of `p` exist, creating mappings where keys are missing
 * (or null) when `create` is set. With create false it only checks, so a caller can
 * know that a later create cannot fail for any reason but memory. */
static bool reach_parent(cJSON *root, const fpath *p, bool create, cJSON **out, char *err,
                         size_t elen, bool *nomem)
{
    cJSON *cur = root;
    for (size_t i = 0; i + 1 < p->n; i++) {
        const fseg *s = &p->segs[i], *nx = &p->segs[i + 1];
        cJSON *next = NULL;
        if (s->key) {
            if (!cJSON_IsObject(cur)) {
                snprintf(err, elen, "%.*s is a %s, not a mapping",
                         i ? (int)p->segs[i - 1].text_end : 5, i ? p->text : "event",
                         pl_json_kind(cur));
                return false;
            }
            next = member(cur, s->key);
            if (!next || cJSON_IsNull(next)) {
                if (!nx->key) {
                    snprintf(err, elen, "%.*s does not exist, so %.*s cannot be set",
                             (int)s->text_end, p->text, (int)nx->text_end, p->text);
                    return false;
                }
                if (!create) {
                    /* Everything below is created as mappings; only list indexes
                     * further down could still fail. */
                    for (size_t k = i + 1; k < p->n; k++) {
                        if (!p->segs[k].key) {
                            snprintf(err, elen, "%.*s does not exist, so %.*s cannot be set",
                                     (int)p->segs[k - 1].text_end, p->text,
                                     (int)p->segs[k].text_end, p->text);
                            return false;
                        }
                    }
                    *out = NULL;
                    return true;
                }
                cJSON *obj = cJSON_CreateObject();
                if (!obj) {
                    *nomem = true;
                    return false;
                }
                if (next ? !replace_item(cur, next, obj)
                         : !cJSON_AddItemToObject(cur, s->key, obj)) {
                    cJSON_Delete(obj);
                    *nomem = true;
                    return false;
                }
                next = obj;
            }
        } else {
            int size;
            long long idx;
            if (!cJSON_IsArray(cur)) {
                snprintf(err, elen, "%.*s is a %s, not a list",
                         i ? (int)p->segs[i - 1].text_end : 5, i ? p->text : "event",
                         pl_json_kind(cur));
                return false;
            }
            size = cJSON_GetArraySize(cur);
            idx = norm_index(s->index, size);
            if (idx < 0 || idx >= size) {
                snprintf(err, elen, "index %lld is out of range: %.*s has %d element%s", s->index,
                         i ? (int)p->segs[i - 1].text_end : 5, i ? p->text : "event", size,
                         size == 1 ? "" : "s");
                return false;
            }
            next = cJSON_GetArrayItem(cur, (int)idx);
        }
        cur = next;
    }
    *out = cur;
    return true;
}

/* Checks that `p` can be set: its containers exist or can be created, and its last
 * step is a key of a mapping or an existing list element. *parent is the container
 * of the last step, or NULL when containers are still to be created (then every
 * missing step is a key). */
bool pl_check_set(cJSON *root, const fpath *p, cJSON **parent, char *err, size_t elen)
{
    bool nomem = false;
    const fseg *last = &p->segs[p->n - 1];
    int plen = p->n > 1 ? (int)p->segs[p->n - 2].text_end : 5;
    const char *ptext = p->n > 1 ? p->text : "event";

    if (!reach_parent(root, p, false, parent, err, elen, &nomem))
        return false;
    if (!*parent)
        return true;
    if (last->key) {
        if (cJSON_IsObject(*parent))
            return true;
        snprintf(err, elen, "%.*s is a %s, not a mapping", plen, ptext, pl_json_kind(*parent));
        return false;
    }
    if (!cJSON_IsArray(*parent)) {
        snprintf(err, elen, "%.*s is a %s, not a list", plen, ptext, pl_json_kind(*parent));
        return false;
    }
    int size = cJSON_GetArraySize(*parent);
    long long idx = norm_index(last->index, size);
    if (idx < 0 || idx >= size) {
        snprintf(err, elen, "index %lld is out of range: %.*s has %d element%s", last->index, plen,
                 ptext, size, size == 1 ? "" : "s");
        return false;
    }
    return true;
}

/* Stores `item` at `p`. On S_STORED the tree owns item; otherwise the caller still
 * does. An existing non-null value is kept (S_KEPT_OLD) unless `override`, and
 * also when it equals item and `skip_equal` is set: setting what is already there
 * is not a change, so the original bytes of the event stay valid. */
set_rc pl_set_at(cJSON *root, const fpath *p, cJSON *item, bool override, bool skip_equal,
                 char *err, size_t elen)
{
    cJSON *parent, *old;
    bool nomem = false;
    const fseg *last = &p->segs[p->n - 1];

    if (!pl_check_set(root, p, &parent, err, elen))
        return S_ERROR;
    /* Only a path through missing mappings is walked a second time. */
    if (!parent && !reach_parent(root, p, true, &parent, err, elen, &nomem))
        return nomem ? S_NOMEM : S_ERROR;
    if (last->key)
        old = member(parent, last->key);
    else
        old = cJSON_GetArrayItem(parent, (int)norm_index(last->index, cJSON_GetArraySize(parent)));
    if (old && !cJSON_IsNull(old) && !override)
        return S_KEPT_OLD;
    if (old && skip_equal && cJSON_Compare(old, item, true))
        return S_KEPT_OLD;
    if (old)
        return replace_item(parent, old, item) ? S_STORED : S_NOMEM;
    return cJSON_AddItemToObject(parent, last->key, item) ? S_STORED : S_NOMEM;
}

/* True when path a is b or lies inside b. */
bool pl_path_within(const fpath *a, const fpath *b)
{
    if (a->n < b->n)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        const fseg *x = &a->segs[i], *y = &b->segs[i];
        if ((x->key == NULL) != (y->key == NULL))
            return false;
        if (x->key ? strcmp(x->key, y->key) != 0 : x->index != y->index)
            return false;
    }
    return true;
}
