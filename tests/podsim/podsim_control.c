/* podsim_control: the loopback HTTP endpoint that scripts scenarios (clock, faults,
 * tokens, options) and reports counters and the timeline. Every answer is JSON
 * except /timeline/keys, which uses the sent-log's line format so that tests can
 * compare the two files directly. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "podsim.h"

#define KEYS_LIMIT_DEFAULT 2000000ULL

static void bprintf(psim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(psim_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !psim_buf_reserve(b, (size_t)n + 1)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A JSON string literal of s (ASCII control characters escaped). */
static void bjson(psim_buf *b, const char *s)
{
    psim_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            psim_buf_append(b, e, 2);
        } else if (ch < 0x20) {
            bprintf(b, "\\u%04x", ch);
        } else {
            psim_buf_append(b, s, 1);
        }
    }
    psim_buf_append(b, "\"", 1);
}

static void respond(psim_conn *c, int status, const char *ctype, const psim_buf *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, psim_http_reason(status), ctype, body->len);
    psim_conn_queue(c, head, (size_t)n);
    psim_conn_queue(c, body->data, body->len);
}

static void respond_error(psim_conn *c, int status, const char *msg)
{
    psim_buf b;
    psim_buf_init(&b);
    bprintf(&b, "{\"error\": ");
    bjson(&b, msg);
    bprintf(&b, "}\n");
    respond(c, status, "application/json", &b);
    psim_buf_deinit(&b);
}

static void respond_json(psim_conn *c, psim_buf *b)
{
    psim_buf_append(b, "\n", 1);
    respond(c, 200, "application/json", b);
}

/* ---- argument parsing --------------------------------------------------------- */

typedef struct args {
    const char *query;
    char err[256];
} args;

static bool arg_double(args *a, const char *name, double lo, double hi, double *out)
{
    char v[64];
    if (!psim_query_get(a->query, name, v, sizeof v)) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(d) || d < lo || d > hi) {
        snprintf(a->err, sizeof a->err, "%s must be a number from %g to %g", name, lo, hi);
        return false;
    }
    *out = d;
    return true;
}

static bool arg_time(args *a, const char *name, int64_t *out)
{
    char v[128];
    if (!psim_query_get(a->query, name, v, sizeof v)) {
        return false;
    }
    if (!psim_parse_iso(v, out)) {
        snprintf(a->err, sizeof a->err, "%s is not an ISO 8601 time", name);
        return false;
    }
    return true;
}

static bool arg_type(args *a, psim_type *out)
{
    char v[32];
    if (!psim_query_get(a->query, "type", v, sizeof v)) {
        return false;
    }
    if (!psim_type_parse(v, out)) {
        snprintf(a->err, sizeof a->err, "type must be message, maillog or audit");
        return false;
    }
    return true;
}

/* ---- JSON views --------------------------------------------------------------- */

static void put_time(psim_buf *b, const char *key, int64_t us)
{
    char t[40];
    psim_format_utc(us, t, sizeof t);
    bprintf(b, "\"%s\": \"%s\", \"%s_us\": %lld", key, t, key, (long long)us);
}

