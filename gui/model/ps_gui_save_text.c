/* ps_gui_save_patch and ps_gui_save_cut: a device file's text changed only where the
 * admin changed something, at the positions the YAML tree recorded, so that what was
 * not edited (comments, key order, quoting, blank lines) stays byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "ps_gui_save.h"
#include "ps_gui_text.h"

size_t ps_gui_text_line_start(const char *t, size_t len, int line)
{
    size_t off = 0;
    for (int l = 1; l < line && off < len; off++)
        if (t[off] == '\n')
            l++;
    return off;
}

size_t ps_gui_text_offset(const char *t, size_t len, int line, int col)
{
    size_t off = ps_gui_text_line_start(t, len, line);
    /* libyaml counts characters: skip UTF-8 continuation bytes. */
    for (int c = 1; c < col && off < len && t[off] != '\n'; c++) {
        off++;
        while (off < len && ((unsigned char)t[off] & 0xC0) == 0x80)
            off++;
    }
    return off;
}

/* Offset of the end of the line holding `off`, past its newline. */
static size_t after_line(const char *t, size_t len, size_t off)
{
    while (off < len && t[off] != '\n')
        off++;
    return off < len ? off + 1 : off;
}

/* The line starting at `off`: `text` is its first character after the indentation
 * (== eol on a blank line), eol where its newline (or the text) ends, next where the
 * following line starts, ind its indentation in spaces. */
typedef struct text_line {
    size_t text, eol, next, ind;
} text_line;

static text_line line_at(const char *t, size_t len, size_t off)
{
    text_line l = {off, off, 0, 0};
    while (l.eol < len && t[l.eol] != '\n')
        l.eol++;
    while (l.text < l.eol && t[l.text] == ' ')
        l.text++;
    l.ind = l.text - off;
    l.next = l.eol < len ? l.eol + 1 : l.eol;
    return l;
}

size_t ps_gui_text_block_end(const char *t, size_t len, size_t from, int col)
{
    size_t end = from, off = from;
    while (off < len) {
        text_line l = line_at(t, len, off);
        if (l.text < l.eol && t[l.text] != '#') {
            if ((int)l.ind < col - 1 && off != from)
                break;
            end = l.next;
        }
        off = l.next;
    }
    return end;
}

const ps_yaml_node *ps_gui_text_device(const ps_yaml_node *root, size_t index)
{
    const ps_yaml_node *seq = root;
    if (root && root->kind == PS_YAML_MAP) {
        seq = ps_yaml_map_get(root, "devices");
        if (!seq)
            return index == 0 ? root : NULL;
    }
    if (!seq || seq->kind != PS_YAML_SEQ || index >= seq->count)
        return NULL;
    return seq->items[index];
}

/* Where the block sequence whose first "-" is at `at` (indent ind) ends. */
static size_t seq_end(const char *t, size_t len, size_t at, size_t ind)
{
    size_t end = after_line(t, len, at), off = end;
    while (off < len) {
        text_line l = line_at(t, len, off);
        if (l.text < l.eol && t[l.text] != '#') {
            bool item = t[l.text] == '-' && (l.text + 1 == l.eol || t[l.text + 1] == ' ');
            if (l.ind < ind || (l.ind == ind && !item))
                break;
            end = l.next;
        }
        off = l.next;
    }
    return end;
}

