/* ps_store reading: filters, full text, trace, hourly counts, time parsing.
 *
 * A query has two shapes. With a filter the full-text index can answer (an
 * address, an id, words), the index yields candidate rows and each one is
 * confirmed against its typed columns in C, so exact filters stay exact although
 * the index only holds hashes and words. Without one, the natural-key index
 * (ts first) walks the time range in order and stops at the limit. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podstream/ps_platform.h"
#include "store/ps_store_internal.h"

void ps_query_init(ps_query *q)
{
    memset(q, 0, sizeof *q);
    q->device_id = -1;
    q->type = -1;
    q->since_us = INT64_MIN;
    q->until_us = INT64_MAX;
}

/* ---- tokenizer ------------------------------------------------------------------ */

void ps_tokens_clear(ps_tokens *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->tok[i]);
    free(t->tok);
    memset(t, 0, sizeof *t);
}

static ps_err tokens_push(ps_tokens *t, const char *s, size_t n)
{
    char *copy;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **p = realloc(t->tok, cap * sizeof *p);
        if (!p)
            return PS_ERR_NOMEM;
        t->tok = p;
        t->cap = cap;
    }
    copy = malloc(n + 1);
    if (!copy)
        return PS_ERR_NOMEM;
    memcpy(copy, s, n);
    copy[n] = '\0';
    t->tok[t->n++] = copy;
    return PS_OK;
}

typedef struct tok_ctx {
    ps_tokens *out;
    ps_err err;
} tok_ctx;

static int on_token(void *ctx, int tflags, const char *tok, int ntok, int start, int end)
{
    tok_ctx *c = ctx;
    (void)start;
    (void)end;
    if (tflags & FTS5_TOKEN_COLOCATED)
        return SQLITE_OK;
    c->err = tokens_push(c->out, tok, (size_t)ntok);
    return c->err == PS_OK ? SQLITE_OK : SQLITE_NOMEM;
}

