/* ps_pipeline: compiles the pipeline files (pipelines/NAME.yml) into immutable processor lists and
 * runs them on cJSON events.
 *
 * Compilation does all the checking (options, paths, templates, conditions, keys) so
 * that running is a plain walk. Every processor either applies completely or leaves
 * the tree as it was (values are built and checked before anything is replaced), so
 * `on_failure` handlers and ignored failures see a consistent event. */
#include "podstream/ps_pipeline.h"

#include <errno.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "podstream/ps_expr.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_suggest.h"
#include "podstream/ps_yaml.h"

#define PATH_MAX_SEGS      64
#define DPATH              512 /* diagnostic field paths */
#define NAME_MAX_LEN       128
#define REDACT_MIN_KEY     16
#define REDACT_DEFAULT_LEN 16

/* ---- field paths -------------------------------------------------------------- */

typedef struct fseg {
    char *key; /* NULL for an index */
    long long index;
    size_t text_end; /* the path text up to and including this segment */
} fseg;

typedef struct fpath {
    fseg *segs;
    size_t n;
    char *text;
    bool meta; /* starts with _ingest: read-only metadata */
} fpath;

static void fpath_free(fpath *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->segs[i].key);
    free(p->segs);
    free(p->text);
    memset(p, 0, sizeof *p);
}

static bool bare_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && !strchr(".[]\"'{}", c);
}

/* Parses a field path: a.b.c, a["key.with.dots"], a['k'], arr[0], arr[-1]. */
static bool fpath_parse(const char *s, size_t len, fpath *p, size_t *eoff, char *emsg, size_t elen)
{
    enum { START, AFTER_DOT, AFTER_SEG } st = START;
    size_t i = 0;

    memset(p, 0, sizeof *p);
    if (!(p->text = malloc(len + 1)) || !(p->segs = calloc(PATH_MAX_SEGS, sizeof *p->segs))) {
        snprintf(emsg, elen, "out of memory");
        *eoff = 0;
        goto fail;
    }
    memcpy(p->text, s, len);
    p->text[len] = '\0';
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        fseg *seg;
        if (c == '.') {
            if (st != AFTER_SEG) {
                *eoff = i;
                snprintf(emsg, elen, "empty field name before '.'");
                goto fail;
            }
            st = AFTER_DOT;
            i++;
            continue;
        }
        if (st == AFTER_SEG && c != '[' && c != ' ' && c != '\t') {
            *eoff = i;
            snprintf(emsg, elen, "expected '.' or '[' after a field name, found '%c'", c);
            goto fail;
        }
        if (p->n == PATH_MAX_SEGS) {
            *eoff = i;
            snprintf(emsg, elen, "field path has more than %d parts", PATH_MAX_SEGS);
            goto fail;
        }
        seg = &p->segs[p->n];
        if (c == '[') {
            size_t open = i++;
            if (st == AFTER_DOT) {
                *eoff = open;
                snprintf(emsg, elen, "write a[\"k\"], not a.[\"k\"]");
                goto fail;
            }
            if (i < len && (s[i] == '"' || s[i] == '\'')) {
                char q = s[i++];
                char *key = malloc(len - i + 1);
                size_t o = 0;
                if (!key) {
                    *eoff = open;
                    snprintf(emsg, elen, "out of memory");
                    goto fail;
                }
                while (i < len && s[i] != q) {
                    if (s[i] == '\\' && i + 1 < len)
                        i++;
                    key[o++] = s[i++];
                }
                key[o] = '\0';
                seg->key = key;
                p->n++;
                if (i >= len) {
                    *eoff = open;
                    snprintf(emsg, elen, "unterminated quoted key (no closing %c)", q);
                    goto fail;
                }
                i++;
            } else if (i < len && (s[i] == '-' || (s[i] >= '0' && s[i] <= '9'))) {
                char *end;
                errno = 0;
                seg->index = strtoll(s + i, &end, 10);
                if (end == s + i || errno) {
                    *eoff = i;
                    snprintf(emsg, elen, "invalid list index");
                    goto fail;
                }
                i = (size_t)(end - s);
                p->n++;
            } else {
                *eoff = i;
                snprintf(emsg, elen, "expected a number or a quoted key after '['");
                goto fail;
            }
            if (i >= len || s[i] != ']') {
                *eoff = i;
                snprintf(emsg, elen, "expected ']'");
                goto fail;
            }
            i++;
        } else if (bare_char(c)) {
            size_t b = i;
            while (i < len && bare_char((unsigned char)s[i]))
                i++;
            if (!(seg->key = malloc(i - b + 1))) {
                *eoff = b;
                snprintf(emsg, elen, "out of memory");
                goto fail;
            }
            memcpy(seg->key, s + b, i - b);
            seg->key[i - b] = '\0';
            p->n++;
        } else {
            *eoff = i;
            if (c == ' ' || c == '\t')
                snprintf(emsg, elen, "unexpected space; quote keys with spaces like a[\"k k\"]");
            else if (c >= 0x20 && c < 0x7f)
                snprintf(emsg, elen, "unexpected '%c'; quote such keys like a[\"k%c\"]", c, c);
            else
                snprintf(emsg, elen, "unexpected control character");
            goto fail;
        }
        seg->text_end = i;
        st = AFTER_SEG;
    }
    if (st != AFTER_SEG) {
        *eoff = len;
        snprintf(emsg, elen, st == START ? "empty field path" : "field path ends with '.'");
        goto fail;
    }
    p->meta = p->segs[0].key && strcmp(p->segs[0].key, "_ingest") == 0;
    return true;
fail:
    fpath_free(p);
    return false;
}

static const char *json_kind(const cJSON *j)
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

typedef enum walk_rc { W_FOUND, W_MISSING, W_ERROR } walk_rc;

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
static walk_rc walk(cJSON *root, const fpath *p, size_t nsegs, cJSON **found, cJSON **parent,
                    char *err, size_t elen)
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
                             p->text, json_kind(cur));
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
                             p->text, json_kind(cur));
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
static walk_rc get(cJSON *root, const fpath *p, cJSON **found, char *err, size_t elen)
{
    cJSON *parent;
    walk_rc rc = walk(root, p, p->n, found, &parent, err, elen);
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
                         json_kind(cur));
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
                         json_kind(cur));
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

typedef enum set_rc { S_STORED, S_KEPT_OLD, S_ERROR, S_NOMEM } set_rc;

/* Checks that `p` can be set: its containers exist or can be created, and its last
 * step is a key of a mapping or an existing list element. *parent is the container
 * of the last step, or NULL when containers are still to be created (then every
 * missing step is a key). */
static bool check_set(cJSON *root, const fpath *p, cJSON **parent, char *err, size_t elen)
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
        snprintf(err, elen, "%.*s is a %s, not a mapping", plen, ptext, json_kind(*parent));
        return false;
    }
    if (!cJSON_IsArray(*parent)) {
        snprintf(err, elen, "%.*s is a %s, not a list", plen, ptext, json_kind(*parent));
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
static set_rc set_at(cJSON *root, const fpath *p, cJSON *item, bool override, bool skip_equal,
                     char *err, size_t elen)
{
    cJSON *parent, *old;
    bool nomem = false;
    const fseg *last = &p->segs[p->n - 1];

    if (!check_set(root, p, &parent, err, elen))
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
static bool path_within(const fpath *a, const fpath *b)
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

/* ---- growable text ---------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static bool sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(np = realloc(b->p, cap)))
            return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static bool sb_str(sbuf *b, const char *s)
{
    return sb_put(b, s, strlen(s));
}

/* ---- templates --------------------------------------------------------------------- */

typedef struct tpart {
    char *lit; /* NULL for a field */
    size_t len;
    fpath path;
} tpart;

typedef struct tmpl {
    tpart *parts;
    size_t n;
} tmpl;

static void tmpl_free(tmpl *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->parts[i].lit);
        fpath_free(&t->parts[i].path);
    }
    free(t->parts);
    memset(t, 0, sizeof *t);
}

static bool has_template(const char *s)
{
    return strstr(s, "{{") != NULL;
}

/* Appends the text form of a value: strings as they are, numbers in their shortest
 * exact form, booleans as true/false, null as nothing, lists and mappings as JSON. */
static bool render_value(sbuf *b, const cJSON *v)
{
    char num[32];
    if (!v || cJSON_IsNull(v))
        return true;
    if (cJSON_IsString(v))
        return sb_str(b, v->valuestring);
    if (cJSON_IsNumber(v)) {
        ps_expr_format_number(v->valuedouble, num, sizeof num);
        return sb_str(b, num);
    }
    if (cJSON_IsBool(v))
        return sb_str(b, cJSON_IsTrue(v) ? "true" : "false");
    char *json = cJSON_PrintUnformatted(v);
    bool ok = json && sb_str(b, json);
    cJSON_free(json);
    return ok;
}

/* ---- compiled pipelines ------------------------------------------------------------------ */

typedef enum ptype {
    P_SET,
    P_REMOVE,
    P_RENAME,
    P_COPY,
    P_APPEND,
    P_LOWERCASE,
    P_UPPERCASE,
    P_TRIM,
    P_CONVERT,
    P_DROP,
    P_REDACT,
    P_TAG,
    P_FAIL
} ptype;

typedef struct pdef {
    const char *name;
    ptype type;
    const char *const *opts; /* the options of this processor, besides the common ones */
} pdef;

static const char *const o_set[] = {
    "field", "value", "copy_from", "override", "ignore_empty_value", "ignore_missing", NULL};
static const char *const o_remove[] = {"field", "ignore_missing", NULL};
static const char *const o_move[] = {"field", "target_field", "override", "ignore_missing", NULL};
static const char *const o_append[] = {"field", "value", "allow_duplicates", NULL};
static const char *const o_text[] = {"field", "target_field", "ignore_missing", NULL};
static const char *const o_convert[] = {"field", "type", "target_field", "ignore_missing", NULL};
static const char *const o_none[] = {NULL};
static const char *const o_redact[] = {"field",  "mode",        "part",           "key",
                                       "length", "replacement", "ignore_missing", NULL};
static const char *const o_tag[] = {"tags", NULL};
static const char *const o_fail[] = {"message", NULL};
static const char *const o_common[] = {"if",  "ignore_failure", "on_failure",
                                       "tag", "description",    NULL};

static const pdef pdefs[] = {
    {"set", P_SET, o_set},
    {"remove", P_REMOVE, o_remove},
    {"rename", P_RENAME, o_move},
    {"copy", P_COPY, o_move},
    {"append", P_APPEND, o_append},
    {"lowercase", P_LOWERCASE, o_text},
    {"uppercase", P_UPPERCASE, o_text},
    {"trim", P_TRIM, o_text},
    {"convert", P_CONVERT, o_convert},
    {"drop", P_DROP, o_none},
    {"redact", P_REDACT, o_redact},
    {"tag", P_TAG, o_tag},
    {"fail", P_FAIL, o_fail},
};