static void put_counters(psim_buf *b, const psim_server *s)
{
    const psim_counters *k = &s->ctr;
    bprintf(b, "{\"sent\": {");
    for (int t = 0; t < PSIM_TYPES; t++) {
        bprintf(b, "%s\"%s\": %llu", t ? ", " : "", psim_type_name((psim_type)t),
                (unsigned long long)k->sent[t]);
    }
    bprintf(b, "}, \"duplicates\": {");
    for (int t = 0; t < PSIM_TYPES; t++) {
        bprintf(b, "%s\"%s\": %llu", t ? ", " : "", psim_type_name((psim_type)t),
                (unsigned long long)k->dups[t]);
    }
    bprintf(b,
            "}, \"bytes\": %llu, \"sessions\": {\"live\": %llu, \"archive\": %llu, \"resumed\": "
            "%llu}, \"gap_events\": %llu, \"responses\": {\"101\": %llu, \"400\": %llu, \"401\": "
            "%llu, \"404\": %llu, \"405\": %llu, \"409\": %llu, \"other\": %llu}, \"pings\": %llu, "
            "\"faults\": %llu, \"idle_drops\": %llu, \"archive_done\": %llu}",
            (unsigned long long)k->bytes, (unsigned long long)k->sessions_live,
            (unsigned long long)k->sessions_archive, (unsigned long long)k->resumed,
            (unsigned long long)k->gap_events, (unsigned long long)k->status[0],
            (unsigned long long)k->status[1], (unsigned long long)k->status[2],
            (unsigned long long)k->status[3], (unsigned long long)k->status[4],
            (unsigned long long)k->status[5], (unsigned long long)k->status_other,
            (unsigned long long)k->pings, (unsigned long long)k->faults,
            (unsigned long long)k->idle_drops, (unsigned long long)k->archive_done);
}

static void put_clock(psim_buf *b, const psim_server *s)
{
    bprintf(b, "{");
    put_time(b, "now", psim_sim_now(s));
    bprintf(b, ", \"speed\": %g}", s->speed);
}

static const char *state_name(psim_conn_state st)
{
    switch (st) {
    case CS_STREAM:
        return "streaming";
    case CS_CLOSING:
        return "closing";
    default:
        return "handshake";
    }
}

static void put_sessions(psim_buf *b, const psim_server *s)
{
    bprintf(b, "[");
    bool first = true;
    int64_t now_ms = psim_mono_ms();
    for (const psim_conn *c = s->conns; c != NULL; c = c->next_conn) {
        if (!c->session) {
            continue;
        }
        bprintf(b, "%s{\"id\": %u, \"peer\": \"%s\", \"state\": \"%s\", \"mode\": \"%s\", ",
                first ? "" : ", ", c->id, c->peer, state_name(c->state),
                c->archive ? "archive" : "live");
        bprintf(b, "\"type\": \"%s\", \"cid\": ", psim_type_name(c->type));
        bjson(b, c->tl->cluster);
        bprintf(b, ", \"user_agent\": ");
        bjson(b, c->user_agent);
        bprintf(b, ", \"extensions\": ");
        bjson(b, c->extensions);
        bprintf(b, ", \"compressed\": %s", c->zs != NULL ? "true" : "false");
        bprintf(b,
                ", \"token\": %zu, \"tls\": %s, \"start_index\": %llu, \"next_index\": %llu, "
                "\"written_next\": %llu, \"events\": %llu, \"duplicates\": %llu, \"idle\": %s",
                c->token_idx + 1, c->ssl ? "true" : "false", (unsigned long long)c->start_index,
                (unsigned long long)c->next, (unsigned long long)c->written_next,
                (unsigned long long)c->events_written, (unsigned long long)c->dups_written,
                c->idle_until_ms > now_ms ? "true" : "false");
        if (c->archive) {
            bprintf(b, ", ");
            put_time(b, "since", c->since_us);
            if (c->has_to) {
                bprintf(b, ", ");
                put_time(b, "to", c->to_us);
            }
        }
        bprintf(b, "}");
        first = false;
    }
    bprintf(b, "]");
}

static void put_positions(psim_buf *b, psim_server *s)
{
    bprintf(b, "[");
    bool first = true;
    int64_t now_ms = psim_mono_ms();
    for (size_t t = 0; t < s->cfg->ntokens; t++) {
        for (int ty = 0; ty < PSIM_TYPES; ty++) {
            psim_slot *sl = psim_slot_of(s, t, (psim_type)ty);
            if (!sl->has_position && sl->active == 0 && sl->hold_until_ms <= now_ms) {
                continue;
            }
            bprintf(b, "%s{\"token\": %zu, \"cid\": ", first ? "" : ", ", t + 1);
            bjson(b, s->cfg->tokens[t].cluster);
            bprintf(b, ", \"type\": \"%s\", \"active\": %d, \"held_ms\": %lld",
                    psim_type_name((psim_type)ty), sl->active,
                    (long long)(sl->hold_until_ms > now_ms ? sl->hold_until_ms - now_ms : 0));
            if (sl->has_position) {
                bprintf(b, ", \"next_index\": %llu, ", (unsigned long long)sl->next);
                put_time(b, "dropped", sl->drop_sim_us);
            }
            bprintf(b, "}");
            first = false;
        }
    }
    bprintf(b, "]");
}

