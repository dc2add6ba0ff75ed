#include "podstream/ps_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"

/* ---- arena ---------------------------------------------------------------- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[];
} arena_chunk;

struct ps_yaml_doc {
    arena_chunk *chunks;
    ps_yaml_node *root;
    char *name;
};

static void *arena_alloc(ps_yaml_doc *doc, size_t n)
{
    arena_chunk *c = doc->chunks;
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!c || c->size - c->used < n) {
        size_t size = n > 16384 ? n : 16384;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = doc->chunks;
        doc->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

void ps_yaml_doc_destroy(ps_yaml_doc *doc)
{
    if (!doc)
        return;
    arena_chunk *c = doc->chunks;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(doc->name);
    free(doc);
}

const ps_yaml_node *ps_yaml_doc_root(const ps_yaml_doc *doc)
{
    return doc ? doc->root : NULL;
}

const char *ps_yaml_doc_name(const ps_yaml_doc *doc)
{
    return doc ? doc->name : NULL;
}

/* ---- builder -------------------------------------------------------------- */

typedef struct frame {
    ps_yaml_node *node;
    ps_yaml_node **items; /* growable, copied into the arena when the frame closes */
    ps_yaml_node **keys;
    size_t count, cap;
    ps_yaml_node *pending_key; /* mapping: key read, value not yet */
    size_t weight;
} frame;

typedef struct anchor {
    char *name;
    ps_yaml_node *node;
    size_t weight;
} anchor;

typedef struct builder {
    ps_yaml_doc *doc;
    ps_diag *diag;
    const char *buf; /* the text, to place errors libyaml gives as a byte offset */
    size_t len;
    frame stack[PS_YAML_MAX_DEPTH + 1];
    int depth;
    anchor *anchors;
    size_t nanchors, capanchors;
    size_t weight;
    ps_err err;
} builder;

static void set_pos(ps_yaml_node *n, const yaml_mark_t *m)
{
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
}

static void fail(builder *b, ps_err err, const yaml_mark_t *m, const char *msg)
{
    if (b->err == PS_OK)
        b->err = err;
    ps_diag_add(b->diag, PS_DIAG_ERROR, b->doc->name, m ? (int)m->line + 1 : 0,
                m ? (int)m->column + 1 : 0, NULL, "%s", msg);
}

static bool remember_anchor(builder *b, const yaml_char_t *name, ps_yaml_node *n, size_t weight)
{
    if (!name)
        return true;
    if (ps_mem_grow_array((void **)&b->anchors, &b->capanchors, b->nanchors, sizeof *b->anchors) !=
        PS_OK)
        return false;
    char *copy = strdup((const char *)name);
    if (!copy)
        return false;
    /* A later anchor of the same name shadows the earlier one, as in YAML. */
    b->anchors[b->nanchors].name = copy;
    b->anchors[b->nanchors].node = n;
    b->anchors[b->nanchors].weight = weight;
    b->nanchors++;
    return true;
}

static const anchor *find_anchor(const builder *b, const char *name)
{
    for (size_t i = b->nanchors; i > 0; i--)
        if (strcmp(b->anchors[i - 1].name, name) == 0)
            return &b->anchors[i - 1];
    return NULL;
}