typedef enum ctype { C_STRING, C_INT, C_FLOAT, C_BOOL } ctype;
typedef enum rmode { R_HASH, R_MASK } rmode;
typedef enum rpart { RP_ALL, RP_LOCAL, RP_DOMAIN } rpart;

/* A `value` option: a constant, or a structure with templated strings in it. */
typedef enum vkind { VT_CONST, VT_TMPL, VT_ARRAY, VT_OBJECT } vkind;
typedef struct vtree vtree;
struct vtree {
    vkind kind;
    cJSON *constant;
    tmpl t;
    vtree *items;
    char **keys;
    size_t n;
};

static void vtree_free(vtree *v)
{
    if (!v)
        return;
    cJSON_Delete(v->constant);
    tmpl_free(&v->t);
    for (size_t i = 0; i < v->n; i++) {
        vtree_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

typedef struct proc proc;
struct proc {
    ptype type;
    const char *tname;
    char *label; /* "processor 2", "processor 2.on_failure[0]", "on_failure[0]" */
    char *tag;
    char *description;
    ps_expr *cond;
    bool ignore_failure, ignore_missing, override, ignore_empty, allow_duplicates;
    proc *on_failure;
    size_t non_failure;
    fpath field, target;
    bool has_target;
    fpath *fields; /* remove, redact */
    size_t nfields;
    vtree value;
    bool has_value;
    fpath copy_from;
    bool has_copy_from;
    ctype conv;
    rmode rmode;
    rpart rpart;
    /* HMAC-SHA256 keyed once at load; duplicated for each value, so threads share
     * it read-only. NULL when the key was not resolved (compiled without secrets). */
    EVP_MAC_CTX *mac;
    int hash_len;
    char *replacement;
    tmpl *tags;
    size_t ntags;
    tmpl message;
};

struct ps_pipeline {
    char *name;
    char *description;
    const char *file;
    int line, col;
    ps_expr *cond;
    bool ignore_failure;
    proc *procs;
    size_t nprocs;
    proc *on_failure;
    size_t non_failure;
    cJSON *meta; /* {"pipeline": name}: `_ingest` outside failure handlers */
};

struct ps_pipeline_chain {
    const ps_pipeline **p;
    size_t n;
};

typedef struct dev_chain {
    long long id;
    ps_pipeline_chain chain;
} dev_chain;

struct ps_pipeline_set {
    ps_pipeline **pipes;
    size_t n, cap;
    char **files;
    size_t nfiles;
    dev_chain *devs;
    size_t ndevs;
};

static void proc_free(proc *p);

static void procs_free(proc *ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        proc_free(&ps[i]);
    free(ps);
}

static void proc_free(proc *p)
{
    free(p->label);
    free(p->tag);
    free(p->description);
    ps_expr_destroy(p->cond);
    procs_free(p->on_failure, p->non_failure);
    fpath_free(&p->field);
    fpath_free(&p->target);
    for (size_t i = 0; i < p->nfields; i++)
        fpath_free(&p->fields[i]);
    free(p->fields);
    vtree_free(&p->value);
    fpath_free(&p->copy_from);
    EVP_MAC_CTX_free(p->mac);
    free(p->replacement);
    for (size_t i = 0; i < p->ntags; i++)
        tmpl_free(&p->tags[i]);
    free(p->tags);
    tmpl_free(&p->message);
}

static void pipeline_free(ps_pipeline *pl)
{
    if (!pl)
        return;
    free(pl->name);
    free(pl->description);
    ps_expr_destroy(pl->cond);
    procs_free(pl->procs, pl->nprocs);
    procs_free(pl->on_failure, pl->non_failure);
    cJSON_Delete(pl->meta);
    free(pl);
}

/* ---- compilation ------------------------------------------------------------------ */

typedef struct cctx {
    ps_diag *diag;
    const char *file;
    ps_secret_ctx *secrets;
} cctx;

static void cerr(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
    PS_PRINTF(4, 5);
static void cwarn(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
    PS_PRINTF(4, 5);

static void cerr(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_diag_addv(c->diag, PS_DIAG_ERROR, c->file, n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
    va_end(ap);
}

static void cwarn(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_diag_addv(c->diag, PS_DIAG_WARNING, c->file, n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
    va_end(ap);
}

/* Reports a problem at byte `off` inside scalar `n` (a condition, a path, a template).
 * The column is exact for one-line scalars; a multi-line one is reported at its
 * start with the character offset in the message. */
static void cerr_in(cctx *c, const ps_yaml_node *n, size_t off, const char *path, const char *what,
                    const char *msg)
{
    size_t chars = 0;
    for (size_t i = 0; i < off && i < n->len; i++)
        if (((unsigned char)n->value[i] & 0xC0) != 0x80)
            chars++;
    if (memchr(n->value, '\n', n->len))
        ps_diag_add(c->diag, PS_DIAG_ERROR, c->file, n->line, n->col, path,
                    "%s: %s (at character %zu)", what, msg, chars + 1);
    else
        ps_diag_add(c->diag, PS_DIAG_ERROR, c->file, n->line,
                    n->col + (n->plain ? 0 : 1) + (int)chars, path, "%s: %s", what, msg);
}

/* Formats a diagnostic field path. One too long for the buffer is cut, which only
 * shortens a message. */
static void pjoin(char *dst, size_t len, const char *fmt, ...) PS_PRINTF(3, 4);

static void pjoin(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}

/* "a, b, c" from the NULL-terminated lists a and then b (either may be NULL). */
static void join_words(char *buf, size_t len, const char *const *a, const char *const *b)
{
    const char *const *lists[2] = {a, b};
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < 2; k++) {
        const char *const *list = lists[k];
        for (size_t i = 0; list && list[i]; i++) {
            int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", list[i]);
            if (w < 0 || (size_t)w >= len - o)
                return;
            o += (size_t)w;
        }
    }
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool oom(cctx *c, const ps_yaml_node *n, const char *path)
{
    cerr(c, n, path, "out of memory");
    return false;
}

/* A scalar option as text. */
static bool opt_text(cctx *c, const ps_yaml_node *n, const char *path, const char **out)
{
    if (n->kind != PS_YAML_SCALAR || ps_yaml_is_null(n)) {
        cerr(c, n, path, "expected a string, found %s", ps_yaml_describe(n));
        return false;
    }
    *out = n->value;
    return true;
}

static bool opt_bool(cctx *c, const ps_yaml_node *n, const char *path, bool *out)
{
    if (ps_yaml_to_bool(n, out) != PS_OK) {
        cerr(c, n, path, "expected true or false, found %s", ps_yaml_describe(n));
        return false;
    }
    return true;
}

static bool opt_path(cctx *c, const ps_yaml_node *n, const char *path, bool writable, fpath *out)
{
    const char *s;
    size_t off;
    char msg[160];
    if (!opt_text(c, n, path, &s))
        return false;
    if (!fpath_parse(s, n->len, out, &off, msg, sizeof msg)) {
        cerr_in(c, n, off, path, "invalid field path", msg);
        return false;
    }
    if (writable && out->meta) {
        cerr(c, n, path, "_ingest fields are read-only");
        fpath_free(out);
        return false;
    }
    return true;
}

static bool opt_cond(cctx *c, const ps_yaml_node *n, const char *path, ps_expr **out)
{
    const char *s;
    ps_expr_error err;
    ps_err rc;
    if (!opt_text(c, n, path, &s))
        return false;
    rc = ps_expr_compile(s, n->len, out, &err);
    if (rc == PS_ERR_NOMEM)
        return oom(c, n, path);
    if (rc != PS_OK) {
        cerr_in(c, n, err.offset, path, "invalid condition", err.msg);
        return false;
    }
    return true;
}

static bool tmpl_compile(cctx *c, const ps_yaml_node *n, const char *path, const char *s, tmpl *t)
{
    size_t len = strlen(s), i = 0;
    memset(t, 0, sizeof *t);
    /* Parts never outnumber 2 * ("{{" occurrences) + 1; count generously. */
    size_t cap = 1;
    for (const char *q = s; (q = strstr(q, "{{")); q += 2)
        cap += 2;
    if (!(t->parts = calloc(cap, sizeof *t->parts)))
        return oom(c, n, path);
    while (i < len) {
        const char *open = strstr(s + i, "{{");
        size_t o = open ? (size_t)(open - s) : len;
        if (o > i) {
            tpart *pt = &t->parts[t->n++];
            if (!(pt->lit = malloc(o - i + 1)))
                return oom(c, n, path);
            memcpy(pt->lit, s + i, o - i);
            pt->lit[o - i] = '\0';
            pt->len = o - i;
        }
        if (!open)
            break;
        bool triple = s[o + 2] == '{';
        size_t in = o + (triple ? 3 : 2);
        const char *close = strstr(s + in, triple ? "}}}" : "}}");
        if (!close) {
            cerr_in(c, n, o, path, "invalid template",
                    triple ? "{{{ without a closing }}}" : "{{ without a closing }}");
            return false;
        }
        size_t ce = (size_t)(close - s), b = in, e = ce;
        while (b < e && (s[b] == ' ' || s[b] == '\t'))
            b++;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (b < e && s[b] == '&') { /* mustache's unescaped form; nothing is escaped here */
            b++;
            while (b < e && s[b] == ' ')
                b++;
        }
        if (b == e) {
            cerr_in(c, n, o, path, "invalid template", "empty {{ }}");
            return false;
        }
        if (strchr("#^/!>=", s[b])) {
            cerr_in(c, n, b, path, "invalid template",
                    "mustache sections and partials are not supported; write {{field.path}}");
            return false;
        }
        tpart *pt = &t->parts[t->n++];
        size_t off;
        char msg[160];
        if (!fpath_parse(s + b, e - b, &pt->path, &off, msg, sizeof msg)) {
            cerr_in(c, n, b + off, path, "invalid field path in template", msg);
            return false;
        }
        i = ce + (triple ? 3 : 2);
    }
    return true;
}

/* A YAML scalar as a typed JSON value: plain null/true/false/numbers are typed,
 * everything else (and everything quoted) is a string. */
static cJSON *scalar_json(const ps_yaml_node *n)
{
    long long iv;
    double dv;
    if (ps_yaml_is_null(n))
        return cJSON_CreateNull();
    if (n->plain) {
        if (strcmp(n->value, "true") == 0 || strcmp(n->value, "True") == 0 ||
            strcmp(n->value, "TRUE") == 0)
            return cJSON_CreateTrue();
        if (strcmp(n->value, "false") == 0 || strcmp(n->value, "False") == 0 ||
            strcmp(n->value, "FALSE") == 0)
            return cJSON_CreateFalse();
        if (ps_yaml_to_int(n, &iv) == PS_OK)
            return cJSON_CreateNumber((double)iv);
        if (ps_yaml_to_double(n, &dv) == PS_OK)
            return cJSON_CreateNumber(dv);
    }
    return cJSON_CreateString(n->value);
}

static bool yaml_has_template(const ps_yaml_node *n)
{
    if (n->kind == PS_YAML_SCALAR)
        return has_template(n->value);
    for (size_t i = 0; i < n->count; i++)
        if (yaml_has_template(n->items[i]))
            return true;
    return false;
}

static cJSON *yaml_json(const ps_yaml_node *n)
{
    cJSON *out;
    if (n->kind == PS_YAML_SCALAR)
        return scalar_json(n);
    out = n->kind == PS_YAML_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
    for (size_t i = 0; out && i < n->count; i++) {
        cJSON *item = yaml_json(n->items[i]);
        bool ok =
            item && (n->kind == PS_YAML_SEQ ? cJSON_AddItemToArray(out, item)
                                            : cJSON_AddItemToObject(out, n->keys[i]->value, item));
        if (!ok) {
            cJSON_Delete(item);
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}

static bool vtree_compile(cctx *c, const ps_yaml_node *n, const char *path, vtree *v)
{
    char sub[DPATH];
    memset(v, 0, sizeof *v);
    if (!yaml_has_template(n)) {
        v->kind = VT_CONST;
        return (v->constant = yaml_json(n)) != NULL || oom(c, n, path);
    }
    if (n->kind == PS_YAML_SCALAR) {
        v->kind = VT_TMPL;
        return tmpl_compile(c, n, path, n->value, &v->t);
    }
    v->kind = n->kind == PS_YAML_SEQ ? VT_ARRAY : VT_OBJECT;
    if (!(v->items = calloc(n->count ? n->count : 1, sizeof *v->items)))
        return oom(c, n, path);
    if (v->kind == VT_OBJECT && !(v->keys = calloc(n->count ? n->count : 1, sizeof *v->keys)))
        return oom(c, n, path);
    for (size_t i = 0; i < n->count; i++) {
        v->n = i + 1;
        if (v->kind == VT_OBJECT) {
            pjoin(sub, sizeof sub, "%s.%s", path, n->keys[i]->value);
            if (!(v->keys[i] = dupstr(n->keys[i]->value)))
                return oom(c, n, path);
        } else {
            pjoin(sub, sizeof sub, "%s[%zu]", path, i);
        }
        if (!vtree_compile(c, n->items[i], sub, &v->items[i]))
            return false;
    }
    return true;
}

static bool compile_procs(cctx *c, const ps_yaml_node *list, const char *path, const char *label,
                          proc **out, size_t *nout);

static bool compile_fields(cctx *c, const ps_yaml_node *n, const char *path, proc *p)
{
    char sub[DPATH];
    size_t count = n->kind == PS_YAML_SEQ ? n->count : 1;
    if (n->kind == PS_YAML_SEQ && n->count == 0) {
        cerr(c, n, path, "expected a field path or a list of them, found an empty list");
        return false;
    }
    if (!(p->fields = calloc(count, sizeof *p->fields)))
        return oom(c, n, path);
    for (size_t i = 0; i < count; i++) {
        const ps_yaml_node *item = n->kind == PS_YAML_SEQ ? n->items[i] : n;
        if (n->kind == PS_YAML_SEQ)
            pjoin(sub, sizeof sub, "%s[%zu]", path, i);
        else
            pjoin(sub, sizeof sub, "%s", path);
        if (!opt_path(c, item, sub, true, &p->fields[i]))
            return false;
        p->nfields = i + 1;
    }
    return true;
}

static bool resolve_key(cctx *c, const ps_yaml_node *n, const char *path, proc *p)
{
    const char *raw;
    char *plain = NULL;
    ps_errmsg em;
    ps_secret_ctx *ctx = c->secrets;
    ps_err rc;

    if (!opt_text(c, n, path, &raw))
        return false;
    if (strncmp(raw, PS_SECRET_PREFIX, strlen(PS_SECRET_PREFIX)) == 0) {
        cerr(c, n, path,
             "encrypted (enc:v1:) keys are not supported here; use $secret{name} or ${VAR}");
        return false;
    }
    if (!*raw) {
        cerr(c, n, path, "the key is empty");
        return false;
    }
    if (!ctx) /* checking only (validate --no-secrets): the set will not hash */
        return true;
    rc = ps_secret_resolve(ctx, raw, false, 0, "key", &plain, &em);
    if (rc != PS_OK) {
        /* ps_secret names the field first; the diagnostic already has the path. */
        cerr(c, n, path, "%s", strncmp(em.text, "key: ", 5) == 0 ? em.text + 5 : em.text);
        return false;
    }
    if (strlen(plain) < REDACT_MIN_KEY) {
        ps_secret_free(plain);
        cerr(c, n, path, "the key must be at least %d bytes long", REDACT_MIN_KEY);
        return false;
    }
    /* Only the keyed HMAC state is kept; the key text is wiped here. */
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    p->mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_MAC_free(hmac);
    if (!p->mac || !EVP_MAC_init(p->mac, (const unsigned char *)plain, strlen(plain), params)) {
        ps_secret_free(plain);
        cerr(c, n, path, "HMAC-SHA256 is not available from OpenSSL");
        return false;
    }
    ps_secret_free(plain);
    if (!strstr(raw, "${") && !strstr(raw, "$secret{"))
        cwarn(c, n, path,
              "the key is written in the file; keep it out of the configuration with "
              "$secret{name} or ${VAR}");
    return true;
}

static bool one_of(cctx *c, const ps_yaml_node *n, const char *path, const char *const *words,
                   int *out)
{
    const char *s;
    char list[160];
    if (!opt_text(c, n, path, &s))
        return false;
    for (int i = 0; words[i]; i++) {
        if (strcmp(s, words[i]) == 0) {
            *out = i;
            return true;
        }
    }
    join_words(list, sizeof list, words, NULL);
    cerr(c, n, path, "unknown value \"%.60s\"; expected one of: %s", s, list);
    return false;
}

/* Options of one processor type. `m` is the options mapping (may be NULL). */
static bool compile_specific(cctx *c, const ps_yaml_node *m, const ps_yaml_node *at,
                             const char *ppath, proc *p)
{
    char sub[DPATH];
    const ps_yaml_node *n;
    bool ok = true;

#define OPT(name) (pjoin(sub, sizeof sub, "%s.%s", ppath, name), ps_yaml_map_get(m, name))
#define REQUIRE(name)                                                                              \
    do {                                                                                           \
        if (!n) {                                                                                  \
            cerr(c, at, ppath, "%s needs the option %s", p->tname, name);                          \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

    if ((n = OPT("ignore_missing")) && !opt_bool(c, n, sub, &p->ignore_missing))
        ok = false;
    switch (p->type) {
    case P_SET:
        p->override = true;
        if ((n = OPT("field")) == NULL)
            REQUIRE("field");
        ok = opt_path(c, n, sub, true, &p->field) && ok;
        if ((n = OPT("override")) && !opt_bool(c, n, sub, &p->override))
            ok = false;
        if ((n = OPT("ignore_empty_value")) && !opt_bool(c, n, sub, &p->ignore_empty))
            ok = false;
        if (ps_yaml_map_get(m, "value") && ps_yaml_map_get(m, "copy_from")) {
            cerr(c, ps_yaml_map_get(m, "copy_from"), ppath,
                 "set takes value or copy_from, not both");
            return false;
        }
        if ((n = OPT("copy_from"))) {
            p->has_copy_from = opt_path(c, n, sub, false, &p->copy_from);
            ok = p->has_copy_from && ok;
        } else if ((n = OPT("value"))) {
            p->has_value = vtree_compile(c, n, sub, &p->value);
            ok = p->has_value && ok;
        } else {
            cerr(c, at, ppath, "set needs the option value (or copy_from)");
            ok = false;
        }
        break;
    case P_REMOVE:
        if ((n = OPT("field")) == NULL)
            REQUIRE("field");
        ok = compile_fields(c, n, sub, p) && ok;
        break;
    case P_RENAME:
    case P_COPY: {
        const ps_yaml_node *tn;
        char tsub[DPATH];
        if ((n = OPT("field")) == NULL)
            REQUIRE("field");
        ok = opt_path(c, n, sub, p->type == P_RENAME, &p->field) && ok;
        if ((tn = OPT("target_field")) == NULL) {
            cerr(c, at, ppath, "%s needs the option target_field", p->tname);
            return false;
        }
        pjoin(tsub, sizeof tsub, "%s", sub);
        p->has_target = opt_path(c, tn, tsub, true, &p->target);
        ok = p->has_target && ok;
        if ((n = OPT("override")) && !opt_bool(c, n, sub, &p->override))
            ok = false;
        if (ok && path_within(&p->target, &p->field) && p->target.n == p->field.n) {
            cerr(c, tn, tsub, "target_field is the same as field");
            ok = false;
        } else if (ok && p->type == P_RENAME && path_within(&p->target, &p->field)) {
            cerr(c, tn, tsub, "target_field lies inside field, which rename removes");
            ok = false;
        }
        break;
    }
    case P_APPEND:
        p->allow_duplicates = true;
        if ((n = OPT("field")) == NULL)
            REQUIRE("field");
        ok = opt_path(c, n, sub, true, &p->field) && ok;
        if ((n = OPT("allow_duplicates")) && !opt_bool(c, n, sub, &p->allow_duplicates))
            ok = false;
        if ((n = OPT("value")) == NULL)
            REQUIRE("value");
        p->has_value = vtree_compile(c, n, sub, &p->value);
        ok = p->has_value && ok;
        break;
    case P_LOWERCASE:
    case P_UPPERCASE:
    case P_TRIM:
    case P_CONVERT:
        if ((n = OPT("field")) == NULL)
            REQUIRE("field");
        ok = opt_path(c, n, sub, true, &p->field) && ok;
        if ((n = OPT("target_field"))) {
            p->has_target = opt_path(c, n, sub, true, &p->target);
            ok = p->has_target && ok;
        }
        if (p->type == P_CONVERT) {
            static const char *const types[] = {"string", "int",     "integer", "long", "float",
                                                "double", "boolean", "bool",    NULL};
            static const ctype map[] = {C_STRING, C_INT,   C_INT,  C_INT,
                                        C_FLOAT,  C_FLOAT, C_BOOL, C_BOOL};
            int t;
            if ((n = OPT("type")) == NULL)
                REQUIRE("type");
            if (one_of(c, n, sub, types, &t))
                p->conv = map[t];
            else
                ok = false;
        }
        break;
    case P_DROP:
        break;
    case P_REDACT: {
        static const char *const modes[] = {"hash", "mask", NULL};
        static const char *const parts[] = {"all", "local", "domain", NULL};
        int v;
        long long len;
        const ps_yaml_node *kn;
        if ((n = OPT("field")) == NULL)
            REQUIRE("field");
        ok = compile_fields(c, n, sub, p) && ok;
        p->rmode = R_HASH;
        if ((n = OPT("mode"))) {
            if (!one_of(c, n, sub, modes, &v))
                return false; /* what else is needed depends on the mode */
            p->rmode = (rmode)v;
        }
        if ((n = OPT("part"))) {
            if (one_of(c, n, sub, parts, &v))
                p->rpart = (rpart)v;
            else
                ok = false;
        }
        p->hash_len = REDACT_DEFAULT_LEN;
        if ((n = OPT("length"))) {
            if (ps_yaml_to_int(n, &len) != PS_OK || len < 8 || len > 64) {
                cerr(c, n, sub,
                     "expected a whole number from 8 to 64 (hex characters of the "
                     "hash to keep)");
                ok = false;
            } else {
                p->hash_len = (int)len;
            }
        }
        if ((n = OPT("replacement"))) {
            const char *s;
            if (p->rmode != R_MASK) {
                cerr(c, n, sub, "replacement is only used with mode: mask");
                ok = false;
            } else if (!opt_text(c, n, sub, &s) || !(p->replacement = dupstr(s))) {
                ok = false;
            }
        } else if (p->rmode == R_MASK && !(p->replacement = dupstr("***"))) {
            return oom(c, at, ppath);
        }
        kn = OPT("key");
        if (p->rmode == R_HASH) {
            if (!kn) {
                cerr(c, at, ppath,
                     "redact with mode: hash needs a key (e.g. key: \"$secret{redact}\"); "
                     "without one the hashes could be reversed by hashing guesses");
                return false;
            }
            ok = resolve_key(c, kn, sub, p) && ok;
        } else if (kn) {
            cerr(c, kn, sub, "key is only used with mode: hash");
            ok = false;
        }
        if (ps_yaml_map_get(m, "length") && p->rmode == R_MASK) {
            cerr(c, ps_yaml_map_get(m, "length"), ppath, "length is only used with mode: hash");
            ok = false;
        }
        break;
    }
    case P_TAG: {
        if ((n = OPT("tags")) == NULL)
            REQUIRE("tags");
        size_t count = n->kind == PS_YAML_SEQ ? n->count : 1;
        if (n->kind == PS_YAML_MAP || (n->kind == PS_YAML_SEQ && n->count == 0) ||
            ps_yaml_is_null(n)) {
            cerr(c, n, sub, "expected a tag or a list of tags, found %s",
                 n->kind == PS_YAML_SEQ ? "an empty list" : ps_yaml_describe(n));
            return false;
        }
        if (!(p->tags = calloc(count, sizeof *p->tags)))
            return oom(c, n, sub);
        for (size_t i = 0; i < count; i++) {
            const ps_yaml_node *t = n->kind == PS_YAML_SEQ ? n->items[i] : n;
            char tp[DPATH];
            const char *s;
            pjoin(tp, sizeof tp, n->kind == PS_YAML_SEQ ? "%s[%zu]" : "%s", sub, i);
            p->ntags = i + 1;
            if (!opt_text(c, t, tp, &s) || !tmpl_compile(c, t, tp, s, &p->tags[i])) {
                ok = false;
                break;
            }
            if (!*s) {
                cerr(c, t, tp, "a tag cannot be empty");
                ok = false;
            }
        }
        break;
    }
    case P_FAIL: {
        const char *s;
        if ((n = OPT("message")) == NULL)
            REQUIRE("message");
        ok = opt_text(c, n, sub, &s) && tmpl_compile(c, n, sub, s, &p->message) && ok;
        break;
    }
    }
#undef OPT
#undef REQUIRE
    return ok;
}

static const pdef *find_pdef(const char *name)
{
    for (size_t i = 0; i < sizeof pdefs / sizeof pdefs[0]; i++)
        if (strcmp(pdefs[i].name, name) == 0)
            return &pdefs[i];
    return NULL;
}

static bool compile_proc(cctx *c, const ps_yaml_node *item, const char *path, const char *label,
                         proc *p)
{
    const char *names[sizeof pdefs / sizeof pdefs[0] + 1] = {NULL};
    char ppath[DPATH], sub[DPATH], list[400];
    const ps_yaml_node *m, *n;
    const pdef *def;
    bool ok = true;

    for (size_t i = 0; i < sizeof pdefs / sizeof pdefs[0]; i++)
        names[i] = pdefs[i].name;
    if (item->kind != PS_YAML_MAP) {
        cerr(c, item, path,
             "expected a processor (a mapping such as `set: {field: a, value: b}`), found %s",
             ps_yaml_describe(item));
        return false;
    }
    if (item->count != 1) {
        join_words(list, sizeof list, names, NULL);
        if (item->count == 0)
            cerr(c, item, path, "empty processor; use one of: %s", list);
        else
            cerr(c, item, path,
                 "a processor is a mapping with one key, the processor type, but this one has "
                 "%zu (%s, %s%s); indent the options under the type",
                 item->count, item->keys[0]->value, item->keys[1]->value,
                 item->count > 2 ? ", ..." : "");
        return false;
    }
    def = find_pdef(item->keys[0]->value);
    if (!def) {
        const char *guess = ps_suggest(item->keys[0]->value, names);
        join_words(list, sizeof list, names, NULL);
        if (guess)
            cerr(c, item->keys[0], path, "unknown processor \"%.60s\" (did you mean \"%s\"?)",
                 item->keys[0]->value, guess);
        else
            cerr(c, item->keys[0], path, "unknown processor \"%.60s\"; processors are: %s",
                 item->keys[0]->value, list);
        return false;
    }
    p->type = def->type;
    p->tname = def->name;
    if (!(p->label = dupstr(label)))
        return oom(c, item, path);
    pjoin(ppath, sizeof ppath, "%s.%s", path, def->name);
    m = item->items[0];
    if (ps_yaml_is_null(m)) {
        m = NULL;
    } else if (m->kind != PS_YAML_MAP) {
        cerr(c, m, ppath, "expected the options of %s as a mapping, found %s", def->name,
             ps_yaml_describe(m));
        return false;
    }
    for (size_t i = 0; m && i < m->count; i++) {
        const char *k = m->keys[i]->value;
        bool known = false;
        for (size_t j = 0; !known && def->opts[j]; j++)
            known = strcmp(k, def->opts[j]) == 0;
        for (size_t j = 0; !known && o_common[j]; j++)
            known = strcmp(k, o_common[j]) == 0;
        if (known)
            continue;
        const char *guess = ps_suggest(k, def->opts);
        if (!guess)
            guess = ps_suggest(k, o_common);
        join_words(list, sizeof list, def->opts, o_common);
        pjoin(sub, sizeof sub, "%s.%s", ppath, k);
        if (guess)
            cerr(c, m->keys[i], sub, "unknown option \"%.60s\" for %s (did you mean \"%s\"?)", k,
                 def->name, guess);
        else
            cerr(c, m->keys[i], sub, "unknown option \"%.60s\" for %s; options are: %s", k,
                 def->name, list);
        ok = false;
    }
    if ((n = ps_yaml_map_get(m, "if"))) {
        pjoin(sub, sizeof sub, "%s.if", ppath);
        ok = opt_cond(c, n, sub, &p->cond) && ok;
    }
    if ((n = ps_yaml_map_get(m, "ignore_failure"))) {
        pjoin(sub, sizeof sub, "%s.ignore_failure", ppath);
        ok = opt_bool(c, n, sub, &p->ignore_failure) && ok;
    }
    if ((n = ps_yaml_map_get(m, "tag"))) {
        const char *s;
        pjoin(sub, sizeof sub, "%s.tag", ppath);
        ok = opt_text(c, n, sub, &s) && (p->tag = dupstr(s)) != NULL && ok;
    }
    if ((n = ps_yaml_map_get(m, "description"))) {
        const char *s;
        pjoin(sub, sizeof sub, "%s.description", ppath);
        ok = opt_text(c, n, sub, &s) && (p->description = dupstr(s)) != NULL && ok;
    }
    if ((n = ps_yaml_map_get(m, "on_failure"))) {
        char sublabel[DPATH];
        pjoin(sub, sizeof sub, "%s.on_failure", ppath);
        pjoin(sublabel, sizeof sublabel, "%s.on_failure", label);
        ok = compile_procs(c, n, sub, sublabel, &p->on_failure, &p->non_failure) && ok;
    }
    return compile_specific(c, m, item->keys[0], ppath, p) && ok;
}

/* A list of processors; labels are "<label>[i]" or "processor i" for the top level. */
static bool compile_procs(cctx *c, const ps_yaml_node *list, const char *path, const char *label,
                          proc **out, size_t *nout)
{
    char sub[DPATH], lab[DPATH];
    bool ok = true;
    *out = NULL;
    *nout = 0;
    if (list->kind != PS_YAML_SEQ) {
        cerr(c, list, path, "expected a list of processors, found %s", ps_yaml_describe(list));
        return false;
    }
    if (list->count == 0) /* allowed, as in Elastic: a pipeline being written */
        return true;
    if (!(*out = calloc(list->count, sizeof **out)))
        return oom(c, list, path);
    *nout = list->count;
    for (size_t i = 0; i < list->count; i++) {
        pjoin(sub, sizeof sub, "%s[%zu]", path, i);
        if (label)
            pjoin(lab, sizeof lab, "%s[%zu]", label, i);
        else
            pjoin(lab, sizeof lab, "processor %zu", i);
        ok = compile_proc(c, list->items[i], sub, lab, &(*out)[i]) && ok;
    }
    return ok;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > NAME_MAX_LEN)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

static const char *const pipeline_keys[] = {"name",           "description", "if",
                                            "ignore_failure", "on_failure",  "processors",
                                            "version",        "_meta",       NULL};

/* Compiles one pipeline mapping. Returns the pipeline (possibly with errors
 * reported, so that its name still counts for device references) or NULL. */
static ps_pipeline *compile_pipeline(cctx *c, const ps_yaml_node *m, const char *path)
{
    char sub[DPATH], list[200];
    const ps_yaml_node *n;
    ps_pipeline *pl;
    const char *s;

    if (m->kind != PS_YAML_MAP) {
        cerr(c, m, path, "expected a pipeline (a mapping with name and processors), found %s",
             ps_yaml_describe(m));
        return NULL;
    }
    pjoin(sub, sizeof sub, "%s.name", path);
    n = ps_yaml_map_get(m, "name");
    if (!n) {
        cerr(c, m, path, "a pipeline needs a name");
        return NULL;
    }
    if (!opt_text(c, n, sub, &s))
        return NULL;
    if (!valid_name(s)) {
        cerr(c, n, sub,
             "invalid pipeline name \"%.60s\": use 1 to %d letters, digits, '_', '-' or '.'", s,
             NAME_MAX_LEN);
        return NULL;
    }
    if (!(pl = calloc(1, sizeof *pl)) || !(pl->name = dupstr(s))) {
        free(pl);
        oom(c, n, sub);
        return NULL;
    }
    pl->file = c->file;
    pl->line = n->line;
    pl->col = n->col;
    if (!(pl->meta = cJSON_CreateObject()) || !cJSON_AddStringToObject(pl->meta, "pipeline", s))
        oom(c, m, path);

    for (size_t i = 0; i < m->count; i++) {
        const char *k = m->keys[i]->value;
        bool known = false;
        for (size_t j = 0; !known && pipeline_keys[j]; j++)
            known = strcmp(k, pipeline_keys[j]) == 0;
        if (known)
            continue;
        const char *guess = ps_suggest(k, pipeline_keys);
        pjoin(sub, sizeof sub, "%s.%s", path, k);
        join_words(list, sizeof list, pipeline_keys, NULL);
        if (guess)
            cerr(c, m->keys[i], sub, "unknown pipeline option \"%.60s\" (did you mean \"%s\"?)", k,
                 guess);
        else
            cerr(c, m->keys[i], sub, "unknown pipeline option \"%.60s\"; options are: %s", k, list);
    }
    if ((n = ps_yaml_map_get(m, "description"))) {
        pjoin(sub, sizeof sub, "%s.description", path);
        if (opt_text(c, n, sub, &s) && !(pl->description = dupstr(s)))
            oom(c, n, sub);
    }
    if ((n = ps_yaml_map_get(m, "if"))) {
        pjoin(sub, sizeof sub, "%s.if", path);
        opt_cond(c, n, sub, &pl->cond);
    }
    if ((n = ps_yaml_map_get(m, "ignore_failure"))) {
        pjoin(sub, sizeof sub, "%s.ignore_failure", path);
        opt_bool(c, n, sub, &pl->ignore_failure);
    }
    if ((n = ps_yaml_map_get(m, "version"))) {
        long long v;
        pjoin(sub, sizeof sub, "%s.version", path);
        if (ps_yaml_to_int(n, &v) != PS_OK)
            cerr(c, n, sub, "expected a whole number, found %s", ps_yaml_describe(n));
    }
    if ((n = ps_yaml_map_get(m, "processors"))) {
        pjoin(sub, sizeof sub, "%s.processors", path);
        compile_procs(c, n, sub, NULL, &pl->procs, &pl->nprocs);
    } else {
        cerr(c, m, path, "pipeline \"%s\" needs processors", pl->name);
    }
    if ((n = ps_yaml_map_get(m, "on_failure"))) {
        pjoin(sub, sizeof sub, "%s.on_failure", path);
        compile_procs(c, n, sub, "on_failure", &pl->on_failure, &pl->non_failure);
    }
    return pl;
}

static bool set_add(ps_pipeline_set *set, ps_pipeline *pl)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        ps_pipeline **np = realloc(set->pipes, cap * sizeof(ps_pipeline *));
        if (!np)
            return false;
        set->pipes = np;
        set->cap = cap;
    }
    set->pipes[set->n++] = pl;
    return true;
}

static const char *keep_file(ps_pipeline_set *set, const char *name)
{
    char **nf;
    for (size_t i = 0; i < set->nfiles; i++)
        if (strcmp(set->files[i], name) == 0)
            return set->files[i];
    if (!(nf = realloc(set->files, (set->nfiles + 1) * sizeof *nf)))
        return NULL;
    set->files = nf;
    if (!(set->files[set->nfiles] = dupstr(name)))
        return NULL;
    return set->files[set->nfiles++];
}

ps_err ps_pipeline_set_compile(const ps_config_pipeline_file *files, size_t nfiles,
                               const ps_device *devices, size_t ndevices, ps_secret_ctx *secrets,
                               ps_pipeline_set **out, ps_diag *diag)
{
    size_t errors_before = diag->errors;
    ps_pipeline_set *set = calloc(1, sizeof *set);
    cctx c = {diag, NULL, secrets};
    char path[DPATH];

    *out = NULL;
    if (!set) {
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL, "out of memory compiling pipelines");
        return PS_ERR_NOMEM;
    }
    for (size_t f = 0; f < nfiles; f++) {
        const ps_yaml_node *list = files[f].list;
        const char *name = ps_yaml_doc_name(files[f].doc);
        if (!list)
            continue;
        if (!(c.file = keep_file(set, name ? name : "pipelines"))) {
            ps_diag_add(diag, PS_DIAG_ERROR, name, 0, 0, NULL, "out of memory");
            continue;
        }
        if (list->kind == PS_YAML_MAP && ps_yaml_map_get(list, "pipelines") &&
            !ps_yaml_map_get(list, "name"))
            list = ps_yaml_map_get(list, "pipelines");
        if (list->kind == PS_YAML_SEQ) {
            for (size_t i = 0; i < list->count; i++) {
                ps_pipeline *pl;
                pjoin(path, sizeof path, "pipelines[%zu]", i);
                pl = compile_pipeline(&c, list->items[i], path);
                if (pl && !set_add(set, pl)) {
                    pipeline_free(pl);
                    ps_diag_add(diag, PS_DIAG_ERROR, c.file, 0, 0, NULL, "out of memory");
                }
            }
        } else if (list->kind == PS_YAML_MAP) {
            ps_pipeline *pl = compile_pipeline(&c, list, "pipeline");
            if (pl && !set_add(set, pl)) {
                pipeline_free(pl);
                ps_diag_add(diag, PS_DIAG_ERROR, c.file, 0, 0, NULL, "out of memory");
            }
        } else if (!ps_yaml_is_null(list)) {
            cerr(&c, list, NULL, "expected a list of pipelines or one pipeline, found %s",
                 ps_yaml_describe(list));
        }
    }

    for (size_t i = 1; i < set->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->pipes[i]->name, set->pipes[j]->name) == 0) {
                ps_diag_add(diag, PS_DIAG_ERROR, set->pipes[i]->file, set->pipes[i]->line,
                            set->pipes[i]->col, NULL,
                            "duplicate pipeline name \"%s\" (first defined at %s:%d:%d)",
                            set->pipes[i]->name, set->pipes[j]->file, set->pipes[j]->line,
                            set->pipes[j]->col);
                break;
            }

    if (ndevices && !(set->devs = calloc(ndevices, sizeof *set->devs)))
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
    for (size_t d = 0; set->devs && d < ndevices; d++) {
        const ps_device *dev = &devices[d];
        dev_chain *dc = &set->devs[set->ndevs];
        if (dev->npipelines == 0)
            continue;
        dc->id = dev->id;
        if (!(dc->chain.p = calloc(dev->npipelines, sizeof(const ps_pipeline *)))) {
            ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
            break;
        }
        set->ndevs++;
        for (size_t k = 0; k < dev->npipelines; k++) {
            const ps_pipeline *pl = ps_pipeline_set_find(set, dev->pipelines[k]);
            const ps_config_pos *pos = dev->pipeline_pos ? &dev->pipeline_pos[k] : &dev->pos;
            pjoin(path, sizeof path, "%s.pipelines[%zu]", dev->path ? dev->path : "device", k);
            if (pl) {
                for (size_t j = 0; j < k; j++)
                    if (strcmp(dev->pipelines[j], dev->pipelines[k]) == 0)
                        ps_diag_add(diag, PS_DIAG_WARNING, pos->file, pos->line, pos->col, path,
                                    "pipeline \"%s\" is listed twice; it will run twice",
                                    dev->pipelines[k]);
                dc->chain.p[dc->chain.n++] = pl;
                continue;
            }
            const char **names = calloc(set->n + 1, sizeof *names);
            const char *guess = NULL;
            for (size_t j = 0; names && j < set->n; j++)
                names[j] = set->pipes[j]->name;
            if (names)
                guess = ps_suggest(dev->pipelines[k], names);
            if (guess)
                ps_diag_add(diag, PS_DIAG_ERROR, pos->file, pos->line, pos->col, path,
                            "unknown pipeline \"%.60s\" (did you mean \"%s\"?)", dev->pipelines[k],
                            guess);
            else if (set->n == 0)
                ps_diag_add(diag, PS_DIAG_ERROR, pos->file, pos->line, pos->col, path,
                            "unknown pipeline \"%.60s\"; no pipelines are defined (put them "
                            "in pipelines/*.yml)",
                            dev->pipelines[k]);
            else
                ps_diag_add(diag, PS_DIAG_ERROR, pos->file, pos->line, pos->col, path,
                            "unknown pipeline \"%.60s\"", dev->pipelines[k]);
            free(names);
        }
    }

    if (diag->errors > errors_before || diag->oom) {
        ps_pipeline_set_destroy(set);
        return PS_ERR_INVALID;
    }
    *out = set;
    return PS_OK;
}

ps_err ps_pipeline_set_create(const ps_config *cfg, ps_pipeline_set **out, ps_diag *diag)
{
    ps_secret_ctx secrets;
    ps_err rc;
    ps_secret_ctx_init(&secrets, cfg->service.secrets_dir, cfg->service.key_file);
    rc = ps_pipeline_set_compile(cfg->pipeline_files, cfg->npipeline_files, cfg->devices,
                                 cfg->ndevices, &secrets, out, diag);
    ps_secret_ctx_deinit(&secrets);
    return rc;
}

void ps_pipeline_set_destroy(ps_pipeline_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        pipeline_free(set->pipes[i]);
    free(set->pipes);
    for (size_t i = 0; i < set->nfiles; i++)
        free(set->files[i]);
    free(set->files);
    for (size_t i = 0; i < set->ndevs; i++)
        free(set->devs[i].chain.p);
    free(set->devs);
    free(set);
}

size_t ps_pipeline_set_count(const ps_pipeline_set *set)
{
    return set->n;
}

const ps_pipeline *ps_pipeline_set_at(const ps_pipeline_set *set, size_t i)
{
    return i < set->n ? set->pipes[i] : NULL;
}

const ps_pipeline *ps_pipeline_set_find(const ps_pipeline_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->pipes[i]->name, name) == 0)
            return set->pipes[i];
    return NULL;
}

const char *ps_pipeline_name(const ps_pipeline *p)
{
    return p->name;
}

const char *ps_pipeline_description(const ps_pipeline *p)
{
    return p->description;
}

size_t ps_pipeline_processor_count(const ps_pipeline *p)
{
    return p->nprocs;
}

ps_config_pos ps_pipeline_pos(const ps_pipeline *p)
{
    ps_config_pos pos = {p->file, p->line, p->col};
    return pos;
}

const ps_pipeline_chain *ps_pipeline_set_device_chain(const ps_pipeline_set *set,
                                                      long long device_id)
{
    for (size_t i = 0; i < set->ndevs; i++)
        if (set->devs[i].id == device_id)
            return &set->devs[i].chain;
    return NULL;
}

ps_err ps_pipeline_chain_create(const ps_pipeline_set *set, const char *const *names, size_t n,
                                ps_pipeline_chain **out, ps_errmsg *em)
{
    ps_pipeline_chain *ch = calloc(1, sizeof *ch);
    *out = NULL;
    if (!ch || !(ch->p = calloc(n ? n : 1, sizeof(const ps_pipeline *)))) {
        free(ch);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!(ch->p[i] = ps_pipeline_set_find(set, names[i]))) {
            ps_pipeline_chain_destroy(ch);
            return ps_errmsg_set(em, PS_ERR_NOTFOUND, "no pipeline is called \"%.100s\"", names[i]);
        }
    }
    ch->n = n;
    *out = ch;
    return PS_OK;
}

void ps_pipeline_chain_destroy(ps_pipeline_chain *chain)
{
    if (!chain)
        return;
    free(chain->p);
    free(chain);
}

/* ---- running ------------------------------------------------------------------------ */

typedef struct rscratch {
    ps_expr_scratch *es;
    sbuf buf;
} rscratch;

enum { R_OK, R_DROP, R_FAIL };

typedef struct rctx {
    ps_pipeline_result *res;
    rscratch *sc;
    cJSON *event;
    const ps_pipeline *pl;
    cJSON *meta;           /* `_ingest` for the running processor; only read */
    const proc *fail_proc; /* NULL: the pipeline's own `if` failed */
    const proc *drop_proc;
    char where[200]; /* "field a.b", "target_field x", "if", or empty */
    char reason[400];
    bool nomem;
} rctx;

void ps_pipeline_result_init(ps_pipeline_result *res)
{
    memset(res, 0, sizeof *res);
}

static void clear_tags(ps_pipeline_result *res)
{
    for (size_t i = 0; i < res->ntags; i++)
        free(res->tags[i]);
    res->ntags = 0;
}

void ps_pipeline_result_deinit(ps_pipeline_result *res)
{
    rscratch *sc;
    if (!res)
        return;
    clear_tags(res);
    free(res->tags);
    sc = res->scratch;
    if (sc) {
        ps_expr_scratch_destroy(sc->es);
        free(sc->buf.p);
        free(sc);
    }
    memset(res, 0, sizeof *res);
}

/* Records why processor `p` (NULL: the pipeline's `if`) failed: `opt` and `path`
 * name the option and field at fault, when there is one. */
static int fail(rctx *r, const proc *p, const char *opt, const char *path, const char *fmt, ...)
    PS_PRINTF(5, 6);

static int fail(rctx *r, const proc *p, const char *opt, const char *path, const char *fmt, ...)
{
    va_list ap;
    r->fail_proc = p;
    pjoin(r->where, sizeof r->where, "%s%s%s", opt ? opt : "", path ? " " : "", path ? path : "");
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    return R_FAIL;
}

static int nomem(rctx *r, const proc *p)
{
    r->nomem = true;
    return fail(r, p, NULL, NULL, "out of memory");
}

/* Reads a field of the event, or of `_ingest` for paths that start with it. */
static walk_rc read_field(const rctx *r, const fpath *fp, cJSON **v, char *err, size_t elen)
{
    cJSON *parent;
    fpath rest;
    walk_rc rc;
    if (!fp->meta)
        return get(r->event, fp, v, err, elen);
    if (!r->meta)
        return W_MISSING;
    rest = *fp;
    rest.segs++;
    rest.n--;
    rc = walk(r->meta, &rest, rest.n, v, &parent, err, elen);
    if (rc == W_FOUND && cJSON_IsNull(*v))
        return W_MISSING;
    return rc;
}

/* Renders a template into the scratch buffer; the text is valid until the next
 * render. NULL when out of memory. */
static const char *render(rctx *r, const tmpl *t)
{
    sbuf *b = &r->sc->buf;
    char err[8];
    b->len = 0;
    if (!sb_put(b, "", 0))
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const tpart *pt = &t->parts[i];
        cJSON *v = NULL;
        if (pt->lit) {
            if (!sb_put(b, pt->lit, pt->len))
                return NULL;
            continue;
        }
        if (read_field(r, &pt->path, &v, err, sizeof err) != W_FOUND)
            v = NULL; /* mustache: a missing or unreachable field renders as nothing */
        if (!render_value(b, v))
            return NULL;
    }
    return b->p;
}

static cJSON *vtree_render(rctx *r, const vtree *v)
{
    cJSON *out;
    const char *s;
    switch (v->kind) {
    case VT_CONST:
        return cJSON_Duplicate(v->constant, true);
    case VT_TMPL:
        return (s = render(r, &v->t)) ? cJSON_CreateString(s) : NULL;
    case VT_ARRAY:
    case VT_OBJECT:
        out = v->kind == VT_ARRAY ? cJSON_CreateArray() : cJSON_CreateObject();
        for (size_t i = 0; out && i < v->n; i++) {
            cJSON *item = vtree_render(r, &v->items[i]);
            bool ok = item && (v->kind == VT_ARRAY ? cJSON_AddItemToArray(out, item)
                                                   : cJSON_AddItemToObject(out, v->keys[i], item));
            if (!ok) {
                cJSON_Delete(item);
                cJSON_Delete(out);
                return NULL;
            }
        }
        return out;
    }
    return NULL;
}

/* Reads the field of a processor for changing it: W_MISSING (missing or null) is
 * handled by ignore_missing here. Returns R_OK with *v NULL to skip. */
static int field_for_update(rctx *r, const proc *p, const char *opt, const fpath *fp, cJSON **v)
{
    char err[200];
    *v = NULL;
    switch (read_field(r, fp, v, err, sizeof err)) {
    case W_FOUND:
        return R_OK;
    case W_MISSING:
        *v = NULL;
        return p->ignore_missing ? R_OK : fail(r, p, opt, fp->text, "not found");
    default:
        *v = NULL;
        return fail(r, p, opt, fp->text, "%s", err);
    }
}

/* Puts `item` at `fp`, replacing what is there (unless it is equal, or with
 * `override` false, not null). Takes item. */
static int store(rctx *r, const proc *p, const fpath *fp, cJSON *item, bool override,
                 const char *opt)
{
    char err[200];
    switch (set_at(r->event, fp, item, override, true, err, sizeof err)) {
    case S_STORED:
        r->res->modified = true;
        return R_OK;
    case S_KEPT_OLD:
        cJSON_Delete(item);
        return R_OK;
    case S_NOMEM:
        cJSON_Delete(item);
        return nomem(r, p);
    default:
        cJSON_Delete(item);
        return fail(r, p, opt, fp->text, "%s", err);
    }
}

static int do_set(rctx *r, const proc *p)
{
    cJSON *item;

    if (p->has_copy_from) {
        cJSON *src;
        int rc = field_for_update(r, p, "copy_from", &p->copy_from, &src);
        if (rc != R_OK || !src)
            return rc;
        item = cJSON_Duplicate(src, true);
    } else {
        item = vtree_render(r, &p->value);
    }
    if (!item)
        return nomem(r, p);
    if (p->ignore_empty &&
        (cJSON_IsNull(item) || (cJSON_IsString(item) && item->valuestring[0] == '\0'))) {
        cJSON_Delete(item);
        return R_OK;
    }
    return store(r, p, &p->field, item, p->override, "field");
}

static int do_remove(rctx *r, const proc *p)
{
    char err[200];
    cJSON *v, *parent;
    /* Check every field first so that a failure removes nothing. */
    for (size_t i = 0; i < p->nfields; i++) {
        switch (walk(r->event, &p->fields[i], p->fields[i].n, &v, &parent, err, sizeof err)) {
        case W_FOUND:
            break;
        case W_MISSING:
            if (!p->ignore_missing)
                return fail(r, p, "field", p->fields[i].text, "not found");
            break;
        default:
            return fail(r, p, "field", p->fields[i].text, "%s", err);
        }
    }
    for (size_t i = 0; i < p->nfields; i++) {
        if (walk(r->event, &p->fields[i], p->fields[i].n, &v, &parent, err, sizeof err) != W_FOUND)
            continue; /* inside a field removed just before */
        cJSON_Delete(cJSON_DetachItemViaPointer(parent, v));
        r->res->modified = true;
    }
    return R_OK;
}

static int do_move(rctx *r, const proc *p)
{
    cJSON *src, *dst, *item, *parent;
    char err[200];
    int rc = field_for_update(r, p, "field", &p->field, &src);

    if (rc != R_OK || !src)
        return rc;
    switch (get(r->event, &p->target, &dst, err, sizeof err)) {
    case W_FOUND:
        if (!p->override)
            return fail(r, p, "target_field", p->target.text,
                        "already exists (set override: true to replace it)");
        break;
    case W_ERROR:
        return fail(r, p, "target_field", p->target.text, "%s", err);
    default:
        break;
    }
    if (!check_set(r->event, &p->target, &parent, err, sizeof err))
        return fail(r, p, "target_field", p->target.text, "%s", err);
    if (p->type == P_COPY) {
        if (!(item = cJSON_Duplicate(src, true)))
            return nomem(r, p);
    } else {
        if (walk(r->event, &p->field, p->field.n, &src, &parent, err, sizeof err) != W_FOUND)
            return fail(r, p, "field", p->field.text, "not found");
        item = cJSON_DetachItemViaPointer(parent, src);
        r->res->modified = true;
    }
    return store(r, p, &p->target, item, true, "target_field");
}

static bool array_has(const cJSON *arr, const cJSON *v)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_Compare(it, v, true))
            return true;
    }
    return false;
}

