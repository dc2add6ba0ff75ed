/* podsim internals shared by its translation units: configuration, server state,
 * connections and the helpers the control endpoint needs. Not a public API. */
#ifndef PODSIM_H
#define PODSIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "podsim_gen.h"

#define PSIM_VERSION  "1.0"
#define PSIM_US_PER_S 1000000LL

typedef struct psim_token {
    char *value; /* owned; never printed */
    char cluster[128];
    bool revoked; /* answers 401 on the next connect */
} psim_token;

typedef struct psim_config {
    const char *cert;
    const char *key;
    const char *port_file;
    const char *sent_log;
    uint64_t seed;
    int64_t start_us;
    double speed;
    double rate;    /* events per second per stream, on the simulated clock */
    uint64_t count; /* events per stream timeline; PSIM_UNBOUNDED */
    int64_t history_us;
    int64_t initial_backlog_us;
    double disorder;
    int64_t disorder_max_us;
    double dup_rate;
    double big_share;
    size_t big_bytes;
    size_t fragment;
    int64_t idle_timeout_ms; /* real time; 0: never */
    int64_t hold_ms;         /* real time a vanished client keeps its slot */
    int64_t resume_window_us;
    int64_t archive_stale_us;
    int64_t archive_reach_us;
    psim_token *tokens;
    size_t ntokens;
    int ws_port;  /* -1: off, 0: ephemeral */
    int wss_port; /* -1: off, 0: ephemeral */
    int ctl_port; /* -1: off, 0: ephemeral */
    int max_sessions;
    int verbose;
    bool self_signed;
    bool rate_max; /* live sessions do not wait for the clock */
    bool binary;
    bool compress; /* permessage-deflate (RFC 7692) for clients that offer it */
} psim_config;

/* Where a (token, type) left off when its last live session ended. */
typedef struct psim_slot {
    uint64_t next;         /* first event not yet written */
    int64_t drop_sim_us;   /* simulated time of the drop */
    int64_t hold_until_ms; /* a vanished session still counts until then */
    int active;            /* sessions now open */
    bool has_position;
} psim_slot;

typedef enum psim_conn_kind { CK_WS, CK_CTL } psim_conn_kind;
typedef enum psim_conn_state { CS_TLS, CS_HTTP, CS_STREAM, CS_CLOSING, CS_DONE } psim_conn_state;

/* An event written to `out` whose bytes may not have reached the socket yet. */
typedef struct psim_pending {
    uint64_t start_off; /* stream offset of the event's first byte */
    uint64_t end_off;   /* stream offset just past the event's last byte */
    uint64_t index;
    bool dup;
    psim_event_info info;
} psim_pending;

typedef struct psim_conn {
    struct psim_conn *next_conn;
    SSL *ssl;
    psim_buf in;
    psim_buf out;
    size_t out_off;
    uint64_t written_total; /* bytes handed to the socket over the connection's life */
    uint64_t queued_total;  /* bytes ever queued into out */
    int64_t last_io_ms;
    int64_t deadline_ms; /* CS_CLOSING: give up waiting for the peer's close */
    size_t token_idx;
    const psim_timeline *tl;
    psim_pool *pool;
    int64_t since_us;
    int64_t to_us;
    uint64_t start_index;
    uint64_t next;         /* next event to queue */
    uint64_t end;          /* no event at or past this index is sent */
    uint64_t written_next; /* first event not yet fully written: the resume position */
    uint64_t events_written;
    uint64_t dups_written;
    int64_t idle_until_ms; /* idle fault: send nothing until then */
    size_t pad_next;       /* oversize fault: grow the next event to this size */
    size_t close_drop;     /* close-drop fault: the newest events held back, unwritten */
    psim_pending *pend;
    size_t pend_head;
    size_t pend_len;
    size_t pend_cap;
    psim_buf scratch;
    unsigned id;
    int fd;
    psim_conn_kind kind;
    psim_conn_state state;
    psim_type type;
    bool want_out; /* EPOLLOUT is registered */
    bool close_after_flush;
    bool session; /* a WebSocket session: the fields from token_idx on apply */
    bool archive;
    bool has_to;
    bool idle_pongs; /* answer pings while idle */
    bool sent_close;
    char peer[64];
    void *zs;             /* z_stream once permessage-deflate was agreed; NULL: not */
    psim_buf zbuf;        /* an event compressed */
    char user_agent[160]; /* as the client sent it, for /sessions */
    char extensions[160]; /* the client's Sec-WebSocket-Extensions offer */
} psim_conn;