static ps_err load_tokenizer(ps_store *st, ps_errmsg *em)
{
    static const char *const args[] = {"remove_diacritics", "2"};
    fts5_api *api = NULL;
    sqlite3_stmt *s = NULL;
    fts5_tokenizer *mod;
    void *ud = NULL;
    Fts5Tokenizer *tok = NULL;
    if (st->tokenizer)
        return PS_OK;
    if (sqlite3_prepare_v2(st->db, "SELECT fts5(?1)", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "finding the full-text tokenizer");
    sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(s);
    sqlite3_finalize(s);
    if (!api)
        return ps_errmsg_set(em, PS_ERR_UNSUPPORTED, "this SQLite has no FTS5");
    mod = calloc(1, sizeof *mod);
    if (!mod)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    /* The same tokenizer and options as events_fts, so that what we confirm is
     * exactly what the index matched. */
    if (api->xFindTokenizer(api, "unicode61", &ud, mod) != SQLITE_OK ||
        mod->xCreate(ud, (const char **)args, 2, &tok) != SQLITE_OK) {
        free(mod);
        return ps_errmsg_set(em, PS_ERR_UNSUPPORTED, "the unicode61 tokenizer is missing");
    }
    st->fts_api = api;
    st->tokenizer_mod = mod;
    st->tokenizer = tok;
    return PS_OK;
}

ps_err ps_store_tokenize(ps_store *st, const char *text, size_t len, ps_tokens *out, ps_errmsg *em)
{
    const fts5_tokenizer *mod;
    tok_ctx c = {out, PS_OK};
    ps_err err = load_tokenizer(st, em);
    if (err != PS_OK)
        return err;
    mod = st->tokenizer_mod;
    for (size_t i = 0; i < out->n; i++)
        free(out->tok[i]);
    out->n = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    if (mod->xTokenize(st->tokenizer, &c, FTS5_TOKENIZE_DOCUMENT, text, (int)len, on_token) !=
            SQLITE_OK ||
        c.err != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory splitting text into words");
    return PS_OK;
}

/* ---- filter compilation ------------------------------------------------------------- */

/* One word of --search or the --subject text: a run of tokens that must appear in
 * sequence in one field; the last may be a prefix. */
typedef struct ps_phrase {
    ps_tokens toks;
    bool prefix;
    char *word; /* the word as typed, for the id alternatives of --search */
} ps_phrase;

typedef struct ps_plan {
    char *match; /* FTS5 expression, NULL: no full-text part */
    size_t mlen, mcap;
    ps_phrase *search;
    size_t nsearch;
    ps_phrase subject;
    bool has_subject;
    char from[512], to[512], msgid[1024];
    ps_tokens rowtoks; /* scratch for confirming rows */
} ps_plan;

static void plan_free(ps_plan *p)
{
    for (size_t i = 0; i < p->nsearch; i++) {
        ps_tokens_clear(&p->search[i].toks);
        free(p->search[i].word);
    }
    free(p->search);
    ps_tokens_clear(&p->subject.toks);
    free(p->subject.word);
    ps_tokens_clear(&p->rowtoks);
    free(p->match);
    memset(p, 0, sizeof *p);
}

static ps_err m_add(ps_plan *p, const char *s)
{
    size_t n = strlen(s);
    if (p->mlen + n + 1 > p->mcap) {
        size_t cap = p->mcap ? p->mcap : 256;
        char *np;
        while (cap < p->mlen + n + 1)
            cap *= 2;
        np = realloc(p->match, cap);
        if (!np)
            return PS_ERR_NOMEM;
        p->match = np;
        p->mcap = cap;
    }
    memcpy(p->match + p->mlen, s, n + 1);
    p->mlen += n;
    return PS_OK;
}

/* Appends a token as an FTS5 string ("..." with " doubled). */
static ps_err m_tok(ps_plan *p, const char *tok, bool prefix)
{
    ps_err err = m_add(p, "\"");
    for (const char *c = tok; *c && err == PS_OK; c++) {
        char one[3] = {*c, 0, 0};
        if (*c == '"')
            one[1] = '"';
        err = m_add(p, one);
    }
    if (err == PS_OK)
        err = m_add(p, prefix ? "\"*" : "\"");
    return err;
}

static ps_err m_and(ps_plan *p)
{
    return p->mlen ? m_add(p, " AND ") : PS_OK;
}

static ps_err m_hash(ps_plan *p, char prefix, const char *norm, size_t n)
{
    char tok[12];
    ps_store_hash_token(prefix, norm, n, tok);
    return m_tok(p, tok, false);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Tokenizes `word`; true in *has_tokens when it has at least one. */
static ps_err make_phrase(ps_store *st, const char *word, size_t len, bool allow_star,
                          ps_phrase *ph, ps_errmsg *em)
{
    ps_err err;
    memset(ph, 0, sizeof *ph);
    ph->word = malloc(len + 1);
    if (!ph->word)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    memcpy(ph->word, word, len);
    ph->word[len] = '\0';
    if (allow_star && len > 0 && word[len - 1] == '*') {
        ph->prefix = true;
        len--;
    }
    err = ps_store_tokenize(st, word, len, &ph->toks, em);
    return err;
}

static ps_err m_phrase(ps_plan *p, const ps_phrase *ph)
{
    ps_err err = PS_OK;
    for (size_t i = 0; i < ph->toks.n && err == PS_OK; i++) {
        if (i > 0)
            err = m_add(p, " AND ");
        if (err == PS_OK)
            err = m_tok(p, ph->toks.tok[i], ph->prefix && i + 1 == ph->toks.n);
    }
    return err;
}

static ps_err compile(ps_store *st, const ps_query *q, ps_plan *p, ps_errmsg *em)
{
    char norm[1024];
    size_t n;
    ps_err err = PS_OK;
    if (q->from && *q->from) {
        n = ps_store_norm_addr(q->from, strlen(q->from), p->from, sizeof p->from);
        if (n == (size_t)-1 || n == 0)
            return ps_errmsg_set(em, PS_ERR_INVALID, "--from: '%s' is not an address", q->from);
        if (m_and(p) != PS_OK || m_hash(p, 'f', p->from, n) != PS_OK)
            goto nomem;
    }
    if (q->to && *q->to) {
        n = ps_store_norm_addr(q->to, strlen(q->to), p->to, sizeof p->to);
        if (n == (size_t)-1 || n == 0)
            return ps_errmsg_set(em, PS_ERR_INVALID, "--to: '%s' is not an address", q->to);
        if (m_and(p) != PS_OK || m_hash(p, 't', p->to, n) != PS_OK)
            goto nomem;
    }
    if (q->qid && *q->qid) {
        n = ps_store_norm_msgid(q->qid, strlen(q->qid), norm, sizeof norm);
        if (n == (size_t)-1 || n == 0)
            return ps_errmsg_set(em, PS_ERR_INVALID, "--qid: '%s' is not a queue id", q->qid);
        if (m_and(p) != PS_OK || m_hash(p, 'q', norm, n) != PS_OK)
            goto nomem;
    }
    if (q->message_id && *q->message_id) {
        n = ps_store_norm_msgid(q->message_id, strlen(q->message_id), p->msgid, sizeof p->msgid);
        if (n == (size_t)-1 || n == 0)
            return ps_errmsg_set(em, PS_ERR_INVALID, "--message-id: '%s' is not a message-id",
                                 q->message_id);
        if (m_and(p) != PS_OK || m_hash(p, 'm', p->msgid, n) != PS_OK)
            goto nomem;
    }
    if (q->key && *q->key) {
        n = ps_store_norm_msgid(q->key, strlen(q->key), norm, sizeof norm);
        if (n == (size_t)-1 || n == 0)
            return ps_errmsg_set(em, PS_ERR_INVALID, "key: '%s' is not an event key", q->key);
        if (m_and(p) != PS_OK || m_hash(p, 'g', norm, n) != PS_OK)
            goto nomem;
    }
    if (q->subject && *q->subject) {
        size_t len = strlen(q->subject);
        if ((err = make_phrase(st, q->subject, len, false, &p->subject, em)) != PS_OK)
            return err;
        if (p->subject.toks.n == 0)
            return ps_errmsg_set(em, PS_ERR_INVALID,
                                 "--subject: '%s' has no letters or digits to look for",
                                 q->subject);
        /* "invoice 20" finds "Invoice 2024"; "invoice " only the whole word. */
        p->subject.prefix =
            !is_space(q->subject[len - 1]) && (isalnum((unsigned char)q->subject[len - 1]) ||
                                               (unsigned char)q->subject[len - 1] >= 0x80);
        p->has_subject = true;
        if (m_and(p) != PS_OK || m_phrase(p, &p->subject) != PS_OK)
            goto nomem;
    }
    if (q->search) {
        const char *s = q->search;
        while (*s) {
            const char *w;
            ps_phrase *ph;
            char nid[1024];
            size_t nl;
            while (is_space(*s))
                s++;
            if (!*s)
                break;
            w = s;
            while (*s && !is_space(*s))
                s++;
            ph = realloc(p->search, (p->nsearch + 1) * sizeof *ph);
            if (!ph)
                goto nomem;
            p->search = ph;
            ph = &p->search[p->nsearch++];
            if ((err = make_phrase(st, w, (size_t)(s - w), true, ph, em)) != PS_OK)
                return err;
            if (ph->toks.n == 0)
                return ps_errmsg_set(em, PS_ERR_INVALID,
                                     "--search: '%s' has no letters or digits to look for",
                                     ph->word);
            /* A word may also be an id or an address, which the index holds only as
             * hashes: offer those alternatives too. */
            if (m_and(p) != PS_OK || m_add(p, "((") != PS_OK || m_phrase(p, ph) != PS_OK ||
                m_add(p, ")") != PS_OK)
                goto nomem;
            if (!ph->prefix) {
                static const char ids[] = {'q', 'm', 'g'};
                nl = ps_store_norm_msgid(ph->word, strlen(ph->word), nid, sizeof nid);
                for (size_t i = 0; i < sizeof ids && nl != (size_t)-1 && nl > 0; i++)
                    if (m_add(p, " OR ") != PS_OK || m_hash(p, ids[i], nid, nl) != PS_OK)
                        goto nomem;
                nl = ps_store_norm_addr(ph->word, strlen(ph->word), nid, sizeof nid);
                if (nl != (size_t)-1 && nl > 0 && memchr(nid, '@', nl)) {
                    if (m_add(p, " OR ") != PS_OK || m_hash(p, 'f', nid, nl) != PS_OK ||
                        m_add(p, " OR ") != PS_OK || m_hash(p, 't', nid, nl) != PS_OK)
                        goto nomem;
                }
            }
            if (m_add(p, ")") != PS_OK)
                goto nomem;
        }
        if (p->nsearch == 0 && *q->search)
            return ps_errmsg_set(em, PS_ERR_INVALID, "--search: no words given");
    }
    return PS_OK;
nomem:
    return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory building the query");
}

/* ---- confirming candidates -------------------------------------------------------- */

static bool phrase_in(const ps_tokens *hay, const ps_phrase *ph)
{
    size_t n = ph->toks.n;
    if (n == 0 || hay->n < n)
        return false;
    for (size_t i = 0; i + n <= hay->n; i++) {
        size_t k = 0;
        for (; k < n; k++) {
            const char *a = hay->tok[i + k];
            const char *b = ph->toks.tok[k];
            if (k + 1 == n && ph->prefix) {
                if (strncmp(a, b, strlen(b)) != 0)
                    break;
            } else if (strcmp(a, b) != 0) {
                break;
            }
        }
        if (k == n)
            return true;
    }
    return false;
}

static bool addr_eq(const char *v, size_t len, const char *want)
{
    char norm[512];
    size_t n = ps_store_norm_addr(v, len, norm, sizeof norm);
    return n != (size_t)-1 && strcmp(norm, want) == 0;
}

static bool addr_in_list(const char *list, const char *want)
{
    const char *p = list;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (addr_eq(p, n, want))
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static bool id_eq(const char *v, const char *want)
{
    char a[1024], b[1024];
    size_t na, nb;
    if (!v)
        return false;
    na = ps_store_norm_msgid(v, strlen(v), a, sizeof a);
    nb = ps_store_norm_msgid(want, strlen(want), b, sizeof b);
    return na != (size_t)-1 && nb != (size_t)-1 && na == nb && memcmp(a, b, na) == 0;
}

static const ps_event_field word_fields[] = {
    PS_EF_SUBJECT, PS_EF_SENDER, PS_EF_RECIPIENTS, PS_EF_DISPOSITION, PS_EF_ACTION,
    PS_EF_MODULE,  PS_EF_RULE,   PS_EF_DIRECTION,  PS_EF_CLIENT_IP,   PS_EF_CLIENT_HOST,
    PS_EF_COUNTRY, PS_EF_STAT,   PS_EF_DSN,        PS_EF_RELAY,
};

static ps_err confirm(ps_store *st, const ps_query *q, ps_plan *p, const ps_event_row *r, bool *ok,
                      ps_errmsg *em)
{
    ps_err err;
    *ok = false;
    if (p->from[0] && !(r->text[PS_EF_SENDER] &&
                        addr_eq(r->text[PS_EF_SENDER], strlen(r->text[PS_EF_SENDER]), p->from)))
        return PS_OK;
    if (p->to[0] && !addr_in_list(r->text[PS_EF_RECIPIENTS], p->to))
        return PS_OK;
    if (q->qid && *q->qid && !id_eq(r->text[PS_EF_QID], q->qid))
        return PS_OK;
    if (p->msgid[0] && !id_eq(r->text[PS_EF_MESSAGE_ID], p->msgid))
        return PS_OK;
    if (q->key && *q->key && !id_eq(r->key, q->key))
        return PS_OK;
    if (p->has_subject) {
        const char *s = r->text[PS_EF_SUBJECT];
        if (!s)
            return PS_OK;
        if ((err = ps_store_tokenize(st, s, strlen(s), &p->rowtoks, em)) != PS_OK)
            return err;
        if (!phrase_in(&p->rowtoks, &p->subject))
            return PS_OK;
    }
    for (size_t i = 0; i < p->nsearch; i++) {
        const ps_phrase *ph = &p->search[i];
        bool found = false;
        if (!ph->prefix) {
            const char *w = ph->word;
            found = id_eq(r->text[PS_EF_QID], w) || id_eq(r->text[PS_EF_MESSAGE_ID], w) ||
                    id_eq(r->key, w);
            if (!found && strchr(w, '@')) {
                char norm[512];
                size_t n = ps_store_norm_addr(w, strlen(w), norm, sizeof norm);
                if (n != (size_t)-1)
                    found = (r->text[PS_EF_SENDER] &&
                             addr_eq(r->text[PS_EF_SENDER], strlen(r->text[PS_EF_SENDER]), norm)) ||
                            addr_in_list(r->text[PS_EF_RECIPIENTS], norm);
            }
        }
        for (size_t f = 0; !found && f < sizeof word_fields / sizeof word_fields[0]; f++) {
            const char *s = r->text[word_fields[f]];
            if (!s)
                continue;
            if ((err = ps_store_tokenize(st, s, strlen(s), &p->rowtoks, em)) != PS_OK)
                return err;
            found = phrase_in(&p->rowtoks, ph);
        }
        if (!found)
            return PS_OK;
    }
    *ok = true;
    return PS_OK;
}

/* ---- running a query ---------------------------------------------------------------- */

#define COL_ID     0
#define COL_DEVICE 1
#define COL_TYPE   2
#define COL_TS     3
#define COL_KEY    4
#define COL_TEXT   5
#define COL_SPAM   (COL_TEXT + PS_EF__COUNT)
#define COL_SIZE   (COL_SPAM + 1)
#define COL_TAGS   (COL_SIZE + 1)
#define COL_DICT   (COL_TAGS + 1)
#define COL_FMT    (COL_DICT + 1)
#define COL_RAWLEN (COL_FMT + 1)
#define COL_RAW    (COL_RAWLEN + 1)

static size_t select_list(char *buf, size_t cap, bool raw)
{
    size_t n = (size_t)snprintf(buf, cap, "e.id, e.device_id, e.type, e.ts_us, e.key");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(buf + n, cap - n, ", e.%s", ps_store_field_col[i]);
    n += (size_t)snprintf(buf + n, cap - n,
                          ", e.spam_score, e.size_bytes, e.tags, e.dict_id, e.fmt, e.raw_len, %s",
                          raw ? "e.raw" : "NULL");
    return n;
}

static ps_err fill_row(ps_store *st, sqlite3_stmt *s, bool want_raw, ps_event_row *r, ps_errmsg *em)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, COL_ID);
    r->device_id = sqlite3_column_int64(s, COL_DEVICE);
    r->type = (ps_data_type)sqlite3_column_int(s, COL_TYPE);
    r->ts_us = sqlite3_column_int64(s, COL_TS);
    r->key = (const char *)sqlite3_column_text(s, COL_KEY);
    for (int i = 0; i < PS_EF__COUNT; i++)
        r->text[i] = (const char *)sqlite3_column_text(s, COL_TEXT + i);
    if (sqlite3_column_type(s, COL_SPAM) != SQLITE_NULL) {
        r->has_spam_score = true;
        r->spam_score = sqlite3_column_double(s, COL_SPAM);
    }
    if (sqlite3_column_type(s, COL_SIZE) != SQLITE_NULL) {
        r->has_size = true;
        r->size_bytes = sqlite3_column_int64(s, COL_SIZE);
    }
    r->tags = (const char *)sqlite3_column_text(s, COL_TAGS);
    if (want_raw)
        return ps_store_row_json(
            st, sqlite3_column_int64(s, COL_DICT), sqlite3_column_int(s, COL_FMT),
            sqlite3_column_blob(s, COL_RAW), (size_t)sqlite3_column_bytes(s, COL_RAW),
            (size_t)sqlite3_column_int64(s, COL_RAWLEN), r->key, r->text, &r->raw, &r->raw_len, em);
    return PS_OK;
}

/* ---- owned row copies (newest-first heap, trace) --------------------------------- */

typedef struct row_copy {
    ps_event_row r;
    char *strings; /* one allocation holding key, tags and the typed values */
} row_copy;

static ps_err copy_row(row_copy *dst, const ps_event_row *r)
{
    const char *src[PS_EF__COUNT + 2];
    size_t total = 0;
    char *p;
    src[0] = r->key;
    src[1] = r->tags;
    for (int i = 0; i < PS_EF__COUNT; i++)
        src[2 + i] = r->text[i];
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    p = malloc(total ? total : 1);
    if (!p)
        return PS_ERR_NOMEM;
    dst->r = *r;
    dst->r.raw = NULL;
    dst->r.raw_len = 0;
    dst->strings = p;
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++) {
        const char *copy = NULL;
        if (src[i]) {
            size_t n = strlen(src[i]) + 1;
            memcpy(p, src[i], n);
            copy = p;
            p += n;
        }
        if (i == 0)
            dst->r.key = copy;
        else if (i == 1)
            dst->r.tags = copy;
        else
            dst->r.text[i - 2] = copy;
    }
    return PS_OK;
}

/* The order of a listing: ts, then device, then key. */
static int row_order(const ps_event_row *x, const ps_event_row *y)
{
    int c;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    if (x->device_id != y->device_id)
        return x->device_id < y->device_id ? -1 : 1;
    c = strcmp(x->key ? x->key : "", y->key ? y->key : "");
    if (c != 0)
        return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int row_copy_desc(const void *a, const void *b)
{
    return row_order(&((const row_copy *)b)->r, &((const row_copy *)a)->r);
}

/* Delivers owned rows in order, fetching the JSON of each when asked. */
static ps_err deliver(ps_store *st, row_copy *rows, size_t n, bool want_raw, ps_store_row_fn fn,
                      void *ctx, size_t *delivered, ps_errmsg *em)
{
    for (size_t i = 0; i < n; i++) {
        ps_event_row *r = &rows[i].r;
        char *raw = NULL;
        bool more;
        if (want_raw) {
            ps_err err = ps_store_event_raw(st, r->id, &raw, &r->raw_len, em);
            if (err == PS_ERR_NOTFOUND)
                continue; /* deleted by retention since we listed it */
            if (err != PS_OK)
                return err;
            r->raw = raw;
        }
        if (delivered)
            (*delivered)++;
        more = fn(r, ctx);
        free(raw);
        r->raw = NULL;
        if (!more)
            break;
    }
    return PS_OK;
}

/* ---- running a query ---------------------------------------------------------------- */

static ps_err chunk_value(ps_store *st, const char *sql, int64_t arg, bool *found, int64_t *out,
                          ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    int rc;
    *found = false;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "reading time bounds");
    sqlite3_bind_int64(s, 1, arg);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *found = true;
        *out = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ps_store_dberr(st, em, "reading time bounds");
    return PS_OK;
}

/* The id range whose rows can hold ts in [since, until): *empty when none can. */
static ps_err id_bounds(ps_store *st, const ps_query *q, int64_t *lo, int64_t *hi, bool *empty,
                        ps_errmsg *em)
{
    bool found;
    int64_t c;
    ps_err err;
    *lo = 0;
    *hi = INT64_MAX;
    *empty = false;
    if (q->until_us != INT64_MAX) {
        err = chunk_value(st, "SELECT max(id) FROM chunks WHERE min_ts < ?", q->until_us, &found,
                          &c, em);
        if (err != PS_OK)
            return err;
        if (!found) {
            *empty = true;
            return PS_OK;
        }
        *hi = ((c + 1) << PS_CHUNK_SHIFT) - 1;
    }
    if (q->since_us != INT64_MIN) {
        /* pmax never decreases with the chunk id: the first chunk that reaches
         * `since` starts the range. */
        err = chunk_value(st, "SELECT min(id) FROM chunks WHERE pmax >= ?", q->since_us, &found, &c,
                          em);
        if (err != PS_OK)
            return err;
        if (!found) {
            *empty = true;
            return PS_OK;
        }
        *lo = c << PS_CHUNK_SHIFT;
    }
    return PS_OK;
}

static size_t where_filters(char *sql, size_t cap, const ps_query *q)
{
    size_t n = 0;
    if (q->since_us != INT64_MIN)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.ts_us >= ?");
    if (q->until_us != INT64_MAX)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.ts_us < ?");
    if (q->device_id >= 0)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.device_id = ?");
    if (q->type >= 0)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.type = ?");
    if (q->disposition && *q->disposition)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.disposition = ? COLLATE NOCASE");
    return n;
}

static void bind_filters(sqlite3_stmt *s, int *bi, const ps_query *q)
{
    if (q->since_us != INT64_MIN)
        sqlite3_bind_int64(s, (*bi)++, q->since_us);
    if (q->until_us != INT64_MAX)
        sqlite3_bind_int64(s, (*bi)++, q->until_us);
    if (q->device_id >= 0)
        sqlite3_bind_int64(s, (*bi)++, q->device_id);
    if (q->type >= 0)
        sqlite3_bind_int(s, (*bi)++, q->type);
    if (q->disposition && *q->disposition)
        sqlite3_bind_text(s, (*bi)++, q->disposition, -1, SQLITE_STATIC);
}

/* Min-heap of the best `limit` rows so far, the oldest on top. */
typedef struct heap {
    row_copy *v;
    size_t n, cap;
} heap;

static void heap_down(heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && row_order(&h->v[l].r, &h->v[m].r) < 0)
            m = l;
        if (r < h->n && row_order(&h->v[r].r, &h->v[m].r) < 0)
            m = r;
        if (m == i)
            return;
        row_copy t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

static ps_err heap_offer(heap *h, const ps_event_row *r)
{
    ps_err err;
    if (h->n < h->cap) {
        size_t i = h->n;
        if ((err = copy_row(&h->v[h->n++], r)) != PS_OK) {
            h->n--;
            return err;
        }
        while (i > 0 && row_order(&h->v[i].r, &h->v[(i - 1) / 2].r) < 0) {
            row_copy t = h->v[i];
            h->v[i] = h->v[(i - 1) / 2];
            h->v[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
        return PS_OK;
    }
    if (row_order(r, &h->v[0].r) <= 0)
        return PS_OK;
    free(h->v[0].strings);
    if ((err = copy_row(&h->v[0], r)) != PS_OK) {
        h->v[0] = h->v[--h->n];
        return err;
    }
    heap_down(h, 0);
    return PS_OK;
}

/* Newest first through the full-text index: walk candidates from the highest id
 * down, keep the best `limit`, and stop when no older id can hold a newer ts than
 * the oldest kept (chunks.pmax). Ids follow arrival, and POD delivers in roughly
 * ts order, so this reads a little more than `limit` candidates, however many
 * events match in all. */
static ps_err query_newest(ps_store *st, const ps_query *q, ps_plan *plan, int64_t lo, int64_t hi,
                           ps_store_row_fn fn, void *ctx, ps_errmsg *em)
{
    char sql[4096];
    size_t n;
    sqlite3_stmt *s = NULL, *pm = NULL;
    heap h = {0};
    ps_err err = PS_OK;
    int rc, bi = 1;
    int64_t cur_chunk = -1, cur_pmax = INT64_MAX;
    h.cap = q->limit;
    h.v = calloc(h.cap, sizeof *h.v);
    if (!h.v)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    n = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    n += select_list(sql + n, sizeof sql - n, false);
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          " FROM events_fts f CROSS JOIN events e ON e.id = f.rowid"
                          " WHERE events_fts MATCH ? AND f.rowid >= ? AND f.rowid <= ?");
    n += where_filters(sql + n, sizeof sql - n, q);
    snprintf(sql + n, sizeof sql - n, " ORDER BY f.rowid DESC");
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "SELECT pmax FROM chunks WHERE id = ?", -1, &pm, NULL) !=
            SQLITE_OK) {
        err = ps_store_dberr(st, em, "preparing the query");
        goto out;
    }
    sqlite3_bind_text(s, bi++, plan->match, (int)plan->mlen, SQLITE_STATIC);
    sqlite3_bind_int64(s, bi++, lo);
    sqlite3_bind_int64(s, bi++, hi);
    bind_filters(s, &bi, q);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ps_event_row row;
        bool ok = false;
        int64_t id = sqlite3_column_int64(s, COL_ID);
        if ((id >> PS_CHUNK_SHIFT) != cur_chunk) {
            cur_chunk = id >> PS_CHUNK_SHIFT;
            cur_pmax = INT64_MAX; /* no bound known: keep going */
            sqlite3_bind_int64(pm, 1, cur_chunk);
            if (sqlite3_step(pm) == SQLITE_ROW)
                cur_pmax = sqlite3_column_int64(pm, 0);
            sqlite3_reset(pm);
        }
        if (h.n == h.cap && cur_pmax < h.v[0].r.ts_us)
            break;
        if ((err = fill_row(st, s, false, &row, em)) != PS_OK ||
            (err = confirm(st, q, plan, &row, &ok, em)) != PS_OK)
            goto out;
        if (ok && (err = heap_offer(&h, &row)) != PS_OK) {
            err = ps_errmsg_set(em, err, "out of memory");
            goto out;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = ps_store_dberr(st, em, "running the query");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    qsort(h.v, h.n, sizeof *h.v, row_copy_desc);
    err = deliver(st, h.v, h.n, q->want_raw, fn, ctx, NULL, em);
out:
    sqlite3_finalize(s);
    sqlite3_finalize(pm);
    for (size_t i = 0; i < h.n; i++)
        free(h.v[i].strings);
    free(h.v);
    return err;
}

#define NEWEST_HEAP_MAX 10000

ps_err ps_store_query(ps_store *st, const ps_query *q, ps_store_row_fn fn, void *ctx, ps_errmsg *em)
{
    ps_plan plan;
    char sql[4096];
    size_t n;
    sqlite3_stmt *s = NULL;
    ps_err err;
    int rc, bi = 1;
    size_t delivered = 0;
    const char *dir = q->oldest_first ? "ASC" : "DESC";
    int64_t lo = 0, hi = INT64_MAX;
    bool empty = false;
    memset(&plan, 0, sizeof plan);
    if (q->since_us >= q->until_us)
        return PS_OK; /* an empty range: nothing, not an error */
    if ((err = compile(st, q, &plan, em)) != PS_OK)
        goto out;
    if (plan.match) {
        if ((err = id_bounds(st, q, &lo, &hi, &empty, em)) != PS_OK || empty)
            goto out;
        if (q->after_id > 0 && q->after_id >= lo)
            lo = q->after_id + 1;
        if (!q->oldest_first && q->after_id <= 0 && q->limit > 0 && q->limit <= NEWEST_HEAP_MAX) {
            err = query_newest(st, q, &plan, lo, hi, fn, ctx, em);
            goto out;
        }
    }
    n = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    n += select_list(sql + n, sizeof sql - n, q->want_raw);
    if (plan.match)
        n += (size_t)snprintf(sql + n, sizeof sql - n,
                              " FROM events_fts f CROSS JOIN events e ON e.id = f.rowid"
                              " WHERE events_fts MATCH ? AND f.rowid >= ? AND f.rowid <= ?");
    else
        n += (size_t)snprintf(sql + n, sizeof sql - n, " FROM events e WHERE 1%s",
                              q->after_id > 0 ? " AND e.id > ?" : "");
    n += where_filters(sql + n, sizeof sql - n, q);
    if (q->after_id > 0)
        snprintf(sql + n, sizeof sql - n, " ORDER BY e.id");
    else
        snprintf(sql + n, sizeof sql - n, " ORDER BY e.ts_us %s, e.device_id %s, e.key_hash %s",
                 dir, dir, dir);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        err = ps_store_dberr(st, em, "preparing the query");
        goto out;
    }
    if (plan.match) {
        sqlite3_bind_text(s, bi++, plan.match, (int)plan.mlen, SQLITE_STATIC);
        sqlite3_bind_int64(s, bi++, lo);
        sqlite3_bind_int64(s, bi++, hi);
    } else if (q->after_id > 0) {
        sqlite3_bind_int64(s, bi++, q->after_id);
    }
    bind_filters(s, &bi, q);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ps_event_row row;
        bool ok = true;
        /* Confirm on the typed columns first, decompress only what is delivered. */
        if ((err = fill_row(st, s, false, &row, em)) != PS_OK)
            goto out;
        if (plan.match && (err = confirm(st, q, &plan, &row, &ok, em)) != PS_OK)
            goto out;
        if (!ok)
            continue;
        if (q->want_raw && (err = fill_row(st, s, true, &row, em)) != PS_OK)
            goto out;
        delivered++;
        if (!fn(&row, ctx))
            break;
        if (q->limit && delivered >= q->limit)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = ps_store_dberr(st, em, "running the query");
out:
    sqlite3_finalize(s);
    plan_free(&plan);
    return err;
}