static int do_append(rctx *r, const proc *p)
{
    cJSON *vals = vtree_render(r, &p->value), *cur = NULL, *arr, *v;
    char err[200];
    bool added = false;

    if (!vals)
        return nomem(r, p);
    if (!cJSON_IsArray(vals)) {
        cJSON *one = cJSON_CreateArray();
        if (!one || !cJSON_AddItemToArray(one, vals)) {
            cJSON_Delete(one);
            cJSON_Delete(vals);
            return nomem(r, p);
        }
        vals = one;
    }
    switch (get(r->event, &p->field, &cur, err, sizeof err)) {
    case W_ERROR:
        cJSON_Delete(vals);
        return fail(r, p, "field", p->field.text, "%s", err);
    case W_MISSING:
        cur = NULL;
        break;
    default:
        break;
    }
    if (cJSON_IsArray(cur)) {
        while ((v = cJSON_DetachItemFromArray(vals, 0))) {
            if (!p->allow_duplicates && array_has(cur, v)) {
                cJSON_Delete(v);
                continue;
            }
            if (!cJSON_AddItemToArray(cur, v)) {
                cJSON_Delete(v);
                cJSON_Delete(vals);
                return nomem(r, p);
            }
            added = true;
        }
        cJSON_Delete(vals);
        if (added)
            r->res->modified = true;
        return R_OK;
    }
    /* A missing field becomes a list; a single value becomes the first element. */
    if (!(arr = cJSON_CreateArray()) ||
        (cur && !cJSON_AddItemToArray(arr, cJSON_Duplicate(cur, true)))) {
        cJSON_Delete(arr);
        cJSON_Delete(vals);
        return nomem(r, p);
    }
    while ((v = cJSON_DetachItemFromArray(vals, 0))) {
        if (!p->allow_duplicates && array_has(arr, v)) {
            cJSON_Delete(v);
            continue;
        }
        if (!cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            cJSON_Delete(arr);
            cJSON_Delete(vals);
            return nomem(r, p);
        }
    }
    cJSON_Delete(vals);
    return store(r, p, &p->field, arr, true, "field");
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Applies lowercase/uppercase/trim to s in place; true when it changed. */
static bool text_apply(ptype t, char *s)
{
    bool changed = false;
    if (t == P_TRIM) {
        size_t len = strlen(s), b = 0, e = len;
        while (b < e && is_space(s[b]))
            b++;
        while (e > b && is_space(s[e - 1]))
            e--;
        if (b == 0 && e == len)
            return false;
        memmove(s, s + b, e - b);
        s[e - b] = '\0';
        return true;
    }
    for (; *s; s++) {
        if (t == P_LOWERCASE && *s >= 'A' && *s <= 'Z') {
            *s = (char)(*s - 'A' + 'a');
            changed = true;
        } else if (t == P_UPPERCASE && *s >= 'a' && *s <= 'z') {
            *s = (char)(*s - 'a' + 'A');
            changed = true;
        }
    }
    return changed;
}

static int do_text(rctx *r, const proc *p)
{
    cJSON *v, *it, *copy;
    bool changed = false;
    size_t i = 0;
    int rc = field_for_update(r, p, "field", &p->field, &v);

    if (rc != R_OK || !v)
        return rc;
    if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it))
                return fail(r, p, "field", p->field.text, "element %zu is a %s, not a string", i,
                            json_kind(it));
            i++;
        }
    } else if (!cJSON_IsString(v)) {
        return fail(r, p, "field", p->field.text, "is a %s, not a string", json_kind(v));
    }
    if (p->has_target) {
        if (!(copy = cJSON_Duplicate(v, true)))
            return nomem(r, p);
        if (cJSON_IsArray(copy)) {
            cJSON_ArrayForEach(it, copy)
            {
                text_apply(p->type, it->valuestring);
            }
        } else {
            text_apply(p->type, copy->valuestring);
        }
        return store(r, p, &p->target, copy, true, "target_field");
    }
    if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(it, v)
        {
            changed = text_apply(p->type, it->valuestring) || changed;
        }
    } else {
        changed = text_apply(p->type, v->valuestring);
    }
    if (changed)
        r->res->modified = true;
    return R_OK;
}