static void put_options(psim_buf *b, const psim_config *cfg)
{
    bprintf(b,
            "{\"binary\": %s, \"fragment\": %zu, \"dup_rate\": %g, \"idle_timeout\": %g, "
            "\"hold\": %g, \"max_sessions\": %d, \"archive_stale\": %g, \"compress\": %s, "
            "\"rate\": ",
            cfg->binary ? "true" : "false", cfg->fragment, cfg->dup_rate,
            (double)cfg->idle_timeout_ms / 1000, (double)cfg->hold_ms / 1000, cfg->max_sessions,
            (double)cfg->archive_stale_us / 1e6, cfg->compress ? "true" : "false");
    if (cfg->rate_max) {
        bprintf(b, "\"max\"");
    } else {
        bprintf(b, "%g", cfg->rate);
    }
    bprintf(b, ", \"seed\": %llu, \"disorder\": %g, \"disorder_max\": %g, \"count\": ",
            (unsigned long long)cfg->seed, cfg->disorder, (double)cfg->disorder_max_us / 1e6);
    if (cfg->count == PSIM_UNBOUNDED) {
        bprintf(b, "null");
    } else {
        bprintf(b, "%llu", (unsigned long long)cfg->count);
    }
    bprintf(b, "}");
}

/* ---- session selection and faults --------------------------------------------- */

typedef struct selection {
    psim_conn *c[256];
    size_t n;
} selection;

/* Sessions matching session=, type=, cid= and token= (all optional). */
static bool select_sessions(psim_server *s, args *a, selection *sel)
{
    sel->n = 0;
    char v[512];
    long id = -1;
    psim_type type = PSIM_MESSAGE;
    bool by_type = arg_type(a, &type);
    if (a->err[0]) {
        return false;
    }
    if (psim_query_get(a->query, "session", v, sizeof v)) {
        char *end = NULL;
        id = strtol(v, &end, 10);
        if (v[0] == '\0' || *end != '\0' || id <= 0) {
            snprintf(a->err, sizeof a->err, "session must be a session id");
            return false;
        }
    }
    char cid[256];
    bool by_cid = psim_query_get(a->query, "cid", cid, sizeof cid);
    char tok[8192];
    bool by_tok = psim_query_get(a->query, "token", tok, sizeof tok);
    for (psim_conn *c = s->conns; c != NULL && sel->n < 256; c = c->next_conn) {
        if (!c->session || c->state != CS_STREAM) {
            continue;
        }
        if ((id > 0 && c->id != (unsigned)id) || (by_type && c->type != type) ||
            (by_cid && strcmp(c->tl->cluster, cid) != 0) ||
            (by_tok && !psim_token_matches(&s->cfg->tokens[c->token_idx], tok))) {
            continue;
        }
        sel->c[sel->n++] = c;
    }
    return true;
}

static void respond_affected(psim_conn *rc, const selection *sel)
{
    psim_buf b;
    psim_buf_init(&b);
    bprintf(&b, "{\"ok\": true, \"affected\": [");
    for (size_t k = 0; k < sel->n; k++) {
        bprintf(&b, "%s%u", k ? ", " : "", sel->c[k]->id);
    }
    bprintf(&b, "]}");
    respond_json(rc, &b);
    psim_buf_deinit(&b);
}