/* Attaches a finished node to the open collection (or makes it the root). */
static bool attach(builder *b, ps_yaml_node *n, size_t weight, const yaml_mark_t *m)
{
    b->weight += weight;
    if (b->weight > PS_YAML_MAX_WEIGHT) {
        fail(b, PS_ERR_RANGE, m, "document too large (aliases expand past 1,000,000 nodes)");
        return false;
    }
    if (b->depth == 0) {
        b->doc->root = n;
        return true;
    }
    frame *f = &b->stack[b->depth - 1];
    f->weight += weight;
    if (f->node->kind == PS_YAML_MAP && !f->pending_key) {
        if (n->kind != PS_YAML_SCALAR) {
            fail(b, PS_ERR_PARSE, m, "mapping keys must be plain strings, not lists or mappings");
            return false;
        }
        if (f->count >= 10000) {
            fail(b, PS_ERR_RANGE, m, "mapping has more than 10,000 keys");
            return false;
        }
        for (size_t i = 0; i < f->count; i++) {
            if (strcmp(f->keys[i]->value, n->value) == 0) {
                char msg[300];
                snprintf(msg, sizeof msg, "duplicate key \"%.200s\" (first at line %d)", n->value,
                         f->keys[i]->line);
                fail(b, PS_ERR_PARSE, m, msg);
                return false;
            }
        }
        f->pending_key = n;
        return true;
    }
    if (f->count == f->cap) {
        /* keys runs beside items (maps only), so both grow from the one capacity. */
        size_t icap = f->cap, kcap = f->cap;
        if (ps_mem_grow_array((void **)&f->items, &icap, f->count, sizeof *f->items) != PS_OK)
            return false;
        if (f->node->kind == PS_YAML_MAP &&
            ps_mem_grow_array((void **)&f->keys, &kcap, f->count, sizeof *f->keys) != PS_OK)
            return false;
        f->cap = icap;
    }
    if (f->node->kind == PS_YAML_MAP) {
        f->keys[f->count] = f->pending_key;
        f->pending_key = NULL;
    }
    f->items[f->count++] = n;
    return true;
}

static ps_yaml_node *new_node(builder *b, ps_yaml_kind kind, const yaml_mark_t *m)
{
    ps_yaml_node *n = arena_alloc(b->doc, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = kind;
    set_pos(n, m);
    return n;
}

static bool on_scalar(builder *b, const yaml_event_t *ev)
{
    ps_yaml_node *n = new_node(b, PS_YAML_SCALAR, &ev->start_mark);
    char *v;
    if (!n)
        return false;
    v = arena_alloc(b->doc, ev->data.scalar.length + 1);
    if (!v)
        return false;
    memcpy(v, ev->data.scalar.value, ev->data.scalar.length);
    v[ev->data.scalar.length] = '\0';
    n->value = v;
    n->len = ev->data.scalar.length;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (ev->data.scalar.tag && strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG) == 0)
        n->plain = false;
    if (!remember_anchor(b, ev->data.scalar.anchor, n, 1))
        return false;
    return attach(b, n, 1, &ev->start_mark);
}

static bool on_start(builder *b, const yaml_event_t *ev, ps_yaml_kind kind)
{
    if (b->depth >= PS_YAML_MAX_DEPTH) {
        fail(b, PS_ERR_RANGE, &ev->start_mark, "nesting deeper than 64 levels");
        return false;
    }
    ps_yaml_node *n = new_node(b, kind, &ev->start_mark);
    if (!n)
        return false;
    frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
    f->weight = 1;
    return true;
}

static bool on_end(builder *b, const yaml_event_t *ev, const yaml_char_t *anchor_name)
{
    frame *f;
    ps_yaml_node *n;
    bool ok = true;

    if (b->depth == 0 || !b->stack[b->depth - 1].node) {
        fail(b, PS_ERR_INTERNAL, &ev->start_mark, "unbalanced YAML events");
        return false;
    }
    f = &b->stack[--b->depth];
    n = f->node;

    n->count = f->count;
    if (f->count) {
        n->items = arena_alloc(b->doc, f->count * sizeof *n->items);
        ok = n->items != NULL;
        if (ok)
            memcpy(n->items, f->items, f->count * sizeof *n->items);
        if (ok && n->kind == PS_YAML_MAP) {
            n->keys = arena_alloc(b->doc, f->count * sizeof *n->keys);
            ok = n->keys != NULL;
            if (ok)
                memcpy(n->keys, f->keys, f->count * sizeof *n->keys);
        }
    }
    free(f->items);
    free(f->keys);
    if (!ok || !remember_anchor(b, anchor_name, n, f->weight))
        return false;
    /* The weight was already added to the totals child by child. */
    b->weight -= f->weight - 1;
    /* Errors about the finished collection (a list used as a key) point at its
     * start, not at its closing bracket. */
    yaml_mark_t start = ev->start_mark;
    start.line = (size_t)n->line - 1;
    start.column = (size_t)n->col - 1;
    return attach(b, n, f->weight, &start);
}

