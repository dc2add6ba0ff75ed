/* podsim_gen: the deterministic event timeline of podsim, and the generator that
 * serialises its events as the POD Log API sends them.
 *
 * A stream is one (seed, cluster, type). Event i of a stream is a pure function of
 * (seed, cluster, type, i) and of the stream's time base: it "occurs" at
 * origin + i * interval + a jitter inside its own slot, so occurrence times rise with
 * i, and its reported `ts` may lag behind that (the configured share of disorder).
 * Because nothing depends on who asked or when, a live session, an archive query
 * and a test that lists "every event in [a, b)" all see exactly the same events.
 *
 * Independent of podstream_common on purpose: podsim is the reference the service
 * is tested against, so it must not share the service's parsing or formatting code.
 * Functions here are thread-safe: they only read the timeline. */
#ifndef PODSIM_GEN_H
#define PODSIM_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum psim_type { PSIM_MESSAGE = 0, PSIM_MAILLOG = 1, PSIM_AUDIT = 2 } psim_type;
#define PSIM_TYPES 3

/* "message", "maillog", "audit". */
const char *psim_type_name(psim_type t);
/* Parses one of the names above; false for anything else (including NULL). */
bool psim_type_parse(const char *s, psim_type *out);

/* A growable byte buffer. Caller-owned struct; init/deinit manage `data`. */
typedef struct psim_buf {
    char *data;
    size_t len;
    size_t cap;
} psim_buf;

void psim_buf_init(psim_buf *b);
/* Frees data; safe on an initialised or already deinitialised buffer and on NULL. */
void psim_buf_deinit(psim_buf *b);
/* Makes room for `extra` more bytes. False when memory is exhausted. */
bool psim_buf_reserve(psim_buf *b, size_t extra);
/* Appends n bytes. False when memory is exhausted (the buffer is unchanged). */
bool psim_buf_append(psim_buf *b, const void *p, size_t n);

#define PSIM_UNBOUNDED UINT64_MAX

/* One stream's timeline. Fill it with psim_timeline_init, then adjust the optional
 * fields. Plain data: copy it freely. */
typedef struct psim_timeline {
    uint64_t seed;
    char cluster[128]; /* cluster id, as in `cid` and in the events' metadata */
    psim_type type;
    int64_t origin_us;       /* occurrence slot of event 0 starts here (UTC microseconds) */
    int64_t interval_us;     /* slot width: 1e6 / events per second, >= 1 */
    uint64_t count;          /* events in the timeline; PSIM_UNBOUNDED for no end */
    double disorder;         /* share of events whose ts lags behind their occurrence */
    int64_t disorder_max_us; /* the largest such lag */
    double big_share;        /* share of message events that carry a large msgParts */
    size_t big_bytes;        /* size those events reach (>= 1 MiB makes frames over 1 MiB) */
    uint64_t stream_hash;    /* derived from seed, cluster and type by init */
    int tz_offset_min;       /* the cluster's local UTC offset in `ts`, derived by init */
} psim_timeline;

/* Initialises a timeline with no disorder, no large events and no end. `cluster` is
 * copied (truncated to 127 bytes). interval_us < 1 is taken as 1. */
void psim_timeline_init(psim_timeline *tl, uint64_t seed, const char *cluster, psim_type type,
                        int64_t origin_us, int64_t interval_us);

/* When event i occurs, i.e. becomes visible to a live session (UTC microseconds).
 * Strictly increasing in i. */
int64_t psim_occurs_us(const psim_timeline *tl, uint64_t i);
/* The event's reported `ts` (UTC microseconds): occurs minus its disorder lag. */
int64_t psim_ts_us(const psim_timeline *tl, uint64_t i);
/* The first index whose occurrence is at or after t_us (0 before the origin; count
 * when t_us is past the end of a bounded timeline). */
uint64_t psim_index_at(const psim_timeline *tl, int64_t t_us);

/* What identifies one event: its natural key and its `ts` exactly as sent. */
typedef struct psim_event_info {
    char key[40]; /* message guid, maillog id, audit id */
    char ts[40];  /* e.g. "2024-05-22T12:10:03.058340-0700" */
    int64_t ts_us;
} psim_event_info;

/* Maillog events are the sendmail lines of the mails of the message timeline with the
 * same seed, cluster, origin, interval, count and disorder (podsim gives every type of
 * a cluster the same): a line's `sm.qid` is its message's `filter.qid`, a `from=`
 * line's `sm.msgid` its `msg.header["message-id"]`. The maillog timeline is cut into
 * groups of G = PSIM_MAILLOG_GROUP lines; group k >= 1 holds the `from=` line and
 * one `to=` line per recipient of mails whose message events are in message slots
 * [(k - 1) * G, k * G), so a line occurs 1 to 2G - 1 intervals after its message.
 * Group 0 takes mails of slots [0, G) that group 1 leaves. No mail has lines in two
 * groups; about 4 in 10 messages have lines at all. */
#define PSIM_MAILLOG_GROUP 8

/* Computes event i's key and ts without serialising it (cheap). */
void psim_event_key(const psim_timeline *tl, uint64_t i, psim_event_info *info);

/* Appends event i as one line of JSON (no newline) to `out` and, when info is not
 * NULL, fills it. pad_to > 0 grows the event (message: a large msgPart; other types:
 * a long field) until the JSON is at least pad_to bytes. False only when memory is
 * exhausted; `out` may then hold a partial event beyond its old length. A maillog
 * event recomputes what it needs of its mail's message events (about twice the cost
 * of the other types); the pool remembers that. */
bool psim_gen_event(const psim_timeline *tl, uint64_t i, size_t pad_to, psim_buf *out,
                    psim_event_info *info);

/* A cache of serialised event shapes for one timeline. psim_pool_event produces
 * exactly the bytes of psim_gen_event, several times faster once the stream's
 * shapes have been seen (up to ~10 MB per pool). Not thread-safe. */
typedef struct psim_pool psim_pool;

/* Creates an empty pool for `tl`, which must outlive it. NULL when out of memory. */
psim_pool *psim_pool_create(const psim_timeline *tl);
/* Frees the pool; NULL is fine. */
void psim_pool_destroy(psim_pool *p);
/* The exact size psim_pool_event will append for event i without padding, or 0
 * when it is not known yet (the shape was never generated, or the event is large).
 * Not const: for maillog it may lay out (and remember) the group of event i. */
size_t psim_pool_cached_len(psim_pool *p, uint64_t i);
/* Same contract as psim_gen_event for the pool's timeline. */
bool psim_pool_event(psim_pool *p, uint64_t i, size_t pad_to, psim_buf *out, psim_event_info *info);

/* Parses ISO 8601 "YYYY-MM-DDThh:mm[:ss[.f{1,9}]]" with `Z`, `+hh`, `+hhmm` or
 * `+hh:mm` (a missing offset means UTC) into UTC microseconds. A space in place of
 * the offset's sign (what an unencoded '+' becomes) is refused. False when malformed. */
bool psim_parse_iso(const char *s, int64_t *out_us);
/* Formats UTC microseconds as "2025-01-02T03:04:05.123456Z" (needs 28 bytes). */
void psim_format_utc(int64_t us, char *buf, size_t len);

#endif