/* Protocol-level garbage a robust client must survive (by closing with 1002). */
static bool malformed_frame(const char *kind, psim_conn *c)
{
    static const unsigned char rsv[] = {0xC1, 0x02, '{', '}'};
    static const unsigned char opcode[] = {0x83, 0x00};
    static const unsigned char masked[] = {0x81, 0x82, 1, 2, 3, 4, '{' ^ 1, '}' ^ 2};
    static const unsigned char badlen[] = {0x81, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0x02};
    static const unsigned char cont[] = {0x80, 0x02, '{', '}'};
    static const unsigned char ctlfrag[] = {0x09, 0x00};
    struct {
        const char *name;
        const unsigned char *bytes;
        size_t n;
    } kinds[] = {{"rsv", rsv, sizeof rsv},
                 {"opcode", opcode, sizeof opcode},
                 {"masked", masked, sizeof masked},
                 {"length", badlen, sizeof badlen},
                 {"continuation", cont, sizeof cont},
                 {"control-fragment", ctlfrag, sizeof ctlfrag}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (strcmp(kind, kinds[k].name) == 0) {
            psim_conn_queue(c, kinds[k].bytes, kinds[k].n);
            return true;
        }
    }
    return false;
}

static void handle_fault(psim_server *s, psim_conn *rc, const char *what, args *a)
{
    selection sel;
    psim_config *cfg = s->cfg;
    double secs = 0;
    double num = 0;
    char v[256];
    if (!select_sessions(s, a, &sel)) {
        respond_error(rc, 400, a->err);
        return;
    }
    int64_t now_ms = psim_mono_ms();
    if (strcmp(what, "drop") == 0) {
        bool hold = arg_double(a, "hold", 0, 86400, &secs);
        if (a->err[0]) {
            goto bad;
        }
        for (size_t k = 0; k < sel.n; k++) {
            psim_conn_abort(s, sel.c[k], true, hold ? (int64_t)(secs * 1000) : 0,
                            "fault: TCP reset");
        }
    } else if (strcmp(what, "idle") == 0) {
        if (!arg_double(a, "secs", 0, 86400, &secs)) {
            if (!a->err[0]) {
                snprintf(a->err, sizeof a->err, "secs is required");
            }
            goto bad;
        }
        bool pongs = true;
        if (psim_query_get(a->query, "pongs", v, sizeof v)) {
            if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
                snprintf(a->err, sizeof a->err, "pongs must be 0 or 1");
                goto bad;
            }
            pongs = v[0] == '1';
        }
        for (size_t k = 0; k < sel.n; k++) {
            sel.c[k]->idle_until_ms = now_ms + (int64_t)(secs * 1000);
            sel.c[k]->idle_pongs = pongs;
        }
    } else if (strcmp(what, "close") == 0) {
        if (!arg_double(a, "code", 1000, 4999, &num) || num != floor(num)) {
            snprintf(a->err, sizeof a->err, "code must be a close code from 1000 to 4999");
            goto bad;
        }
        char reason[124] = "";
        psim_query_get(a->query, "reason", reason, sizeof reason);
        for (size_t k = 0; k < sel.n; k++) {
            psim_ws_close(s, sel.c[k], (unsigned)num, reason);
        }
    } else if (strcmp(what, "frame") == 0) {
        if (!psim_query_get(a->query, "kind", v, sizeof v)) {
            snprintf(a->err, sizeof a->err, "kind is required");
            goto bad;
        }
        for (size_t k = 0; k < sel.n; k++) {
            if (!malformed_frame(v, sel.c[k])) {
                snprintf(a->err, sizeof a->err,
                         "kind must be rsv, opcode, masked, length, continuation or "
                         "control-fragment");
                goto bad;
            }
        }
    } else if (strcmp(what, "utf8") == 0) {
        /* Shaped like an event so that only the UTF-8 check can reject it. */
        static const char bad[] = "{\"guid\":\"podsim-invalid-utf8\",\"ts\":\"2025-01-01T00:00:"
                                  "00.000000-0000\",\"msg\":{\"header\":{\"subject\":[\"caf\xC3"
                                  "\x28 \xFF\xFE\"]}}}";
        for (size_t k = 0; k < sel.n; k++) {
            psim_ws_frame(sel.c[k], 1, true, bad, sizeof bad - 1);
        }
    } else if (strcmp(what, "badjson") == 0) {
        static const char bad[] = "{\"guid\":\"podsim-truncated\",\"ts\":\"2025-01-01T00:00:00";
        for (size_t k = 0; k < sel.n; k++) {
            psim_ws_frame(sel.c[k], 1, true, bad, sizeof bad - 1);
        }
    } else if (strcmp(what, "empty") == 0) {
        /* What POD sends when a cluster has no events (Proofpoint's Splunk add-on
         * reads it so): an empty text frame; count=N sends N, alternating with a
         * whitespace-only one. */
        num = 1;
        if (psim_query_get(a->query, "count", v, sizeof v) &&
            (!arg_double(a, "count", 1, 1000, &num) || num != floor(num))) {
            snprintf(a->err, sizeof a->err, "count must be from 1 to 1000");
            goto bad;
        }
        for (size_t k = 0; k < sel.n; k++) {
            for (int j = 0; j < (int)num; j++) {
                psim_ws_frame(sel.c[k], 1, true, j % 2 ? " \r\n" : "", j % 2 ? 3 : 0);
            }
        }
    } else if (strcmp(what, "oversize") == 0) {
        if (!arg_double(a, "bytes", 1024, 256.0 * 1024 * 1024, &num)) {
            if (!a->err[0]) {
                snprintf(a->err, sizeof a->err, "bytes is required");
            }
            goto bad;
        }
        for (size_t k = 0; k < sel.n; k++) {
            sel.c[k]->pad_next = (size_t)num;
        }
    } else if (strcmp(what, "close-drop") == 0) {
        if (!arg_double(a, "events", 1, 100000, &num) || num != floor(num)) {
            snprintf(a->err, sizeof a->err, "events must be a count from 1 to 100000");
            goto bad;
        }
        for (size_t k = 0; k < sel.n; k++) {
            sel.c[k]->close_drop = (size_t)num;
        }
    } else if (strcmp(what, "ping") == 0) {
        for (size_t k = 0; k < sel.n; k++) {
            psim_ws_frame(sel.c[k], 9, true, "podsim", 6);
        }
    } else {
        respond_error(rc, 404,
                      "unknown fault: use drop, idle, close, frame, utf8, badjson, "
                      "empty, oversize, close-drop or ping");
        return;
    }
    (void)cfg;
    s->ctr.faults += sel.n;
    psim_log(s, 1, "fault %s applied to %zu session(s)", what, sel.n);
    respond_affected(rc, &sel);
    return;