/* One scalar converted; NULL with `why` on failure (or when out of memory, why
 * says so). */
static cJSON *convert_one(const cJSON *v, ctype to, const char **why)
{
    char buf[32];
    *why = "out of memory";
    switch (to) {
    case C_STRING:
        if (cJSON_IsString(v))
            return cJSON_CreateString(v->valuestring);
        if (cJSON_IsNumber(v)) {
            ps_expr_format_number(v->valuedouble, buf, sizeof buf);
            return cJSON_CreateString(buf);
        }
        if (cJSON_IsBool(v))
            return cJSON_CreateString(cJSON_IsTrue(v) ? "true" : "false");
        break;
    case C_INT:
        if (cJSON_IsNumber(v)) {
            if (v->valuedouble != floor(v->valuedouble)) {
                *why = "a number with a fraction is not a whole number";
                return NULL;
            }
            return cJSON_CreateNumber(v->valuedouble);
        }
        if (cJSON_IsString(v)) {
            const char *s = v->valuestring;
            char *end;
            long long n;
            errno = 0;
            n = strtoll(s, &end, 10);
            if (!*s || is_space(*s) || *end || errno || n > 9007199254740992LL ||
                n < -9007199254740992LL) {
                *why = "the string is not a whole number";
                return NULL;
            }
            return cJSON_CreateNumber((double)n);
        }
        break;
    case C_FLOAT:
        if (cJSON_IsNumber(v))
            return cJSON_CreateNumber(v->valuedouble);
        if (cJSON_IsString(v)) {
            const char *s = v->valuestring;
            char *end;
            double d;
            errno = 0;
            d = strtod(s, &end);
            if (!*s || is_space(*s) || *end || errno || !isfinite(d) || strpbrk(s, "xXnN")) {
                *why = "the string is not a number";
                return NULL;
            }
            return cJSON_CreateNumber(d);
        }
        break;
    case C_BOOL:
        if (cJSON_IsBool(v))
            return cJSON_CreateBool(cJSON_IsTrue(v));
        if (cJSON_IsString(v)) {
            if (strcasecmp(v->valuestring, "true") == 0)
                return cJSON_CreateTrue();
            if (strcasecmp(v->valuestring, "false") == 0)
                return cJSON_CreateFalse();
            *why = "the string is neither true nor false";
            return NULL;
        }
        break;
    }
    *why = cJSON_IsArray(v) || cJSON_IsObject(v) ? "lists and mappings cannot be converted"
                                                 : "this type cannot be converted";
    return NULL;
}