static bool on_alias(builder *b, const yaml_event_t *ev)
{
    const anchor *a = find_anchor(b, (const char *)ev->data.alias.anchor);
    if (!a) {
        char msg[300];
        snprintf(msg, sizeof msg, "alias *%.200s refers to no anchor", ev->data.alias.anchor);
        fail(b, PS_ERR_PARSE, &ev->start_mark, msg);
        return false;
    }
    return attach(b, a->node, a->weight, &ev->start_mark);
}

/* ---- syntax errors ------------------------------------------------------- */

/* The line and column (1-based, the column in characters as libyaml counts them) of
 * byte `off`. Line breaks are LF, CRLF or a lone CR, as in YAML. */
static void place_offset(const builder *b, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < b->len; i++) {
        unsigned char ch = (unsigned char)b->buf[i];
        if (ch == '\n' || (ch == '\r' && (i + 1 >= b->len || b->buf[i + 1] != '\n'))) {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80 && ch != '\r') {
            c++; /* continuation bytes belong to the character before */
        }
    }
    *line = l;
    *col = c;
}

/* libyaml reports a bad byte sequence by offset only (its line and column are not
 * kept up to date by the reader), and a bad trailing byte at the trailing byte:
 * point at the character that starts the sequence instead. */
static void reader_error(builder *b, const yaml_parser_t *p)
{
    size_t off = p->problem_offset;
    const char *problem = p->problem ? p->problem : "unknown problem";
    char msg[300];
    yaml_mark_t m;
    int line, col;

    if (strcmp(problem, "invalid trailing UTF-8 octet") == 0)
        for (int k = 0; k < 3 && off > 0 && off <= b->len; k++)
            if (((unsigned char)b->buf[--off] & 0xC0) != 0x80)
                break;
    place_offset(b, off, &line, &col);
    memset(&m, 0, sizeof m);
    m.line = (size_t)line - 1;
    m.column = (size_t)col - 1;
    if (strstr(problem, "UTF-8"))
        snprintf(msg, sizeof msg, "not valid UTF-8 (%s); save the file as UTF-8", problem);
    else
        snprintf(msg, sizeof msg, "YAML syntax error: %s", problem);
    fail(b, PS_ERR_PARSE, &m, msg);
}

/* The column of the first tab in the indentation of line `line` (0-based) when the
 * error at `column` lies within that indentation, else 0. libyaml's own words for
 * it ("found character that cannot start any token") do not say what is wrong. */
static size_t indent_tab_at(const builder *b, size_t line, size_t column)
{
    size_t i = 0, tab = 0, width = 0;
    for (size_t l = 0; l < line && i < b->len; i++)
        if (b->buf[i] == '\n' || (b->buf[i] == '\r' && (i + 1 >= b->len || b->buf[i + 1] != '\n')))
            l++;
    for (; i < b->len && (b->buf[i] == ' ' || b->buf[i] == '\t'); i++) {
        width++;
        if (b->buf[i] == '\t' && !tab)
            tab = width;
    }
    return tab && column < width + 1 ? tab : 0;
}

