/* ps_store full text: the tokenizer of events_fts, a query's full-text plan (the
 * FTS5 expression) and the exact check of each candidate the index yields.
 *
 * The index holds words and hashed ids only, so whatever it yields is confirmed
 * against the row's typed columns here: exact filters stay exact. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "store/ps_store_internal.h"

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
    if (ps_mem_grow_array((void **)&t->tok, &t->cap, t->n, sizeof *t->tok) != PS_OK)
        return PS_ERR_NOMEM;
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
    if (sqlite3_prepare_v2(st->conn.db, "SELECT fts5(?1)", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "finding the full-text tokenizer");
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

void ps_store_tokenizer_close(ps_store *st)
{
    if (st->tokenizer && st->tokenizer_mod) {
        const fts5_tokenizer *mod = st->tokenizer_mod;
        mod->xDelete(st->tokenizer);
    }
    free(st->tokenizer_mod);
    st->tokenizer = NULL;
    st->tokenizer_mod = NULL;
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

void ps_plan_free(ps_plan *p)
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
    /* ps_plan (ps_store_internal.h) keeps the three fields of a ps_buf apart. */
    ps_buf b = {p->match, p->mlen, p->mcap};
    ps_err err = ps_buf_append(&b, s, strlen(s));
    p->match = b.p;
    p->mlen = b.len;
    p->mcap = b.cap;
    return err;
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