/* ---- trace ------------------------------------------------------------------------ */

typedef struct trace_ctx {
    row_copy *rows;
    size_t n, cap, limit;
    char **ids; /* qids and message-ids seen, "q:" / "m:" prefixed */
    size_t nids, capids;
    size_t scanned_ids;
    ps_err err;
} trace_ctx;

static bool have_row(const trace_ctx *t, int64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].r.id == id)
            return true;
    return false;
}

static void add_id(trace_ctx *t, char kind, const char *v)
{
    char norm[1024];
    char *copy;
    size_t n;
    if (!v || !*v)
        return;
    n = ps_store_norm_msgid(v, strlen(v), norm + 2, sizeof norm - 2);
    if (n == (size_t)-1 || n == 0)
        return;
    norm[0] = kind;
    norm[1] = ':';
    for (size_t i = 0; i < t->nids; i++)
        if (strcmp(t->ids[i], norm) == 0)
            return;
    if (t->nids == t->capids) {
        size_t cap = t->capids ? t->capids * 2 : 8;
        char **p = realloc(t->ids, cap * sizeof *p);
        if (!p) {
            t->err = PS_ERR_NOMEM;
            return;
        }
        t->ids = p;
        t->capids = cap;
    }
    copy = strdup(norm);
    if (!copy) {
        t->err = PS_ERR_NOMEM;
        return;
    }
    t->ids[t->nids++] = copy;
}