static int do_convert(rctx *r, const proc *p)
{
    static const char *const names[] = {"string", "int", "float", "bool"};
    cJSON *v, *out, *it;
    const char *why;
    size_t i = 0;
    int rc = field_for_update(r, p, "field", &p->field, &v);

    if (rc != R_OK || !v)
        return rc;
    if (cJSON_IsArray(v)) {
        if (!(out = cJSON_CreateArray()))
            return nomem(r, p);
        cJSON_ArrayForEach(it, v)
        {
            cJSON *c = convert_one(it, p->conv, &why);
            if (!c || !cJSON_AddItemToArray(out, c)) {
                cJSON_Delete(c);
                cJSON_Delete(out);
                if (!c && strcmp(why, "out of memory") != 0)
                    return fail(r, p, "field", p->field.text,
                                "cannot convert element %zu (a %s) to %s: %s", i, json_kind(it),
                                names[p->conv], why);
                return nomem(r, p);
            }
            i++;
        }
    } else if (!(out = convert_one(v, p->conv, &why))) {
        if (strcmp(why, "out of memory") == 0)
            return nomem(r, p);
        return fail(r, p, "field", p->field.text, "cannot convert a %s to %s: %s", json_kind(v),
                    names[p->conv], why);
    }
    if (p->has_target)
        return store(r, p, &p->target, out, true, "target_field");
    if (cJSON_Compare(v, out, true)) {
        cJSON_Delete(out);
        return R_OK;
    }
    return store(r, p, &p->field, out, true, "field");
}