bad:
    respond_error(rc, 400, a->err);
}

/* ---- timeline ----------------------------------------------------------------- */

/* Events with ts in [from, to) that have occurred by now (all of them with --rate
 * max), as sent-log lines or a count. */
static void handle_timeline(psim_server *s, psim_conn *rc, args *a, bool keys)
{
    char cid[256];
    psim_type type;
    if (!psim_query_get(a->query, "cid", cid, sizeof cid) || !arg_type(a, &type)) {
        respond_error(rc, 400, a->err[0] ? a->err : "cid and type are required");
        return;
    }
    const psim_timeline *tl = psim_timeline_by_cluster(s, cid, type);
    if (tl == NULL) {
        respond_error(rc, 404, "no token is configured for this cid");
        return;
    }
    int64_t now = psim_sim_now(s);
    int64_t from = INT64_MIN;
    int64_t to = INT64_MAX;
    bool has_from = arg_time(a, "from", &from);
    bool has_to = arg_time(a, "to", &to);
    double lim = (double)KEYS_LIMIT_DEFAULT;
    arg_double(a, "limit", 1, 1e9, &lim);
    if (a->err[0]) {
        respond_error(rc, 400, a->err);
        return;
    }
    psim_buf b;
    psim_buf_init(&b);
    uint64_t n = 0;
    uint64_t first = UINT64_MAX;
    uint64_t last = 0;
    /* ts never exceeds the occurrence time and lags it by at most disorder_max, so
     * the scan can start at `from` and stop once occurrences pass `to` + that lag. */
    for (uint64_t i = has_from ? psim_index_at(tl, from) : 0; i < tl->count; i++) {
        int64_t occ = psim_occurs_us(tl, i);
        /* With --rate max live sessions run ahead of the clock: the whole timeline
         * exists at once. */
        if ((occ > now && !s->cfg->rate_max) || (has_to && occ - tl->disorder_max_us >= to)) {
            break;
        }
        int64_t ts = psim_ts_us(tl, i);
        if (ts < from || ts >= to) {
            continue;
        }
        if (first == UINT64_MAX) {
            first = i;
        }
        last = i;
        n++;
        if (keys) {
            if ((double)n > lim) {
                psim_buf_deinit(&b);
                respond_error(rc, 413, "more events than limit; narrow from/to or raise limit");
                return;
            }
            psim_event_info info;
            psim_event_key(tl, i, &info);
            bprintf(&b, "%s\t%s\t%s\n", psim_type_name(type), info.key, info.ts);
        }
    }
    if (keys) {
        respond(rc, 200, "text/tab-separated-values", &b);
    } else {
        bprintf(&b, "{\"cid\": ");
        bjson(&b, cid);
        bprintf(&b, ", \"type\": \"%s\", \"count\": %llu", psim_type_name(type),
                (unsigned long long)n);
        if (n > 0) {
            bprintf(&b, ", \"first_index\": %llu, \"last_index\": %llu", (unsigned long long)first,
                    (unsigned long long)last);
        }
        bprintf(&b, ", ");
        put_time(&b, "now", now);
        bprintf(&b, "}");
        respond_json(rc, &b);
    }
    psim_buf_deinit(&b);
}