static bool trace_collect(const ps_event_row *r, void *ctx)
{
    trace_ctx *t = ctx;
    if (have_row(t, r->id))
        return true;
    if (t->n >= t->limit)
        return false;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        row_copy *np = realloc(t->rows, cap * sizeof *np);
        if (!np) {
            t->err = PS_ERR_NOMEM;
            return false;
        }
        t->rows = np;
        t->cap = cap;
    }
    if (copy_row(&t->rows[t->n], r) != PS_OK) {
        t->err = PS_ERR_NOMEM;
        return false;
    }
    t->n++;
    add_id(t, 'q', r->text[PS_EF_QID]);
    add_id(t, 'm', r->text[PS_EF_MESSAGE_ID]);
    return true;
}

static int trace_cmp(const void *a, const void *b)
{
    const ps_event_row *x = &((const row_copy *)a)->r;
    const ps_event_row *y = &((const row_copy *)b)->r;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    /* A message event and its maillog lines may share a microsecond: the message
     * (reception and filtering) comes first. */
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void trace_free(trace_ctx *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].strings);
    for (size_t i = 0; i < t->nids; i++)
        free(t->ids[i]);
    free(t->rows);
    free(t->ids);
}

ps_err ps_store_trace(ps_store *st, const char *id, bool want_raw, size_t limit, ps_store_row_fn fn,
                      void *ctx, size_t *count, ps_errmsg *em)
{
    trace_ctx t;
    ps_query q;
    ps_err err = PS_OK;
    memset(&t, 0, sizeof t);
    t.limit = limit ? limit : 10000;
    if (count)
        *count = 0;
    if (!id || !*id)
        return ps_errmsg_set(em, PS_ERR_INVALID, "trace: no id given");
    /* What the id is, is not known: try it as each. */
    for (int kind = 0; kind < 3 && err == PS_OK; kind++) {
        ps_query_init(&q);
        q.oldest_first = true;
        if (kind == 0)
            q.key = id;
        else if (kind == 1)
            q.qid = id;
        else
            q.message_id = id;
        err = ps_store_query(st, &q, trace_collect, &t, em);
        if (err == PS_ERR_INVALID)
            err = PS_OK; /* e.g. "<>" is no message-id; the other kinds may still match */
    }
    /* Follow the mail: a message-id leads to the maillog `from=` line and its
     * queue id, a queue id to every `to=` line and the message event. */
    while (err == PS_OK && t.err == PS_OK && t.scanned_ids < t.nids && t.n < t.limit) {
        char *idv = t.ids[t.scanned_ids++];
        ps_query_init(&q);
        q.oldest_first = true;
        if (idv[0] == 'q')
            q.qid = idv + 2;
        else
            q.message_id = idv + 2;
        err = ps_store_query(st, &q, trace_collect, &t, em);
        if (err == PS_ERR_INVALID)
            err = PS_OK;
    }
    if (err == PS_OK && t.err != PS_OK)
        err = ps_errmsg_set(em, t.err, "out of memory tracing %s", id);
    if (err == PS_OK && t.n == 0)
        err = ps_errmsg_set(em, PS_ERR_NOTFOUND,
                            "no event has %s as its guid, queue id or message-id", id);
    if (err == PS_OK) {
        qsort(t.rows, t.n, sizeof *t.rows, trace_cmp);
        err = deliver(st, t.rows, t.n, want_raw, fn, ctx, count, em);
    }
    trace_free(&t);
    return err;
}