static void syntax_error(builder *b, const yaml_parser_t *p)
{
    char msg[400], where[64] = "";
    size_t tab;
    if (p->error == YAML_READER_ERROR) {
        reader_error(b, p);
        return;
    }
    tab = indent_tab_at(b, p->problem_mark.line, p->problem_mark.column);
    if (tab) {
        yaml_mark_t m = p->problem_mark;
        m.column = tab - 1;
        fail(b, PS_ERR_PARSE, &m, "tab used for indentation; YAML allows only spaces");
        return;
    }
    /* The problem is often found far from its cause (an unclosed quote is noticed at
     * the end of the file): say where the construct began. */
    if (p->context && p->context_mark.line != p->problem_mark.line)
        snprintf(where, sizeof where, " that starts at line %d, column %d",
                 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    snprintf(msg, sizeof msg, "YAML syntax error: %s%s%s%s",
             p->problem ? p->problem : "unknown problem", p->context ? " " : "",
             p->context ? p->context : "", where);
    fail(b, PS_ERR_PARSE, &p->problem_mark, msg);
}

/* Start events carry their anchor; end events do not, so keep it per depth. */
static ps_err build(builder *b, yaml_parser_t *p)
{
    yaml_char_t *open_anchor[PS_YAML_MAX_DEPTH + 1] = {0};
    int docs = 0;
    bool done = false;

    while (!done) {
        yaml_event_t ev;
        bool ok = true;
        if (!yaml_parser_parse(p, &ev)) {
            syntax_error(b, p);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                fail(b, PS_ERR_PARSE, &ev.start_mark,
                     "more than one YAML document (---) in one file; split them into files");
                ok = false;
            }
            break;
        case YAML_SCALAR_EVENT:
            ok = on_scalar(b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            ps_yaml_kind k = ev.type == YAML_MAPPING_START_EVENT ? PS_YAML_MAP : PS_YAML_SEQ;
            const yaml_char_t *an =
                k == PS_YAML_MAP ? ev.data.mapping_start.anchor : ev.data.sequence_start.anchor;
            ok = on_start(b, &ev, k);
            if (ok && an) {
                open_anchor[b->depth] = (yaml_char_t *)strdup((const char *)an);
                ok = open_anchor[b->depth] != NULL;
            }
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            yaml_char_t *an = open_anchor[b->depth];
            open_anchor[b->depth] = NULL;
            ok = on_end(b, &ev, an);
            free(an);
            break;
        }
        case YAML_ALIAS_EVENT:
            ok = on_alias(b, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (!ok) {
            if (b->err == PS_OK)
                b->err = PS_ERR_NOMEM;
            break;
        }
    }
    for (int i = 0; i <= PS_YAML_MAX_DEPTH; i++)
        free(open_anchor[i]);
    /* Frames left open after an error still own their growable arrays. */
    while (b->depth > 0) {
        frame *f = &b->stack[--b->depth];
        free(f->items);
        free(f->keys);
    }
    if (b->err == PS_OK && !done)
        b->err = PS_ERR_PARSE;
    return b->err;
}

ps_err ps_yaml_load_buffer(const char *name, const char *buf, size_t len, ps_yaml_doc **out,
                           ps_diag *diag)
{
    yaml_parser_t parser;
    builder b;
    ps_err err = PS_ERR_NOMEM;

    *out = NULL;
    memset(&b, 0, sizeof b);
    b.diag = diag;
    b.buf = buf;
    b.len = len;
    b.doc = calloc(1, sizeof *b.doc);
    if (!b.doc)
        return PS_ERR_NOMEM;
    b.doc->name = strdup(name ? name : "<input>");
    if (!b.doc->name)
        goto out;
    if (len > PS_YAML_MAX_FILE_BYTES) {
        ps_diag_add(diag, PS_DIAG_ERROR, b.doc->name, 0, 0, NULL,
                    "file is larger than 16 MiB; refusing to parse it");
        err = PS_ERR_RANGE;
        goto out;
    }
    if (!yaml_parser_initialize(&parser))
        goto out;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    err = build(&b, &parser);
    yaml_parser_delete(&parser);

out:
    for (size_t i = 0; i < b.nanchors; i++)
        free(b.anchors[i].name);
    free(b.anchors);
    if (err != PS_OK) {
        if (err == PS_ERR_NOMEM)
            ps_diag_add(diag, PS_DIAG_ERROR, name, 0, 0, NULL, "out of memory reading YAML");
        ps_yaml_doc_destroy(b.doc);
        return err;
    }
    *out = b.doc;
    return PS_OK;
}

ps_err ps_yaml_load_file(const char *path, const char *name, ps_yaml_doc **out, ps_diag *diag)
{
    char *buf = NULL;
    size_t len = 0;
    ps_errmsg em;
    ps_err err;

    *out = NULL;
    err = ps_plat_read_file(path, PS_YAML_MAX_FILE_BYTES, &buf, &len, &em);
    if (err != PS_OK) {
        ps_diag_add(diag, PS_DIAG_ERROR, name ? name : path, 0, 0, NULL, "%s", em.text);
        return err;
    }
    err = ps_yaml_load_buffer(name ? name : path, buf, len, out, diag);
    free(buf);
    return err;
}

/* ---- accessors ------------------------------------------------------------ */

const ps_yaml_node *ps_yaml_map_get(const ps_yaml_node *map, const char *key)
{
    if (!map || map->kind != PS_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

bool ps_yaml_is_null(const ps_yaml_node *n)
{
    if (!n || n->kind != PS_YAML_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
           strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

ps_err ps_yaml_to_int(const ps_yaml_node *n, long long *out)
{
    char *end;
    long long v;
    const char *s;
    int base = 10;
    if (!n || n->kind != PS_YAML_SCALAR || !n->plain || n->len == 0)
        return PS_ERR_INVALID;
    /* YAML 1.2 integers: 0x1F and 0o17, and a leading zero is still decimal
     * (strtoll's base 0 would read "010" as 8). */
    s = n->value + (n->value[0] == '-' || n->value[0] == '+');
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16;
    else if (s[0] == '0' && s[1] == 'o')
        base = 8;
    if (base != 10 && (s != n->value || !isxdigit((unsigned char)s[2])))
        return PS_ERR_INVALID;
    if (!isdigit((unsigned char)s[0]))
        return PS_ERR_INVALID;
    errno = 0;
    v = strtoll(base == 10 ? n->value : s + 2, &end, base);
    if (*end != '\0' || end == n->value)
        return PS_ERR_INVALID;
    if (errno == ERANGE)
        return PS_ERR_RANGE;
    *out = v;
    return PS_OK;
}

ps_err ps_yaml_to_double(const ps_yaml_node *n, double *out)
{
    char *end;
    double v;
    if (!n || n->kind != PS_YAML_SCALAR || !n->plain || n->len == 0)
        return PS_ERR_INVALID;
    errno = 0;
    v = strtod(n->value, &end);
    if (*end != '\0' || end == n->value || !isfinite(v))
        return PS_ERR_INVALID;
    if (errno == ERANGE)
        return PS_ERR_RANGE;
    *out = v;
    return PS_OK;
}

ps_err ps_yaml_to_bool(const ps_yaml_node *n, bool *out)
{
    /* YAML 1.2 true/false, plus the 1.1 spellings that Go and Python loaders accept,
     * so configs written for other tools keep working. */
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    if (!n || n->kind != PS_YAML_SCALAR || !n->plain)
        return PS_ERR_INVALID;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(n->value, yes[i]) == 0) {
            *out = true;
            return PS_OK;
        }
        if (strcasecmp(n->value, no[i]) == 0) {
            *out = false;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

const char *ps_yaml_describe(const ps_yaml_node *n)
{
    long long i;
    double d;
    bool b;
    if (!n)
        return "nothing";
    if (n->kind == PS_YAML_SEQ)
        return "list";
    if (n->kind == PS_YAML_MAP)
        return "mapping";
    if (ps_yaml_is_null(n))
        return "null";
    if (ps_yaml_to_bool(n, &b) == PS_OK)
        return "boolean";
    if (ps_yaml_to_int(n, &i) == PS_OK || ps_yaml_to_double(n, &d) == PS_OK)
        return "number";
    return "string";
}
