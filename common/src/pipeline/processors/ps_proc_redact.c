/* redact: replaces strings, or the local or domain part of the e-mail addresses in
 * them, with a keyed hash (HMAC-SHA256) or a mask. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"

#define REDACT_MIN_KEY 16

typedef enum rmode { R_HASH, R_MASK } rmode;
typedef enum rpart { RP_ALL, RP_LOCAL, RP_DOMAIN } rpart;

typedef struct redact_state {
    fpath *fields;
    size_t nfields;
    int rmode, rpart; /* rmode, rpart */
    int hash_len;
    bool ignore_missing;
    char *replacement;
    /* HMAC-SHA256 keyed once at load; duplicated for each value, so threads share
     * it read-only. NULL when the key was not resolved (compiled without secrets). */
    EVP_MAC_CTX *mac;
} redact_state;

static const char *const modes[] = {"hash", "mask", NULL};
static const char *const parts[] = {"all", "local", "domain", NULL};

static const ps_schema_field fields[] = {
    PL_OPT_LIST("field", true, PL_KIND_PATHS,
                "A field or a list of them; each value is a string or a list of strings."),
    PL_OPT_ENUM("mode", false, redact_state, rmode, modes, "hash",
                "hash: replace with a keyed hash, so equal values stay equal and can still be "
                "joined; mask: replace with replacement."),
    PL_OPT_ENUM("part", false, redact_state, rpart, parts, "all",
                "all: the whole value; local: the part before @ of every address in the value; "
                "domain: the part after it (lower-cased before hashing)."),
    PL_OPT_TEXT("key", false, "secret", NULL,
                "With mode hash (and needed by it): the key, at least 16 bytes, as "
                "$secret{name} or ${ENV_VAR}."),
    PL_OPT_INT("length", redact_state, hash_len, 8, 64, "16",
               "With mode hash: hex characters of the hash to keep."),
    PL_OPT_TEXT("replacement", false, "string", "***", "With mode mask: the text put instead."),
    PL_OPT_BOOL("ignore_missing", redact_state, ignore_missing, "false", "Skip missing fields."),
};
static const ps_schema_table table = PL_TABLE("redact", fields);

static bool resolve_key(cctx *c, const ps_yaml_node *n, const char *path, redact_state *p)
{
    const char *raw;
    char *plain = NULL;
    ps_errmsg em;
    ps_secret_ctx *ctx = c->secrets;
    ps_err rc;

    if (!pl_opt_text(c, n, path, &raw))
        return false;
    if (strncmp(raw, PS_SECRET_PREFIX, strlen(PS_SECRET_PREFIX)) == 0) {
        pl_cerr(c, n, path,
                "encrypted (enc:v1:) keys are not supported here; use $secret{name} or ${VAR}");
        return false;
    }
    if (!*raw) {
        pl_cerr(c, n, path, "the key is empty");
        return false;
    }
    if (!ctx) /* checking only (validate --no-secrets): the set will not hash */
        return true;
    rc = ps_secret_resolve(ctx, raw, false, 0, "key", &plain, &em);
    if (rc != PS_OK) {
        /* ps_secret names the field first; the diagnostic already has the path. */
        pl_cerr(c, n, path, "%s", strncmp(em.text, "key: ", 5) == 0 ? em.text + 5 : em.text);
        return false;
    }
    if (strlen(plain) < REDACT_MIN_KEY) {
        ps_secret_free(plain);
        pl_cerr(c, n, path, "the key must be at least %d bytes long", REDACT_MIN_KEY);
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
        pl_cerr(c, n, path, "HMAC-SHA256 is not available from OpenSSL");
        return false;
    }
    ps_secret_free(plain);
    if (!strstr(raw, "${") && !strstr(raw, "$secret{"))
        pl_cwarn(c, n, path,
                 "the key is written in the file; keep it out of the configuration with "
                 "$secret{name} or ${VAR}");
    return true;
}