/* ---- dispatch ----------------------------------------------------------------- */

static bool set_bool(args *a, const char *name, bool *out)
{
    char v[16];
    if (!psim_query_get(a->query, name, v, sizeof v)) {
        return false;
    }
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
        snprintf(a->err, sizeof a->err, "%s must be 0 or 1", name);
        return false;
    }
    *out = v[0] == '1';
    return true;
}

static void handle_options(psim_server *s, psim_conn *rc, args *a, bool post)
{
    psim_config *cfg = s->cfg;
    if (post) {
        double d;
        bool bin = cfg->binary;
        bool zip = cfg->compress;
        set_bool(a, "binary", &bin);
        if (!a->err[0]) {
            cfg->binary = bin;
        }
        set_bool(a, "compress", &zip);
        if (!a->err[0]) {
            cfg->compress = zip; /* for sessions that start from now on */
        }
        if (!a->err[0] && arg_double(a, "fragment", 0, 1 << 30, &d)) {
            cfg->fragment = (size_t)d;
        }
        if (!a->err[0] && arg_double(a, "dup_rate", 0, 1, &d)) {
            cfg->dup_rate = d;
        }
        if (!a->err[0] && arg_double(a, "idle_timeout", 0, 86400, &d)) {
            cfg->idle_timeout_ms = (int64_t)(d * 1000);
        }
        if (!a->err[0] && arg_double(a, "hold", 0, 86400, &d)) {
            cfg->hold_ms = (int64_t)(d * 1000);
        }
        if (!a->err[0] && arg_double(a, "max_sessions", 1, 1000, &d)) {
            cfg->max_sessions = (int)d;
        }
        if (!a->err[0] && arg_double(a, "archive_stale", 0, 86400 * 30, &d)) {
            cfg->archive_stale_us = (int64_t)(d * 1e6);
        }
        if (a->err[0]) {
            respond_error(rc, 400, a->err);
            return;
        }
        psim_log(s, 1, "options changed");
    }
    psim_buf b;
    psim_buf_init(&b);
    put_options(&b, cfg);
    respond_json(rc, &b);
    psim_buf_deinit(&b);
}