/* ---- redact ---- */

static bool local_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c));
}

static bool domain_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

/* Appends the redacted form of s[0..len): the keyed hash (hex) or the mask. */
static bool redact_piece(const proc *p, sbuf *b, const char *s, size_t len, bool fold)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE], small[256];
    unsigned char *folded = NULL;
    const unsigned char *data = (const unsigned char *)s;
    size_t maclen = 0;
    char out[129];
    EVP_MAC_CTX *ctx;
    bool ok;

    if (p->rmode == R_MASK)
        return sb_str(b, p->replacement);
    /* Addresses compare without case in practice: fold so that the same mailbox
     * always hashes the same. */
    if (fold) {
        folded = len > sizeof small ? malloc(len) : small;
        if (!folded)
            return false;
        for (size_t i = 0; i < len; i++)
            folded[i] = (unsigned char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        data = folded;
    }
    ctx = EVP_MAC_CTX_dup(p->mac);
    ok = ctx && EVP_MAC_update(ctx, data, len) && EVP_MAC_final(ctx, mac, &maclen, sizeof mac);
    EVP_MAC_CTX_free(ctx);
    if (folded != small)
        free(folded);
    if (!ok)
        return false;
    for (size_t i = 0; i < maclen && (int)(2 * i) < p->hash_len; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[p->hash_len] = '\0';
    return sb_str(b, out);
}

/* Writes the redacted form of s into b. With part local/domain, every address in
 * the text (a@b.c, also inside "Name <a@b.c>" or lists) has that part replaced and
 * the rest of the text is kept. */
static bool redact_text(const proc *p, sbuf *b, const char *s)
{
    size_t len = strlen(s), i = 0, done = 0;
    b->len = 0;
    if (!sb_put(b, "", 0))
        return false;
    if (p->rpart == RP_ALL)
        return redact_piece(p, b, s, len, false);
    while (i < len) {
        const char *at = memchr(s + i, '@', len - i);
        size_t a, ls, de;
        if (!at)
            break;
        a = (size_t)(at - s);
        ls = a;
        while (ls > done && local_char((unsigned char)s[ls - 1]))
            ls--;
        de = a + 1;
        while (de < len && domain_char((unsigned char)s[de]))
            de++;
        while (de > a + 1 && s[de - 1] == '.')
            de--;
        if (ls == a || de == a + 1) { /* not an address: keep the '@' */
            i = a + 1;
            continue;
        }
        if (p->rpart == RP_LOCAL) {
            if (!sb_put(b, s + done, ls - done) || !redact_piece(p, b, s + ls, a - ls, true) ||
                !sb_put(b, s + a, de - a))
                return false;
        } else {
            if (!sb_put(b, s + done, a + 1 - done) ||
                !redact_piece(p, b, s + a + 1, de - a - 1, true))
                return false;
        }
        done = i = de;
    }
    return sb_put(b, s + done, len - done);
}

static int redact_one(rctx *r, const proc *p, cJSON *v)
{
    sbuf *b = &r->sc->buf;
    char *copy;
    if (!redact_text(p, b, v->valuestring))
        return nomem(r, p);
    if (strcmp(b->p, v->valuestring) == 0)
        return R_OK;
    if (!(copy = cJSON_malloc(b->len + 1)))
        return nomem(r, p);
    memcpy(copy, b->p, b->len + 1);
    /* cJSON_SetValuestring in 1.7.15 cannot grow a string; swap the buffer. */
    cJSON_free(v->valuestring);
    v->valuestring = copy;
    r->res->modified = true;
    return R_OK;
}

static int do_redact(rctx *r, const proc *p)
{
    cJSON *v, *it;
    size_t i;
    if (p->rmode == R_HASH && !p->mac)
        return fail(r, p, NULL, NULL,
                    "the key was not resolved (pipelines compiled without secrets)");
    for (size_t f = 0; f < p->nfields; f++) {
        int rc = field_for_update(r, p, "field", &p->fields[f], &v);
        if (rc != R_OK)
            return rc;
        if (!v)
            continue;
        i = 0;
        if (cJSON_IsArray(v)) {
            cJSON_ArrayForEach(it, v)
            {
                if (!cJSON_IsString(it))
                    return fail(r, p, "field", p->fields[f].text,
                                "element %zu is a %s, not a string", i, json_kind(it));
                i++;
            }
        } else if (!cJSON_IsString(v)) {
            return fail(r, p, "field", p->fields[f].text, "is a %s, not a string", json_kind(v));
        }
    }
    /* Everything checked: now change. */
    for (size_t f = 0; f < p->nfields; f++) {
        char err[8];
        if (get(r->event, &p->fields[f], &v, err, sizeof err) != W_FOUND)
            continue;
        if (cJSON_IsArray(v)) {
            cJSON_ArrayForEach(it, v)
            {
                if (redact_one(r, p, it) != R_OK)
                    return R_FAIL;
            }
        } else if (redact_one(r, p, v) != R_OK) {
            return R_FAIL;
        }
    }
    return R_OK;
}

static int add_tag(rctx *r, const proc *p, const char *tag)
{
    ps_pipeline_result *res = r->res;
    for (size_t i = 0; i < res->ntags; i++)
        if (strcmp(res->tags[i], tag) == 0)
            return R_OK;
    if (res->ntags == res->tags_cap) {
        size_t cap = res->tags_cap ? res->tags_cap * 2 : 4;
        char **nt = realloc(res->tags, cap * sizeof *nt);
        if (!nt)
            return nomem(r, p);
        res->tags = nt;
        res->tags_cap = cap;
    }
    if (!(res->tags[res->ntags] = dupstr(tag)))
        return nomem(r, p);
    res->ntags++;
    return R_OK;
}

static int do_tag(rctx *r, const proc *p)
{
    for (size_t i = 0; i < p->ntags; i++) {
        const char *t = render(r, &p->tags[i]);
        if (!t)
            return nomem(r, p);
        if (*t && add_tag(r, p, t) != R_OK)
            return R_FAIL;
    }
    return R_OK;
}

static int exec(rctx *r, const proc *p)
{
    const char *msg;
    switch (p->type) {
    case P_SET:
        return do_set(r, p);
    case P_REMOVE:
        return do_remove(r, p);
    case P_RENAME:
    case P_COPY:
        return do_move(r, p);
    case P_APPEND:
        return do_append(r, p);
    case P_LOWERCASE:
    case P_UPPERCASE:
    case P_TRIM:
        return do_text(r, p);
    case P_CONVERT:
        return do_convert(r, p);
    case P_DROP:
        r->drop_proc = p;
        return R_DROP;
    case P_REDACT:
        return do_redact(r, p);
    case P_TAG:
        return do_tag(r, p);
    case P_FAIL:
        if (!(msg = render(r, &p->message)))
            return nomem(r, p);
        return fail(r, p, NULL, NULL, "%s", msg);
    }
    return fail(r, p, NULL, NULL, "internal error: unknown processor");
}

static int run_procs(rctx *r, const proc *ps, size_t n);

/* Runs failure handlers with `_ingest.on_failure_*` describing the failure. */
static int run_handlers(rctx *r, const proc *handlers, size_t n)
{
    cJSON *saved = r->meta;
    cJSON *meta = cJSON_CreateObject();
    const proc *fp = r->fail_proc;
    char msg[sizeof r->where + sizeof r->reason + 2];
    int rc;

    pjoin(msg, sizeof msg, "%s%s%s", r->where, r->where[0] ? ": " : "", r->reason);
    if (!meta || !cJSON_AddStringToObject(meta, "pipeline", r->pl->name) ||
        !cJSON_AddStringToObject(meta, "on_failure_message", msg) ||
        !cJSON_AddStringToObject(meta, "on_failure_processor_type", fp ? fp->tname : "pipeline") ||
        !cJSON_AddStringToObject(meta, "on_failure_processor_tag", fp && fp->tag ? fp->tag : "") ||
        !cJSON_AddStringToObject(meta, "on_failure_pipeline", r->pl->name)) {
        cJSON_Delete(meta);
        r->nomem = true;
        return R_FAIL;
    }
    r->meta = meta;
    rc = run_procs(r, handlers, n);
    r->meta = saved;
    cJSON_Delete(meta);
    return rc;
}

static int run_proc(rctx *r, const proc *p)
{
    int rc;
    if (p->cond) {
        ps_expr_env env = {r->event, r->meta, r->sc->es};
        ps_errmsg em;
        bool yes;
        ps_err e = ps_expr_eval_bool(p->cond, &env, &yes, &em);
        if (e == PS_ERR_NOMEM)
            return nomem(r, p);
        if (e != PS_OK)
            rc = fail(r, p, "if", NULL, "%s", em.text);
        else if (!yes)
            return R_OK;
        else
            rc = exec(r, p);
    } else {
        rc = exec(r, p);
    }
    if (rc != R_FAIL || r->nomem)
        return rc;
    if (p->ignore_failure)
        return R_OK;
    if (p->non_failure)
        return run_handlers(r, p->on_failure, p->non_failure);
    return R_FAIL;
}

static int run_procs(rctx *r, const proc *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = run_proc(r, &ps[i]);
        if (rc != R_OK)
            return rc;
    }
    return R_OK;
}