/* The options that only apply to one mode. */
static bool compile_mode(cctx *c, const pl_opts *o, redact_state *st)
{
    char sub[PL_DPATH];
    const ps_yaml_node *n, *kn = pl_opt(o, "key", sub, sizeof sub);
    const char *s;
    bool ok = true;
    if (st->rmode == R_HASH) {
        if (!kn) {
            pl_cerr(c, o->at, o->ppath,
                    "redact with mode: hash needs a key (e.g. key: \"$secret{redact}\"); "
                    "without one the hashes could be reversed by hashing guesses");
            return false;
        }
        ok = resolve_key(c, kn, sub, st) && ok;
    } else if (kn) {
        pl_cerr(c, kn, sub, "key is only used with mode: hash");
        ok = false;
    }
    if ((n = pl_opt(o, "replacement", sub, sizeof sub))) {
        if (st->rmode != R_MASK) {
            pl_cerr(c, n, sub, "replacement is only used with mode: mask");
            ok = false;
        } else if (!pl_opt_text(c, n, sub, &s) || !(st->replacement = pl_dupstr(s))) {
            ok = false;
        }
    } else if (st->rmode == R_MASK && !(st->replacement = pl_dupstr("***"))) {
        return pl_oom(c, o->at, o->ppath);
    }
    if ((n = ps_yaml_map_get(o->m, "length")) && st->rmode == R_MASK) {
        pl_cerr(c, n, o->ppath, "length is only used with mode: hash");
        ok = false;
    }
    return ok;
}

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    redact_state *st = p->state;
    char sub[PL_DPATH];
    const ps_yaml_node *n = pl_opt(o, "field", sub, sizeof sub);
    bool ok = pl_opt_fields(c, n, sub, &st->fields, &st->nfields);
    return compile_mode(c, o, st) && ok;
}

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
static bool redact_piece(const redact_state *p, sbuf *b, const char *s, size_t len, bool fold)
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
        return pl_sb_str(b, p->replacement);
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
    return pl_sb_str(b, out);
}

/* Writes the redacted form of s into b. With part local/domain, every address in
 * the text (a@b.c, also inside "Name <a@b.c>" or lists) has that part replaced and
 * the rest of the text is kept. */
static bool redact_text(const redact_state *p, sbuf *b, const char *s)
{
    size_t len = strlen(s), i = 0, done = 0;
    b->len = 0;
    if (!pl_sb_put(b, "", 0))
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
            if (!pl_sb_put(b, s + done, ls - done) || !redact_piece(p, b, s + ls, a - ls, true) ||
                !pl_sb_put(b, s + a, de - a))
                return false;
        } else {
            if (!pl_sb_put(b, s + done, a + 1 - done) ||
                !redact_piece(p, b, s + a + 1, de - a - 1, true))
                return false;
        }
        done = i = de;
    }
    return pl_sb_put(b, s + done, len - done);
}

static int redact_one(rctx *r, const proc *p, cJSON *v)
{
    sbuf *b = &r->sc->buf;
    char *copy;
    if (!redact_text(p->state, b, v->valuestring))
        return pl_nomem(r, p);
    if (strcmp(b->p, v->valuestring) == 0)
        return R_OK;
    if (!(copy = cJSON_malloc(b->len + 1)))
        return pl_nomem(r, p);
    memcpy(copy, b->p, b->len + 1);
    /* cJSON_SetValuestring in 1.7.15 cannot grow a string; swap the buffer. */
    cJSON_free(v->valuestring);
    v->valuestring = copy;
    r->res->modified = true;
    return R_OK;
}

static int run(rctx *r, const proc *p)
{
    const redact_state *st = p->state;
    cJSON *v, *it;
    size_t i;
    if (st->rmode == R_HASH && !st->mac)
        return pl_fail(r, p, NULL, NULL,
                       "the key was not resolved (pipelines compiled without secrets)");
    for (size_t f = 0; f < st->nfields; f++) {
        int rc = pl_field_for_update(r, p, "field", &st->fields[f], &v);
        if (rc != R_OK)
            return rc;
        if (!v)
            continue;
        i = 0;
        if (cJSON_IsArray(v)) {
            cJSON_ArrayForEach(it, v)
            {
                if (!cJSON_IsString(it))
                    return pl_fail(r, p, "field", st->fields[f].text,
                                   "element %zu is a %s, not a string", i, pl_json_kind(it));
                i++;
            }
        } else if (!cJSON_IsString(v)) {
            return pl_fail(r, p, "field", st->fields[f].text, "is a %s, not a string",
                           pl_json_kind(v));
        }
    }
    /* Everything checked: now change. */
    for (size_t f = 0; f < st->nfields; f++) {
        char err[8];
        if (pl_get(r->event, &st->fields[f], &v, err, sizeof err) != W_FOUND)
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

static void free_state(void *state)
{
    redact_state *st = state;
    pl_fpaths_free(st->fields, st->nfields);
    free(st->replacement);
    EVP_MAC_CTX_free(st->mac);
}

const ps_processor_def pl_proc_redact = {
    {"redact",
     "Masks or hashes strings, or the parts of e-mail addresses inside them. The hash is "
     "HMAC-SHA256 with your key.",
     &table},
    sizeof(redact_state),
    "mode",
    compile,
    run,
    free_state,
};