static void handle_clock(psim_server *s, psim_conn *rc, const char *what, args *a)
{
    double d;
    int64_t t;
    int64_t now = psim_sim_now(s);
    if (strcmp(what, "advance") == 0) {
        if (!arg_double(a, "secs", 0, 400.0 * 86400, &d)) {
            respond_error(rc, 400, a->err[0] ? a->err : "secs is required");
            return;
        }
        psim_clock_set(s, now + (int64_t)(d * 1e6), s->speed);
    } else if (strcmp(what, "set") == 0) {
        if (!arg_time(a, "time", &t)) {
            respond_error(rc, 400, a->err[0] ? a->err : "time is required");
            return;
        }
        psim_clock_set(s, t, s->speed);
    } else if (strcmp(what, "speed") == 0) {
        if (!arg_double(a, "factor", 0, 1e6, &d)) {
            respond_error(rc, 400, a->err[0] ? a->err : "factor is required");
            return;
        }
        psim_clock_set(s, now, d);
    } else {
        respond_error(rc, 404, "unknown clock action: use advance, set or speed");
        return;
    }
    char txt[40];
    psim_format_utc(psim_sim_now(s), txt, sizeof txt);
    psim_log(s, 1, "clock %s: now %s, speed %g", what, txt, s->speed);
    psim_buf b;
    psim_buf_init(&b);
    put_clock(&b, s);
    respond_json(rc, &b);
    psim_buf_deinit(&b);
}

/* Applies to every entry holding this token value (a token may serve several
 * clusters). */
static void handle_token(psim_server *s, psim_conn *rc, const char *what, args *a)
{
    char v[8192];
    if (!psim_query_get(a->query, "token", v, sizeof v)) {
        respond_error(rc, 400, "token is required");
        return;
    }
    bool revoke = strcmp(what, "revoke") == 0;
    if (!revoke && strcmp(what, "restore") != 0) {
        respond_error(rc, 404, "unknown token action: use revoke or restore");
        return;
    }
    psim_buf b;
    psim_buf_init(&b);
    bprintf(&b, "{\"ok\": true, \"tokens\": [");
    size_t n = 0;
    for (size_t t = 0; t < s->cfg->ntokens; t++) {
        if (psim_token_matches(&s->cfg->tokens[t], v)) {
            s->cfg->tokens[t].revoked = revoke;
            bprintf(&b, "%s%zu", n++ ? ", " : "", t + 1);
            psim_log(s, 1, "token #%zu %s", t + 1, revoke ? "revoked" : "restored");
        }
    }
    OPENSSL_cleanse(v, sizeof v);
    if (n == 0) {
        psim_buf_deinit(&b);
        respond_error(rc, 404, "token is not configured");
        return;
    }
    bprintf(&b, "], \"revoked\": %s}", revoke ? "true" : "false");
    respond_json(rc, &b);
    psim_buf_deinit(&b);
}

static void handle_positions_reset(psim_server *s, psim_conn *rc, args *a)
{
    psim_type type = PSIM_MESSAGE;
    bool by_type = arg_type(a, &type);
    if (a->err[0]) {
        respond_error(rc, 400, a->err);
        return;
    }
    for (size_t t = 0; t < s->cfg->ntokens; t++) {
        for (int ty = 0; ty < PSIM_TYPES; ty++) {
            if (by_type && ty != (int)type) {
                continue;
            }
            psim_slot *sl = psim_slot_of(s, t, (psim_type)ty);
            sl->has_position = false;
            sl->hold_until_ms = 0;
        }
    }
    psim_buf b;
    psim_buf_init(&b);
    bprintf(&b, "{\"ok\": true}");
    respond_json(rc, &b);
    psim_buf_deinit(&b);
}