/* Past the flow sequence opening at `at`, or 0 when it does not close. */
static size_t flow_end(const char *t, size_t len, size_t at)
{
    int depth = 0;
    for (size_t i = at; i < len; i++) {
        if (t[i] == '"' || t[i] == '\'') {
            char q = t[i];
            for (i++; i < len && t[i] != q; i++)
                if (q == '"' && t[i] == '\\')
                    i++;
        } else if (t[i] == '[') {
            depth++;
        } else if (t[i] == ']' && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

/* Past the block scalar (| or >) whose indicator is at `at`, the value of a key of a
 * mapping indented by `key_indent`: its content is every following line indented
 * more, and the blank lines among them. */
static size_t block_scalar_end(const char *t, size_t len, size_t at, size_t key_indent)
{
    size_t end = after_line(t, len, at), off = end;
    while (off < len) {
        text_line l = line_at(t, len, off);
        if (l.text < l.eol && t[l.text] != '\r') {
            if (l.ind <= key_indent)
                break;
            end = l.next;
        }
        off = l.next;
    }
    return end;
}

/* Past the quoted scalar opening at `at`, or 0 when it does not close. */
static size_t quoted_end(const char *t, size_t len, size_t at)
{
    size_t i = at + 1;
    if (t[at] == '"') {
        while (i < len && t[i] != '"')
            i += t[i] == '\\' ? 2 : 1;
        return i < len ? i + 1 : 0;
    }
    for (; i < len; i++) {
        if (t[i] != '\'')
            continue;
        if (i + 1 < len && t[i + 1] == '\'')
            i++; /* '' is a quote inside */
        else
            return i + 1;
    }
    return 0;
}

/* Why a value is not patched in place, for the message; NULL when it is. */
static const char *unsafe_form(const char *t, size_t len, size_t at)
{
    if (at >= len)
        return "a value the editor cannot find in the text";
    if (t[at] == '&' || t[at] == '*')
        return "an anchor or alias: &name, *name";
    if (t[at] == '!')
        return "an explicit tag (!)";
    if (t[at] == '{')
        return "a { } flow mapping";
    return NULL;
}

/* Past the value node `n` whose text starts at `at` (a value of a key indented by
 * key_indent; in a flow mapping when `flow`), or 0 when it is not written in a form
 * patched in place. */
static size_t value_end(const char *t, size_t len, size_t at, const ps_yaml_node *n,
                        size_t key_indent, bool flow)
{
    size_t i;
    if (unsafe_form(t, len, at))
        return 0;
    if (n->kind == PS_YAML_SEQ)
        return t[at] == '['   ? flow_end(t, len, at)
               : t[at] == '-' ? seq_end(t, len, at, (size_t)n->col - 1)
                              : 0;
    if (n->kind != PS_YAML_SCALAR)
        return 0;
    if (t[at] == '|' || t[at] == '>')
        return flow ? 0 : block_scalar_end(t, len, at, key_indent);
    if (t[at] == '"' || t[at] == '\'')
        return quoted_end(t, len, at);
    for (i = at; i < len && t[i] != '\n' && !(flow && strchr(",}]", t[i])); i++)
        if (t[i] == '#' && i > at && (t[i - 1] == ' ' || t[i - 1] == '\t'))
            break;
    while (i > at && strchr(" \t\r", t[i - 1]))
        i--;
    /* A plain scalar folded over lines reads differently from its first line. */
    return i - at == n->len && memcmp(t + at, n->value, n->len) == 0 ? i : 0;
}

typedef struct edit {
    size_t at, end, seq;
    int rank; /* at one offset: keys of properties before keys of the device */
    char *text;
} edit;

typedef struct edits {
    edit *v;
    size_t n;
    const char *t;
    size_t len;
    bool opened_props; /* a properties: mapping was started for inserted keys */
    bool props_flow;   /* properties is written as a { } flow mapping */
    const char *why;   /* the form refused, for the message */
} edits;

static ps_err add_edit(edits *e, size_t at, size_t end, int rank, ps_buf *text)
{
    edit *v = realloc(e->v, (e->n + 1) * sizeof *v);
    if (!v)
        return PS_ERR_NOMEM;
    e->v = v;
    v[e->n] = (edit){at, end, e->n, rank, ps_buf_take(text, NULL)};
    if (!v[e->n].text)
        return PS_ERR_NOMEM;
    e->n++;
    return PS_OK;
}

static int edit_cmp(const void *a, const void *b)
{
    const edit *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->seq < y->seq ? -1 : 1;
}

/* The text with every edit applied; they must not overlap. */
static ps_err apply(edits *e, char **out)
{
    ps_buf b;
    size_t off = 0;
    ps_err err = PS_OK;
    ps_buf_init(&b);
    if (e->n > 1)
        qsort(e->v, e->n, sizeof *e->v, edit_cmp);
    for (size_t i = 0; err == PS_OK && i < e->n; i++) {
        if (e->v[i].at < off) {
            err = PS_ERR_UNSUPPORTED;
            break;
        }
        err = ps_buf_append(&b, e->t + off, e->v[i].at - off);
        if (err == PS_OK)
            err = ps_buf_append(&b, e->v[i].text, strlen(e->v[i].text));
        off = e->v[i].end;
    }
    if (err == PS_OK)
        err = ps_buf_append(&b, e->t + off, e->len - off);
    *out = err == PS_OK ? ps_buf_take(&b, NULL) : NULL;
    ps_buf_deinit(&b);
    return err;
}

/* Index of `key` in mapping `map`, or map->count. */
static size_t key_index(const ps_yaml_node *map, const char *key)
{
    size_t i = 0;
    while (i < map->count && strcmp(map->keys[i]->value, key) != 0)
        i++;
    return i;
}

/* The comment after a block scalar's indicator ("|  # why"), kept with the value that
 * replaces it: the text from its '#' to the end of the line, or an empty range. */
static void header_comment(const char *t, size_t len, size_t at, size_t *from, size_t *to)
{
    size_t i = at;
    *from = *to = 0;
    while (i < len && t[i] != '\n' && t[i] != '#')
        i++;
    if (i >= len || t[i] != '#')
        return;
    *from = i;
    while (i < len && t[i] != '\n' && t[i] != '\r')
        i++;
    *to = i;
}

/* Whether the key's value at `n` is in the properties { } mapping. */
static bool in_flow(const edits *e, const ps_gui_form_field *ff)
{
    return e->props_flow && strchr(ff->path, '.') != NULL;
}

/* A changed value written over the old one. */
static ps_err replace_value(edits *e, const ps_gui_form_field *ff, const ps_yaml_node *key,
                            const ps_yaml_node *n)
{
    size_t at = ps_gui_text_offset(e->t, e->len, n->line, n->col), end, cf = 0, ct = 0;
    bool block = false;
    ps_buf b;
    ps_err err = PS_OK;
    ps_buf_init(&b);
    if (n->kind == PS_YAML_SCALAR && n->len == 0 && n->plain && !in_flow(e, ff)) {
        /* "key:" with nothing: the value goes after the colon. */
        at = ps_gui_text_offset(e->t, e->len, key->line, key->col);
        while (at < e->len && e->t[at] != ':' && e->t[at] != '\n')
            at++;
        if (at >= e->len || e->t[at] != ':')
            return PS_ERR_UNSUPPORTED;
        end = ++at;
        err = ps_buf_putc(&b, ' ');
    } else if (!(end = value_end(e->t, e->len, at, n, (size_t)key->col - 1, in_flow(e, ff)))) {
        e->why = unsafe_form(e->t, e->len, at);
        return PS_ERR_UNSUPPORTED;
    } else if (n->kind == PS_YAML_SCALAR && (e->t[at] == '|' || e->t[at] == '>')) {
        /* A block scalar becomes a one-line value; its lines go, its comment stays. */
        block = true;
        header_comment(e->t, e->len, at, &cf, &ct);
    }
    if (err == PS_OK)
        err = ps_gui_form_put_value(&b, ff,
                                    n->kind == PS_YAML_SEQ && e->t[at] == '-' ? n->col - 1 : -1);
    if (err == PS_OK && ct > cf)
        err = ps_buf_appendf(&b, "   %.*s", (int)(ct - cf), e->t + cf);
    if (err == PS_OK && block && end > at && e->t[end - 1] == '\n')
        err = ps_buf_putc(&b, '\n');
    if (err == PS_OK)
        err = add_edit(e, at, end, 0, &b);
    ps_buf_deinit(&b);
    return err;
}

/* A cleared value: its key goes, with its lines. */
static ps_err remove_key(edits *e, const ps_gui_form_field *ff, const ps_yaml_node *key,
                         const ps_yaml_node *n)
{
    size_t kat = ps_gui_text_offset(e->t, e->len, key->line, key->col);
    size_t ls = ps_gui_text_line_start(e->t, e->len, key->line), vat, end, p;
    ps_buf b;
    ps_err err;
    if (in_flow(e, ff)) {
        e->why = "a { } flow mapping";
        return PS_ERR_UNSUPPORTED;
    }
    vat = ps_gui_text_offset(e->t, e->len, n->line, n->col);
    end = n->kind == PS_YAML_SCALAR && n->len == 0 && n->plain
              ? kat
              : value_end(e->t, e->len, vat, n, (size_t)key->col - 1, false);
    if (!end) {
        e->why = unsafe_form(e->t, e->len, vat);
        return PS_ERR_UNSUPPORTED;
    }
    end = end > 0 && e->t[end - 1] == '\n' ? end : after_line(e->t, e->len, end);
    for (p = ls; p < kat && e->t[p] == ' ';)
        p++;
    if (p != kat) {
        /* The first key of a "- " item: the next line's key moves up in its place. */
        ls = kat;
        while (end < e->len && strchr(" \n", e->t[end]))
            end++;
        if (end >= e->len || e->t[end] == '#')
            return PS_ERR_UNSUPPORTED;
    }
    ps_buf_init(&b);
    err = add_edit(e, ls, end, 0, &b);
    ps_buf_deinit(&b);
    return err;
}

/* A value the file did not have: a new key at the end of its mapping. */
static ps_err insert_key(edits *e, const ps_gui_form_field *ff, const ps_yaml_node *dev)
{
    const char *dot = strchr(ff->path, '.'), *key = dot ? dot + 1 : ff->path;
    const ps_yaml_node *map = dev;
    size_t at;
    int indent;
    ps_buf b;
    ps_err err = PS_OK;
    ps_buf_init(&b);
    if (dot) {
        const ps_yaml_node *props = ps_yaml_map_get(dev, "properties");
        if (props && (props->kind != PS_YAML_MAP || e->props_flow)) {
            e->why = "a { } flow mapping";
            return PS_ERR_UNSUPPORTED;
        }
        map = props ? props : dev;
    }
    at = ps_gui_text_block_end(e->t, e->len, ps_gui_text_line_start(e->t, e->len, map->line),
                               map->col);
    indent = map->col - 1;
    if (at > 0 && e->t[at - 1] != '\n')
        err = ps_buf_putc(&b, '\n');
    if (dot && map == dev) {
        if (err == PS_OK && !e->opened_props)
            err = ps_buf_appendf(&b, "%*sproperties:\n", indent, "");
        e->opened_props = true;
        indent += 2;
    }
    if (err == PS_OK)
        err = ps_buf_appendf(&b, "%*s%s: ", indent, "", key);
    if (err == PS_OK)
        err = ps_gui_form_put_value(&b, ff, -1);
    if (err == PS_OK)
        err = ps_buf_putc(&b, '\n');
    if (err == PS_OK)
        err = add_edit(e, at, at, map == dev ? 1 : 0, &b);
    ps_buf_deinit(&b);
    return err;
}

/* The key node and value node of `path` in the device mapping, or NULLs. */
static void locate(const ps_yaml_node *dev, const char *path, const ps_yaml_node **key,
                   const ps_yaml_node **val)
{
    const char *dot = strchr(path, '.');
    const ps_yaml_node *map = dev;
    size_t i;
    *key = *val = NULL;
    if (dot) {
        map = ps_yaml_map_get(dev, "properties");
        path = dot + 1;
    }
    if (!map || map->kind != PS_YAML_MAP || (i = key_index(map, path)) >= map->count)
        return;
    *key = map->keys[i];
    *val = map->items[i];
}

bool ps_gui_text_same_field(const ps_gui_form_field *a, const ps_gui_form_field *b)
{
    bool stringy = a->f->type == PS_SCHEMA_STRING || a->f->type == PS_SCHEMA_PATH ||
                   a->f->type == PS_SCHEMA_STRLIST;
    if (!a->value || !b->value)
        return !a->value && !b->value;
    /* Retyped text the same: a string keeps the admin's quoting. */
    return strcmp(a->value, b->value) == 0 && (stringy || a->plain == b->plain);
}

static ps_err edit_fields(edits *e, const ps_gui_form *f, const ps_gui_form *was,
                          const ps_yaml_node *dev, ps_errmsg *em)
{
    for (size_t i = 0; i < f->n; i++) {
        const ps_gui_form_field *ff = &f->v[i];
        const ps_yaml_node *key, *val;
        ps_err err;
        if (ps_gui_text_same_field(ff, &was->v[i]))
            continue;
        locate(dev, ff->path, &key, &val);
        if (!ff->value)
            err = val ? remove_key(e, ff, key, val) : PS_OK;
        else if (val)
            err = replace_value(e, ff, key, val);
        else
            err = insert_key(e, ff, dev);
        if (err == PS_ERR_UNSUPPORTED)
            return ps_errmsg_set(em, err,
                                 "%s uses a YAML form the editor cannot change safely (%s); "
                                 "edit the file",
                                 ff->path, e->why ? e->why : "its place in the text");
        if (err != PS_OK)
            return ps_errmsg_set(em, err, "out of memory");
    }
    return PS_OK;
}

ps_err ps_gui_save_patch(const ps_gui_form *f, const char *name, const char *text, size_t len,
                         size_t index, char **out, ps_errmsg *em)
{
    ps_yaml_doc *doc = NULL;
    ps_gui_form *was = NULL;
    const ps_yaml_node *dev, *props;
    edits e = {.t = text, .len = len};
    ps_diag d;
    ps_err err;
    ps_diag_init(&d);
    *out = NULL;
    if ((err = ps_yaml_load_buffer(name, text, len, &doc, &d)) != PS_OK) {
        ps_errmsg_set(em, err, "%s cannot be parsed", name);
        goto out;
    }
    dev = ps_gui_text_device(ps_yaml_doc_root(doc), index);
    if (!dev || dev->kind != PS_YAML_MAP ||
        text[ps_gui_text_offset(text, len, dev->line, dev->col)] == '{') {
        err = ps_errmsg_set(em, dev ? PS_ERR_UNSUPPORTED : PS_ERR_NOTFOUND,
                            "device %zu of %s is not a block mapping: a YAML form the editor "
                            "cannot change safely; edit the file",
                            index, name);
        goto out;
    }
    if ((props = ps_yaml_map_get(dev, "properties")) && props->kind == PS_YAML_MAP)
        e.props_flow = text[ps_gui_text_offset(text, len, props->line, props->col)] == '{';
    /* What the file says now, field by field: only what differs is written. */
    if ((err = ps_gui_form_create(&was)) != PS_OK || (err = ps_gui_form_load(was, dev)) != PS_OK) {
        ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    if ((err = edit_fields(&e, f, was, dev, em)) == PS_OK && (err = apply(&e, out)) != PS_OK)
        ps_errmsg_set(em, err, "the changes to %s overlap", name);
    /* Never a file that reads otherwise than the form says: whatever the text held
     * that the positions did not tell (an alias of the device elsewhere, say). */
    if (err == PS_OK && !ps_gui_text_verify(name, ps_yaml_doc_root(doc), *out, index, f)) {
        free(*out);
        *out = NULL;
        err = ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                            "device %zu of %s uses a YAML form the editor cannot change safely "
                            "(the edit would change more than its values); edit the file",
                            index, name);
    }
out:
    for (size_t i = 0; i < e.n; i++)
        free(e.v[i].text);
    free(e.v);
    ps_gui_form_destroy(was);
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&d);
    return err;
}

ps_err ps_gui_save_cut(const char *name, const char *text, size_t len, size_t index, char **out,
                       ps_errmsg *em)
{
    ps_yaml_doc *doc = NULL;
    const ps_yaml_node *root, *seq, *dev;
    ps_diag d;
    ps_buf b;
    ps_err err;
    size_t ls, at, end, p;
    ps_diag_init(&d);
    ps_buf_init(&b);
    *out = NULL;
    if ((err = ps_yaml_load_buffer(name, text, len, &doc, &d)) != PS_OK) {
        ps_errmsg_set(em, err, "%s cannot be parsed", name);
        goto out;
    }
    root = ps_yaml_doc_root(doc);
    seq = root && root->kind == PS_YAML_MAP ? ps_yaml_map_get(root, "devices") : root;
    dev = ps_gui_text_device(root, index);
    err = PS_ERR_UNSUPPORTED;
    if (!dev || !seq || seq->kind != PS_YAML_SEQ || seq->count < 2) {
        ps_errmsg_set(em, err, "device %zu is not one of several in %s", index, name);
        goto out;
    }
    ls = ps_gui_text_line_start(text, len, dev->line);
    at = ps_gui_text_offset(text, len, dev->line, dev->col);
    for (p = ls; p < at && text[p] == ' ';)
        p++;
    if (p >= at || text[p] != '-' || dev->kind != PS_YAML_MAP || text[at] == '{') {
        ps_errmsg_set(em, err, "device %zu of %s is not a block item", index, name);
        goto out;
    }
    end = ps_gui_text_block_end(text, len, ls, dev->col);
    if ((err = ps_buf_append(&b, text, ls)) == PS_OK &&
        (err = ps_buf_append(&b, text + end, len - end)) == PS_OK &&
        !(*out = ps_buf_take(&b, NULL)))
        err = PS_ERR_NOMEM;
out:
    ps_buf_deinit(&b);
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&d);
    return err;
}
