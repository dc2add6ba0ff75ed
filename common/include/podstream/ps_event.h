/* ps_event: one POD event, parsed, with its natural key, its time and the typed
 * fields that the store indexes.
 *
 * Input is the exact frame payload. It must be valid UTF-8 and one JSON object;
 * anything else is refused with a reason for the quarantine table. Extraction is
 * separate from parsing because pipelines may change the tree in between. */
#ifndef PS_EVENT_H
#define PS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ps_config.h"
#include "ps_error.h"

/* Typed text fields. Values are stored in the database: append only, never renumber. */
typedef enum ps_event_field {
    PS_EF_SENDER = 0,  /* message envelope.from; maillog sm.from */
    PS_EF_RECIPIENTS,  /* message envelope.rcpts; maillog sm.to; joined with ", " */
    PS_EF_SUBJECT,     /* message msg.header.subject[0], RFC 2047 decoded */
    PS_EF_DISPOSITION, /* message filter.disposition */
    PS_EF_ACTION,      /* message filter.actions[isFinal].action; audit audit.action */
    PS_EF_MODULE,      /* message filter.actions[isFinal].module */
    PS_EF_RULE,        /* message filter.actions[isFinal].rule */
    PS_EF_DIRECTION,   /* message filter.routeDirection */
    PS_EF_QID,         /* message filter.qid; maillog sm.qid */
    PS_EF_MESSAGE_ID,  /* message msg.header.message-id[0]; maillog sm.msgid */
    PS_EF_CLIENT_IP,   /* message connection.ip; audit audit.user.ipAddress */
    PS_EF_CLIENT_HOST, /* message connection.host */
    PS_EF_COUNTRY,     /* message connection.country */
    PS_EF_STAT,        /* maillog sm.stat */
    PS_EF_DSN,         /* maillog sm.dsn */
    PS_EF_RELAY,       /* maillog sm.relay */
    PS_EF_ACTOR,       /* audit audit.user.email: who did it */
    PS_EF_RESOURCE,    /* audit audit.resourceType, then ": " and audit.resourceName if any */
    PS_EF_RESULT,      /* audit: "success"/"failure" from the tag <action>.<eventSubCategory> */
    PS_EF__COUNT
} ps_event_field;

/* Column name of a field ("sender", "recipients", ...). */
const char *ps_event_field_name(ps_event_field f);

typedef struct ps_event {
    ps_data_type type;
    cJSON *root;              /* owned */
    int64_t ts_us;            /* event time, UTC microseconds since the epoch */
    char *key;                /* natural key: message guid, maillog id, audit guid (or a hash) */
    char *text[PS_EF__COUNT]; /* typed fields, NULL when absent; owned */
    double spam_score;        /* filter.modules.spam.scores.overall */
    bool has_spam_score;
    int64_t size_bytes; /* message msg.sizeBytes (or filter.msgSizeBytes); maillog sm.sizeBytes */
    bool has_size;
} ps_event;

/* Caller-owned; init zeroes it, deinit frees what it holds (safe twice). */
void ps_event_init(ps_event *ev);
void ps_event_deinit(ps_event *ev);

/* Parses a frame payload of `type` into ev->root and fills key and ts_us (but not
 * the typed fields). Fails with PS_ERR_PARSE and a reason in `em` suitable for the
 * quarantine table ("invalid UTF-8 at byte 17", "not a JSON object", "no ts",
 * "ts is not ISO 8601", "no guid") when the payload cannot become an event. */
ps_err ps_event_parse(ps_event *ev, ps_data_type type, const char *raw, size_t len, ps_errmsg *em);

/* With `on`, ps_event_parse on the calling thread builds its trees in an arena of
 * that thread, reused once every block of it is freed: far fewer mallocs. Only
 * for a thread that frees each tree it parses itself (cJSON_Delete or
 * ps_event_deinit on the same thread); call it with false before the thread ends
 * to return the arena. The first call installs cJSON hooks for the process,
 * which use malloc and free outside such parses. */
void ps_event_use_arena(bool on);

/* Frees a tree from ps_event_parse, as cJSON_Delete does (NULL is fine). On an
 * arena thread, when the tree is the arena's only one and no cJSON value was
 * allocated on the thread since it was parsed, the arena is emptied at once
 * instead of block by block. The tree's nodes must not have been moved into
 * another tree. */
void ps_event_tree_free(cJSON *root);

/* For tests: blocks of the calling thread's arena not yet freed, and the bytes it
 * holds for the next tree. */
size_t ps_event_arena_live(void);
size_t ps_event_arena_kept(void);

/* (Re)computes key, ts_us and every typed field from ev->root: call it after a
 * pipeline changed the tree. Same failures as ps_event_parse for key and ts. */
ps_err ps_event_extract(ps_event *ev, ps_errmsg *em);

/* Computes only the typed fields, keeping key and ts_us: for a tree that nothing
 * changed since ps_event_parse computed them. */
ps_err ps_event_extract_typed(ps_event *ev, ps_errmsg *em);

#endif