/* ---- small reads ----------------------------------------------------------------- */

ps_err ps_store_last_id(ps_store *st, int64_t *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    *out = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT max(id) FROM events", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "reading the newest event id");
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        err = ps_store_dberr(st, em, "reading the newest event id");
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_event_raw(ps_store *st, int64_t id, char **raw, size_t *len, ps_errmsg *em)
{
    char sql[1024];
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    *raw = NULL;
    *len = 0;
    snprintf(sql, sizeof sql, "SELECT ");
    select_list(sql + strlen(sql), sizeof sql - strlen(sql), true);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " FROM events e WHERE e.id = ?");
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "reading an event");
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        ps_event_row row;
        err = fill_row(st, s, true, &row, em);
        if (err == PS_OK) {
            *raw = malloc(row.raw_len + 1);
            if (!*raw) {
                err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
            } else {
                memcpy(*raw, row.raw, row.raw_len);
                (*raw)[row.raw_len] = '\0';
                *len = row.raw_len;
            }
        }
    } else if (rc == SQLITE_DONE) {
        err = ps_errmsg_set(em, PS_ERR_NOTFOUND, "event %lld is not stored (any more)",
                            (long long)id);
    } else {
        err = ps_store_dberr(st, em, "reading an event");
    }
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_hourly_list(ps_store *st, int64_t since_us, ps_hourly_count **out, size_t *count,
                            ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_hourly_count *arr = NULL;
    size_t n = 0, cap = 0;
    ps_err err = PS_OK;
    int rc;
    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT device_id, type, hour_us, events FROM hourly WHERE hour_us >= "
                           "? ORDER BY device_id, type, hour_us",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "reading hourly counts");
    sqlite3_bind_int64(s, 1, since_us);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            ps_hourly_count *p = realloc(arr, nc * sizeof *p);
            if (!p) {
                err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
                goto out;
            }
            arr = p;
            cap = nc;
        }
        arr[n].device_id = sqlite3_column_int64(s, 0);
        arr[n].type = (ps_data_type)sqlite3_column_int(s, 1);
        arr[n].hour_us = sqlite3_column_int64(s, 2);
        arr[n].events = (uint64_t)sqlite3_column_int64(s, 3);
        n++;
    }
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(st, em, "reading hourly counts");
out:
    sqlite3_finalize(s);
    if (err != PS_OK) {
        free(arr);
        return err;
    }
    *out = arr;
    *count = n;
    return PS_OK;
}