static int run_pipeline(rctx *r, const ps_pipeline *pl)
{
    int rc = R_OK;
    r->pl = pl;
    r->meta = pl->meta;
    if (pl->cond) {
        ps_expr_env env = {r->event, r->meta, r->sc->es};
        ps_errmsg em;
        bool yes;
        ps_err e = ps_expr_eval_bool(pl->cond, &env, &yes, &em);
        if (e == PS_ERR_NOMEM) {
            r->nomem = true;
            return fail(r, NULL, NULL, NULL, "out of memory");
        }
        if (e != PS_OK)
            rc = fail(r, NULL, "if", NULL, "%s", em.text);
        else if (!yes)
            return R_OK;
    }
    if (rc == R_OK)
        rc = run_procs(r, pl->procs, pl->nprocs);
    if (rc != R_FAIL || r->nomem)
        return rc;
    if (pl->non_failure)
        return run_handlers(r, pl->on_failure, pl->non_failure);
    if (pl->ignore_failure)
        return R_OK;
    return R_FAIL;
}

static void describe_proc(const proc *p, char *buf, size_t len, bool drop)
{
    if (drop)
        snprintf(buf, len, "%s: %s%s%s", p->label, p->tname, p->tag ? ", tag " : "",
                 p->tag ? p->tag : "");
    else
        snprintf(buf, len, "%s (%s%s%s)", p->label, p->tname, p->tag ? ", tag " : "",
                 p->tag ? p->tag : "");
}

