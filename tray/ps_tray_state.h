/* ps_tray_state: what podstream-tray.exe shows, without a window (issue #18).
 *
 * From what the service control manager says about the service and the counters
 * the service writes to the database once a second (read the way the GUI and
 * `podstream status` read them: ps_store_counters_list on a PS_STORE_READER
 * connection, one autocommit statement, no transaction held between reads), it
 * computes the icon, the tooltip and the balloons to show. The balloons need
 * memory (a device that *stays* unauthorised, a service that *stopped*, each told
 * once per episode), so the state is an object updated every tick. Plain C, no
 * Win32: the unit tests run it on Linux and under wine. */
#ifndef PS_TRAY_STATE_H
#define PS_TRAY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_error.h"
#include "podstream/ps_store.h"

/* Counters not rewritten for this long are stale: the service writes them every
 * second (the same threshold as the GUI's PS_GUI_STALE_US). */
#define PS_TRAY_STALE_US (5 * 1000000LL)
/* A device unauthorised for this long gets a balloon: a token being rotated, or
 * one refused once while the POD side catches up, should not pop one up. */
#define PS_TRAY_UNAUTH_US (60 * 1000000LL)
/* The tooltip's size with its NUL: NOTIFYICONDATAW.szTip holds 128 UTF-16 units,
 * and a UTF-8 string never has fewer bytes than UTF-16 units. */
#define PS_TRAY_TIP_MAX 128

/* What the service control manager says (ps_plat_svc_query). Stopped or not
 * installed while the counters are fresh means `podstream run` in a console: the
 * counters decide then, as for PS_TRAY_SVC_UNKNOWN. */
typedef enum ps_tray_service {
    PS_TRAY_SVC_UNKNOWN,       /* not asked or no answer: the counters decide */
    PS_TRAY_SVC_NOT_INSTALLED, /* PS_ERR_NOTFOUND */
    PS_TRAY_SVC_STOPPED,
    PS_TRAY_SVC_START_PENDING,
    PS_TRAY_SVC_STOP_PENDING,
    PS_TRAY_SVC_RUNNING
} ps_tray_service;

/* The state of ps_plat_svc_info.state ("running", "start pending", ...; NULL when
 * the query failed). "paused" and the other pending states count as running. */
ps_tray_service ps_tray_service_from_scm(const char *state, ps_err query_err);

/* The four icons. */
typedef enum ps_tray_icon {
    PS_TRAY_ICON_LIVE,    /* running, every reporting device live (or backfilling) */
    PS_TRAY_ICON_BACKOFF, /* running, some device connecting or backing off; starting */
    PS_TRAY_ICON_STOPPED, /* stopped, stopping or not installed */
    PS_TRAY_ICON_ERROR    /* unauthorised or failed device, unreadable or unwritten database */
} ps_tray_icon;

/* "live", "backoff", "stopped", "error". Static text. */
const char *ps_tray_icon_name(ps_tray_icon icon);

/* One tick's input, all borrowed for the call. */
typedef struct ps_tray_input {
    ps_tray_service service;
    bool db_ok;                        /* the counters could be read */
    const char *db_error;              /* why not, when !db_ok (may be NULL) */
    const ps_device_counters *devices; /* ps_store_counters_list's rows */
    size_t ndevices;
    int64_t now_us; /* wall clock (ps_time), as the counters' updated_us */
} ps_tray_input;

/* A balloon (NIF_INFO): sizes are those of szInfoTitle and szInfo, in bytes. */
typedef struct ps_tray_balloon {
    char title[64];
    char text[256];
    bool warning; /* NIIF_WARNING rather than NIIF_INFO */
} ps_tray_balloon;

/* What to show after a tick. Caller-owned, filled by ps_tray_state_update. */
typedef struct ps_tray_view {
    ps_tray_icon icon;
    char tooltip[PS_TRAY_TIP_MAX]; /* UTF-8, one or two lines */
    double events_per_s;           /* every live device's rate_10s summed */
    bool balloon;                  /* show `b` now: at most one per tick */
    ps_tray_balloon b;
} ps_tray_view;

typedef struct ps_tray_state ps_tray_state;

/* A new state with nothing seen yet; *out is owned by the caller. PS_ERR_NOMEM. */
ps_err ps_tray_state_create(ps_tray_state **out);
/* Frees it. Accepts NULL. */
void ps_tray_state_destroy(ps_tray_state *s);

/* Computes *out (caller-owned) from *in and what earlier ticks saw, and remembers
 * this tick. A balloon is given once per episode: the service stopped (seen running
 * by an earlier tick, so starting the tray beside a stopped service is quiet), or
 * devices unauthorised for PS_TRAY_UNAUTH_US (again only after they were authorised
 * in between). PS_ERR_NOMEM leaves *out filled but forgets this tick's devices. */
ps_err ps_tray_state_update(ps_tray_state *s, const ps_tray_input *in, ps_tray_view *out);

#endif