typedef struct psim_counters {
    uint64_t sent[PSIM_TYPES];
    uint64_t dups[PSIM_TYPES];
    uint64_t bytes;
    uint64_t sessions_live;
    uint64_t sessions_archive;
    uint64_t resumed;    /* live sessions that continued from a stored position */
    uint64_t gap_events; /* events skipped because a drop outlasted the resume window */
    uint64_t status[6];  /* 101, 400, 401, 404, 405, 409 */
    uint64_t status_other;
    uint64_t pings;
    uint64_t faults;
    uint64_t idle_drops;
    uint64_t archive_done; /* archive windows completed with close 1000 */
} psim_counters;

typedef struct psim_server {
    psim_config *cfg;
    int epfd;
    int ws_fd;
    int wss_fd;
    int ctl_fd;
    int ws_port;
    int wss_port;
    int ctl_port;
    SSL_CTX *ssl_ctx;
    FILE *sent_log;
    bool sent_log_dirty;
    psim_conn *conns;
    unsigned next_id;
    psim_timeline *tls; /* ntokens * PSIM_TYPES, indexed [token][type] (per cluster) */
    psim_pool **pools;  /* same indexing; created on first use */
    psim_slot *slots;   /* ntokens * PSIM_TYPES */
    int64_t sim_base_us;
    int64_t mono_base_us;
    double speed;
    psim_counters ctr;
    bool stop;
} psim_server;

/* podsim_server.c */
/* Serves until SIGINT, SIGTERM or POST /shutdown; returns the exit status. cfg stays
 * owned by the caller; the control endpoint may change its mutable options. */
int psim_run(psim_config *cfg);
/* Real monotonic time in milliseconds (timeouts, holds). */
int64_t psim_mono_ms(void);
/* The simulated clock, UTC microseconds. */
int64_t psim_sim_now(const psim_server *s);
/* Restarts the simulated clock at sim_us, running at `speed` from now on. */
void psim_clock_set(psim_server *s, int64_t sim_us, double speed);
/* The position and session count of a token and type; owned by the server. */
psim_slot *psim_slot_of(psim_server *s, size_t token_idx, psim_type type);
/* The timeline a token's sessions of `type` serve; owned by the server. */
const psim_timeline *psim_timeline_of(const psim_server *s, size_t token_idx, psim_type type);
/* Finds a cluster's timeline for a type, NULL when no token names the cluster. */
const psim_timeline *psim_timeline_by_cluster(const psim_server *s, const char *cid,
                                              psim_type type);
/* Compares a token with a presented value in constant time for equal lengths. */
bool psim_token_matches(const psim_token *t, const char *value);
/* Appends bytes to the connection's output (copied); on exhausted memory the
 * connection is marked done. */
void psim_conn_queue(psim_conn *c, const void *p, size_t n);
/* Queues one WebSocket frame (server frames are never masked). */
void psim_ws_frame(psim_conn *c, unsigned opcode, bool fin, const void *payload, size_t n);
/* Sends a close frame and waits (bounded) for the peer's. */
void psim_ws_close(psim_server *s, psim_conn *c, unsigned code, const char *reason);
/* Ends a session now: RST when reset, else an orderly TCP close. */
void psim_conn_abort(psim_server *s, psim_conn *c, bool reset, int64_t hold_ms, const char *why);
void psim_log(const psim_server *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* podsim_control.c */
/* Answers one control request on c (queued; c closes after the flush). */
void psim_control_handle(psim_server *s, psim_conn *c, const char *method, const char *path,
                         const char *query);

/* podsim_http.c: request parsing shared by the WebSocket and control endpoints. */
typedef struct psim_http_req {
    char method[16];
    char path[256];
    char query[2048];
    char *headers; /* points into the connection's input; "name: value\r\n"... */
    size_t headers_len;
} psim_http_req;

/* 1: complete request parsed, 0: need more bytes, -1: malformed or too large. */
int psim_http_parse(const char *buf, size_t len, psim_http_req *req, size_t *consumed);
/* Copies header `name` (case-insensitive) into out; false when absent. */
bool psim_http_header(const psim_http_req *req, const char *name, char *out, size_t cap);
/* Looks up query parameter `name`, percent-decoding it ('+' becomes a space, as in
 * forms). False when absent; "name=" yields an empty string. */
bool psim_query_get(const char *query, const char *name, char *out, size_t cap);
/* True when a comma-separated header value contains `token` (case-insensitive). */
bool psim_header_has_token(const char *value, const char *token);
const char *psim_http_reason(int status);

/* podsim_tls.c */
/* A server context from --cert/--key or --self-signed; the caller frees it. NULL with
 * a message naming the file in err on failure. */
SSL_CTX *psim_tls_server_ctx(const psim_config *cfg, char *err, size_t errlen);

#endif
