/* ps_store text: values cut to their columns, normalisation, hashed tokens and the
 * full-text entry (see ps_store_text.h). */
#include <stdlib.h>
#include <string.h>

#include "store/ps_store_text.h"

const char *const ps_store_field_col[PS_EF__COUNT] = {
    "sender",    "recipients", "subject",    "disposition", "action",      "module",  "rule",
    "direction", "qid",        "message_id", "client_ip",   "client_host", "country", "stat",
    "dsn",       "relay",      "actor",      "resource",    "result",
};

/* ---- normalisation and hashed tokens ------------------------------------------ */

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

size_t ps_store_norm_msgid(const char *s, size_t len, char *buf, size_t buflen)
{
    trim(&s, &len);
    if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
        s++;
        len -= 2;
        trim(&s, &len);
    }
    if (len >= buflen)
        return (size_t)-1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return len;
}

size_t ps_store_norm_addr(const char *s, size_t len, char *buf, size_t buflen)
{
    size_t n = ps_store_norm_msgid(s, len, buf, buflen);
    if (n == (size_t)-1)
        return n;
    for (size_t i = 0; i < n; i++)
        if (buf[i] >= 'A' && buf[i] <= 'Z')
            buf[i] = (char)(buf[i] - 'A' + 'a');
    return n;
}

/* FNV-1a with a final avalanche. The tokens it makes are stored in the full-text
 * index, so this function is part of the schema: never change it. */
uint64_t ps_store_hash64(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void ps_store_hash_token(char prefix, const char *value, size_t len, char *buf)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint64_t h = ps_store_hash64(value, len);
    buf[0] = prefix;
    /* 2^20 buckets per kind. Unique tokens would make the index hold one term
     * per event and merge them over and over; buckets bound the number of terms,
     * and every candidate a bucket yields is compared exactly anyway. At 100
     * million events a queue id lookup confirms a few dozen candidates. */
    for (int i = 0; i < PS_HASH_TOKEN_LEN - 1; i++)
        buf[1 + i] = b32[(h >> (5 * i)) & 31];
    buf[PS_HASH_TOKEN_LEN] = '\0';
}

/* ---- the full-text document ----------------------------------------------------- */

static ps_err doc_append(ps_store_doc *doc, const char *s, size_t len)
{
    if (doc->len > 0) {
        ps_err err = ps_buf_putc(doc, ' ');
        if (err != PS_OK)
            return err;
    }
    return ps_buf_append(doc, s, len);
}

static ps_err doc_token(ps_store_doc *doc, char prefix, const char *v, size_t len, bool addr)
{
    char norm[1024];
    char tok[12];
    size_t n = addr ? ps_store_norm_addr(v, len, norm, sizeof norm)
                    : ps_store_norm_msgid(v, len, norm, sizeof norm);
    if (n == (size_t)-1 || n == 0)
        return PS_OK; /* unmatchable by an exact filter anyway */
    ps_store_hash_token(prefix, norm, n, tok);
    return doc_append(doc, tok, PS_HASH_TOKEN_LEN);
}

ps_err ps_store_fts_doc(ps_store_doc *doc, const char *key, const char *const text[PS_EF__COUNT],
                        ps_errmsg *em)
{
    /* Ids (key, qid, message-id) are random strings: as words they would add a
     * unique term per event for nothing a person searches by words. They are
     * indexed only as hashed exact-match tokens. */
    static const ps_event_field words[] = {
        PS_EF_SUBJECT,  PS_EF_SENDER, PS_EF_RECIPIENTS, PS_EF_DISPOSITION, PS_EF_ACTION,
        PS_EF_MODULE,   PS_EF_RULE,   PS_EF_DIRECTION,  PS_EF_CLIENT_IP,   PS_EF_CLIENT_HOST,
        PS_EF_COUNTRY,  PS_EF_STAT,   PS_EF_DSN,        PS_EF_RELAY,       PS_EF_ACTOR,
        PS_EF_RESOURCE, PS_EF_RESULT,
    };
    ps_err err = PS_OK;
    doc->len = 0;
    if (doc->p)
        doc->p[0] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0] && err == PS_OK; i++) {
        const char *v = text[words[i]];
        if (v && *v)
            err = doc_append(doc, v, strlen(v));
    }
    if (err == PS_OK && key)
        err = doc_token(doc, 'g', key, strlen(key), false);
    if (err == PS_OK && text[PS_EF_QID])
        err = doc_token(doc, 'q', text[PS_EF_QID], strlen(text[PS_EF_QID]), false);
    if (err == PS_OK && text[PS_EF_MESSAGE_ID])
        err = doc_token(doc, 'm', text[PS_EF_MESSAGE_ID], strlen(text[PS_EF_MESSAGE_ID]), false);
    if (err == PS_OK && text[PS_EF_SENDER])
        err = doc_token(doc, 'f', text[PS_EF_SENDER], strlen(text[PS_EF_SENDER]), true);
    if (err == PS_OK && text[PS_EF_RECIPIENTS]) {
        const char *p = text[PS_EF_RECIPIENTS];
        while (err == PS_OK && *p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            err = doc_token(doc, 't', p, n, true);
            p += n;
            if (*p == ',')
                p++;
        }
    }
    if (err == PS_OK && !doc->p)
        err = doc_append(doc, "", 0);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "building the full-text entry: out of memory");
    return PS_OK;
}