/* One exact filter: `v` normalised into `into`, its hashed token ANDed in. */
static ps_err compile_exact(ps_plan *p, const char *v, bool addr, char kind, char *into, size_t cap,
                            const char *flag, const char *noun, ps_errmsg *em)
{
    size_t n;
    if (!v || !*v)
        return PS_OK;
    n = addr ? ps_store_norm_addr(v, strlen(v), into, cap)
             : ps_store_norm_msgid(v, strlen(v), into, cap);
    if (n == (size_t)-1 || n == 0)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: '%s' is not %s", flag, v, noun);
    if (m_and(p) != PS_OK || m_hash(p, kind, into, n) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory building the query");
    return PS_OK;
}

static ps_err compile_subject(ps_store *st, const char *subject, ps_plan *p, ps_errmsg *em)
{
    size_t len = strlen(subject);
    unsigned char last = (unsigned char)subject[len - 1];
    ps_err err = make_phrase(st, subject, len, false, &p->subject, em);
    if (err != PS_OK)
        return err;
    if (p->subject.toks.n == 0)
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "--subject: '%s' has no letters or digits to look for", subject);
    /* "invoice 20" finds "Invoice 2024"; "invoice " only the whole word. */
    p->subject.prefix = !is_space((char)last) && (isalnum(last) || last >= 0x80);
    p->has_subject = true;
    if (m_and(p) != PS_OK || m_phrase(p, &p->subject) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory building the query");
    return PS_OK;
}

/* The id and address alternatives of a --search word, which the index holds only
 * as hashes. */
static ps_err m_word_ids(ps_plan *p, const char *word)
{
    static const char ids[] = {'q', 'm', 'g'};
    char nid[1024];
    size_t nl = ps_store_norm_msgid(word, strlen(word), nid, sizeof nid);
    for (size_t i = 0; i < sizeof ids && nl != (size_t)-1 && nl > 0; i++)
        if (m_add(p, " OR ") != PS_OK || m_hash(p, ids[i], nid, nl) != PS_OK)
            return PS_ERR_NOMEM;
    nl = ps_store_norm_addr(word, strlen(word), nid, sizeof nid);
    if (nl != (size_t)-1 && nl > 0 && memchr(nid, '@', nl)) {
        if (m_add(p, " OR ") != PS_OK || m_hash(p, 'f', nid, nl) != PS_OK ||
            m_add(p, " OR ") != PS_OK || m_hash(p, 't', nid, nl) != PS_OK)
            return PS_ERR_NOMEM;
    }
    return PS_OK;
}

/* One word of --search: its words, or the event has it as an id or address. */
static ps_err compile_word(ps_store *st, const char *w, size_t len, ps_plan *p, ps_errmsg *em)
{
    /* Not ps_mem: exactly one more per --search word (a handful), and ps_plan
     * (ps_store_internal.h) has no capacity field for it. */
    ps_phrase *ph = realloc(p->search, (p->nsearch + 1) * sizeof *ph);
    ps_err err;
    if (!ph)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory building the query");
    p->search = ph;
    ph = &p->search[p->nsearch++];
    if ((err = make_phrase(st, w, len, true, ph, em)) != PS_OK)
        return err;
    if (ph->toks.n == 0)
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "--search: '%s' has no letters or digits to look for", ph->word);
    if (m_and(p) != PS_OK || m_add(p, "((") != PS_OK || m_phrase(p, ph) != PS_OK ||
        m_add(p, ")") != PS_OK || (!ph->prefix && m_word_ids(p, ph->word) != PS_OK) ||
        m_add(p, ")") != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory building the query");
    return PS_OK;
}

static ps_err compile_search(ps_store *st, const char *search, ps_plan *p, ps_errmsg *em)
{
    const char *s = search;
    while (*s) {
        const char *w;
        ps_err err;
        while (is_space(*s))
            s++;
        if (!*s)
            break;
        w = s;
        while (*s && !is_space(*s))
            s++;
        if ((err = compile_word(st, w, (size_t)(s - w), p, em)) != PS_OK)
            return err;
    }
    if (p->nsearch == 0 && *search)
        return ps_errmsg_set(em, PS_ERR_INVALID, "--search: no words given");
    return PS_OK;
}

ps_err ps_plan_compile(ps_store *st, const ps_query *q, ps_plan *p, ps_errmsg *em)
{
    char norm[1024];
    ps_err err;
    if ((err = compile_exact(p, q->from, true, 'f', p->from, sizeof p->from, "--from", "an address",
                             em)) != PS_OK ||
        (err = compile_exact(p, q->to, true, 't', p->to, sizeof p->to, "--to", "an address", em)) !=
            PS_OK ||
        (err = compile_exact(p, q->qid, false, 'q', norm, sizeof norm, "--qid", "a queue id",
                             em)) != PS_OK ||
        (err = compile_exact(p, q->message_id, false, 'm', p->msgid, sizeof p->msgid,
                             "--message-id", "a message-id", em)) != PS_OK ||
        (err = compile_exact(p, q->key, false, 'g', norm, sizeof norm, "key", "an event key",
                             em)) != PS_OK)
        return err;
    if (q->subject && *q->subject && (err = compile_subject(st, q->subject, p, em)) != PS_OK)
        return err;
    if (q->search)
        return compile_search(st, q->search, p, em);
    return PS_OK;
}

/* The typed filters whose value the full-text entry holds as words (ps_store_fts_doc
 * indexes the disposition among the text fields). A row whose column equals the value
 * (ASCII case aside, as COLLATE NOCASE compares) has the same words, which the
 * tokenizer folds to lower case, so the value's words as an AND match yield every such
 * row and some others; the caller's SQL keeps the column's exact comparison. */
ps_err ps_plan_add_typed(ps_store *st, const ps_query *q, ps_plan *p, ps_errmsg *em)
{
    ps_phrase ph;
    ps_err err;
    if (!q->disposition || !*q->disposition)
        return PS_OK;
    if ((err = make_phrase(st, q->disposition, strlen(q->disposition), false, &ph, em)) == PS_OK &&
        ph.toks.n > 0) {
        for (size_t i = 0; i < ph.toks.n && err == PS_OK; i++)
            if ((err = m_and(p)) == PS_OK)
                err = m_tok(p, ph.toks.tok[i], false);
        if (err != PS_OK)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory building the query");
    }
    ps_tokens_clear(&ph.toks);
    free(ph.word);
    return err;
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
    PS_EF_SUBJECT,  PS_EF_SENDER, PS_EF_RECIPIENTS, PS_EF_DISPOSITION, PS_EF_ACTION,
    PS_EF_MODULE,   PS_EF_RULE,   PS_EF_DIRECTION,  PS_EF_CLIENT_IP,   PS_EF_CLIENT_HOST,
    PS_EF_COUNTRY,  PS_EF_STAT,   PS_EF_DSN,        PS_EF_RELAY,       PS_EF_ACTOR,
    PS_EF_RESOURCE, PS_EF_RESULT, /* the same words as ps_store_fts_doc indexes */
};

ps_err ps_plan_confirm(ps_store *st, const ps_query *q, ps_plan *p, const ps_event_row *r, bool *ok,
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