void psim_control_handle(psim_server *s, psim_conn *c, const char *method, const char *path,
                         const char *query)
{
    args a = {.query = query, .err = ""};
    bool get = strcmp(method, "GET") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (!get && !post) {
        respond_error(c, 405, "use GET to read and POST to change");
        return;
    }
    bool read_only = strcmp(path, "/") == 0 || strcmp(path, "/status") == 0 ||
                     strcmp(path, "/stats") == 0 || strcmp(path, "/sessions") == 0 ||
                     strcmp(path, "/positions") == 0 || strcmp(path, "/clock") == 0 ||
                     strcmp(path, "/timeline/count") == 0 || strcmp(path, "/timeline/keys") == 0;
    bool changes = strncmp(path, "/clock/", 7) == 0 || strncmp(path, "/fault/", 7) == 0 ||
                   strncmp(path, "/token/", 7) == 0 || strcmp(path, "/positions/reset") == 0 ||
                   strcmp(path, "/shutdown") == 0;
    if (!read_only && !changes && strcmp(path, "/options") != 0) {
        respond_error(c, 404, "unknown path; see docs/podsim.md");
        return;
    }
    if (read_only && !get) {
        respond_error(c, 405, "this path is read-only: use GET");
        return;
    }
    if (changes && !post) {
        respond_error(c, 405, "this path changes state: use POST");
        return;
    }
    psim_buf b;
    psim_buf_init(&b);
    if (strcmp(path, "/") == 0 || strcmp(path, "/status") == 0) {
        bprintf(&b,
                "{\"version\": \"%s\", \"ports\": {\"ws\": %d, \"wss\": %d, \"control\": %d}, "
                "\"clock\": ",
                PSIM_VERSION, s->ws_port, s->wss_port, s->ctl_port);
        put_clock(&b, s);
        bprintf(&b, ", \"options\": ");
        put_options(&b, s->cfg);
        bprintf(&b, ", \"counters\": ");
        put_counters(&b, s);
        bprintf(&b, ", \"sessions\": ");
        put_sessions(&b, s);
        bprintf(&b, ", \"positions\": ");
        put_positions(&b, s);
        bprintf(&b, "}");
        respond_json(c, &b);
    } else if (strcmp(path, "/stats") == 0) {
        put_counters(&b, s);
        respond_json(c, &b);
    } else if (strcmp(path, "/sessions") == 0) {
        put_sessions(&b, s);
        respond_json(c, &b);
    } else if (strcmp(path, "/positions") == 0) {
        put_positions(&b, s);
        respond_json(c, &b);
    } else if (strcmp(path, "/clock") == 0) {
        put_clock(&b, s);
        respond_json(c, &b);
    } else if (strncmp(path, "/clock/", 7) == 0) {
        handle_clock(s, c, path + 7, &a);
    } else if (strncmp(path, "/fault/", 7) == 0) {
        handle_fault(s, c, path + 7, &a);
    } else if (strncmp(path, "/token/", 7) == 0) {
        handle_token(s, c, path + 7, &a);
    } else if (strcmp(path, "/options") == 0) {
        handle_options(s, c, &a, post);
    } else if (strcmp(path, "/positions/reset") == 0) {
        handle_positions_reset(s, c, &a);
    } else if (strcmp(path, "/timeline/count") == 0) {
        handle_timeline(s, c, &a, false);
    } else if (strcmp(path, "/timeline/keys") == 0) {
        handle_timeline(s, c, &a, true);
    } else if (strcmp(path, "/shutdown") == 0) {
        bprintf(&b, "{\"ok\": true}");
        respond_json(c, &b);
        s->stop = true;
    } else {
        respond_error(c, 404, "unknown path; see docs/podsim.md");
    }
    psim_buf_deinit(&b);
}