/* ---- time parsing ------------------------------------------------------------------ */

static const char time_forms[] =
    "use a duration before now (30s, 15m, 2h, 7d, 2w), now, today, yesterday, or a date and "
    "time such as 2024-05-22, \"2024-05-22 14:30\" or 2024-05-22T14:30:05Z";

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm):
 * UTC arithmetic without timegm, which C11 lacks. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static ps_err local_to_utc(struct tm *tm, int64_t *out_s, const char *s, ps_errmsg *em)
{
    time_t t;
    tm->tm_isdst = -1;
    t = mktime(tm);
    if (t == (time_t)-1)
        return ps_errmsg_set(em, PS_ERR_INVALID, "'%s' is not a time in the local time zone", s);
    *out_s = (int64_t)t;
    return PS_OK;
}

ps_err ps_query_parse_time(const char *s, int64_t now_us, int64_t *out_us, ps_errmsg *em)
{
    const int64_t sec = 1000000;
    int y, mo, d, h = 0, mi = 0, se = 0;
    int64_t frac_us = 0;
    const char *p;
    if (!s || !*s)
        return ps_errmsg_set(em, PS_ERR_INVALID, "an empty time: %s", time_forms);
    if (strcmp(s, "now") == 0) {
        *out_us = now_us;
        return PS_OK;
    }
    if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
        struct tm tm;
        int64_t secs = 0;
        ps_err err;
        if (!ps_plat_localtime(now_us / sec, &tm))
            return ps_errmsg_set(em, PS_ERR_INVALID, "the clock is out of range");
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        if (s[0] == 'y')
            tm.tm_mday -= 1;
        if ((err = local_to_utc(&tm, &secs, s, em)) != PS_OK)
            return err;
        *out_us = secs * sec;
        return PS_OK;
    }
    /* A duration: digits and one unit. */
    p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p > s && p - s <= 9 && p[0] && !p[1] && strchr("smhdw", p[0])) {
        int64_t n = strtoll(s, NULL, 10);
        int64_t unit = p[0] == 's'   ? 1
                       : p[0] == 'm' ? 60
                       : p[0] == 'h' ? 3600
                       : p[0] == 'd' ? 86400
                                     : 7 * 86400;
        *out_us = now_us - n * unit * sec;
        return PS_OK;
    }
    /* A date, optionally with a time, optionally with an offset. */
    if (strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        goto bad;
    p = s + 10;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi) || h > 23 || mi > 59)
            goto bad;
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &se) || se > 60)
                goto bad;
            p += 3;
            if (*p == '.' || *p == ',') {
                int64_t scale = 100000;
                p++;
                if (*p < '0' || *p > '9')
                    goto bad;
                while (*p >= '0' && *p <= '9') {
                    frac_us += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    if (*p == '\0') {
        struct tm tm;
        int64_t secs = 0;
        ps_err err;
        memset(&tm, 0, sizeof tm);
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = se;
        if ((err = local_to_utc(&tm, &secs, s, em)) != PS_OK)
            return err;
        *out_us = secs * sec + frac_us;
        return PS_OK;
    }
    {
        int oh = 0, om = 0, sign = 1;
        int64_t days = days_from_civil(y, mo, d);
        if (*p == 'Z' || *p == 'z') {
            if (p[1])
                goto bad;
        } else if (*p == '+' || *p == '-') {
            sign = *p == '-' ? -1 : 1;
            p++;
            if (!digits(p, 2, &oh))
                goto bad;
            p += 2;
            if (*p == ':')
                p++;
            if (*p && (!digits(p, 2, &om) || p[2]))
                goto bad;
            if (oh > 23 || om > 59)
                goto bad;
        } else {
            goto bad;
        }
        *out_us =
            ((days * 86400 + h * 3600 + mi * 60 + se) - sign * (int64_t)(oh * 3600 + om * 60)) *
                sec +
            frac_us;
        return PS_OK;
    }
bad:
    return ps_errmsg_set(em, PS_ERR_INVALID, "'%s' is not a time: %s", s, time_forms);
}