ps_err ps_pipeline_chain_run(const ps_pipeline_chain *chain, cJSON *event, ps_pipeline_result *res)
{
    rctx r;
    rscratch *sc = res->scratch;
    char what[300];

    res->outcome = PS_PIPELINE_KEPT;
    res->modified = false;
    res->pipeline = NULL;
    res->message[0] = '\0';
    clear_tags(res);
    if (!chain || chain->n == 0)
        return PS_OK;
    if (!sc) {
        if (!(sc = calloc(1, sizeof *sc)) || ps_expr_scratch_create(&sc->es) != PS_OK) {
            free(sc);
            res->outcome = PS_PIPELINE_FAILED;
            pjoin(res->message, sizeof res->message, "out of memory");
            return PS_ERR_NOMEM;
        }
        res->scratch = sc;
    }
    memset(&r, 0, sizeof r);
    r.res = res;
    r.sc = sc;
    r.event = event;
    for (size_t i = 0; i < chain->n; i++) {
        int rc = run_pipeline(&r, chain->p[i]);
        if (rc == R_OK)
            continue;
        res->pipeline = chain->p[i]->name;
        if (rc == R_DROP) {
            res->outcome = PS_PIPELINE_DROPPED;
            describe_proc(r.drop_proc, what, sizeof what, true);
            pjoin(res->message, sizeof res->message, "dropped by %s (%s)", res->pipeline, what);
            return PS_OK;
        }
        res->outcome = PS_PIPELINE_FAILED;
        if (r.fail_proc)
            describe_proc(r.fail_proc, what, sizeof what, false);
        pjoin(res->message, sizeof res->message, "pipeline %s%s%s%s%s: %s", res->pipeline,
              r.fail_proc ? ", " : "", r.fail_proc ? what : "", r.where[0] ? ", " : "", r.where,
              r.reason);
        return r.nomem ? PS_ERR_NOMEM : PS_OK;
    }
    return PS_OK;
}

ps_err ps_pipeline_run(const ps_pipeline_set *set, const ps_device *dev, cJSON *event,
                       ps_pipeline_result *res)
{
    return ps_pipeline_chain_run(set ? ps_pipeline_set_device_chain(set, dev->id) : NULL, event,
                                 res);
}

char *ps_pipeline_tags_json(char *const *device_tags, size_t ndevice_tags,
                            const ps_pipeline_result *res)
{
    cJSON *arr = cJSON_CreateArray();
    char *text, *out = NULL;
    bool ok = arr != NULL;

    for (size_t i = 0; ok && i < ndevice_tags; i++)
        ok = cJSON_AddItemToArray(arr, cJSON_CreateString(device_tags[i]));
    for (size_t i = 0; ok && res && i < res->ntags; i++) {
        bool dup = false;
        for (size_t j = 0; !dup && j < ndevice_tags; j++)
            dup = strcmp(device_tags[j], res->tags[i]) == 0;
        if (!dup)
            ok = cJSON_AddItemToArray(arr, cJSON_CreateString(res->tags[i]));
    }
    text = ok ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (text) {
        out = dupstr(text);
        cJSON_free(text);
    }
    return out;
}
