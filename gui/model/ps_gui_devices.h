/* ps_gui_devices: what the Devices page shows, without a widget.
 *
 * The devices of the configuration directory (through ps_loader, as `validate`
 * loads it, tokens left alone) joined with the live counters the service writes
 * once a second (ps_store_counters_list on a read-only connection). A refresh is
 * a few autocommit statements, so no read transaction stays open between refreshes
 * and the service's WAL can always be checkpointed. Counters whose updated time
 * is older than PS_GUI_STALE_US mean the service is not running (or hangs): the
 * page then says so instead of showing old rates. */
#ifndef PS_GUI_DEVICES_H
#define PS_GUI_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_diag.h"
#include "podstream/ps_error.h"
#include "podstream/ps_store.h"

/* Counters not rewritten for this long are stale: the writer writes them every second. */
#define PS_GUI_STALE_US (5 * 1000000LL)

/* The hourly chart: events stored per hour of event time, the last day, as the hourly
 * table of `podstream status`. */
#define PS_GUI_HOURS   24
#define PS_GUI_HOUR_US (3600 * 1000000LL)

typedef enum ps_gui_service {
    PS_GUI_SERVICE_NO_DATABASE, /* the database cannot be opened (not created yet?) */
    PS_GUI_SERVICE_STOPPED,     /* no counters, or all of them stale */
    PS_GUI_SERVICE_RUNNING      /* some counters were written within PS_GUI_STALE_US */
} ps_gui_service;

/* "no database", "not running", "running". Static text. */
const char *ps_gui_service_name(ps_gui_service s);

typedef struct ps_gui_device {
    long long id;
    char name[128];
    ps_data_type type;
    bool in_config;    /* defined in the configuration directory */
    bool enabled;      /* its status: field (false when not in the configuration) */
    bool has_counters; /* the service has written counters for it */
    bool stale;        /* those counters are older than PS_GUI_STALE_US */
    ps_device_counters c;
    uint64_t hourly[PS_GUI_HOURS]; /* every type summed; [0] the hour first_hour_us */
} ps_gui_device;

/* One refresh: immutable once made, so the main loop can show it while the next
 * one is read on a worker. */
typedef struct ps_gui_snapshot {
    ps_gui_service service;
    ps_gui_device *v; /* configured devices in configuration order, then the others by id */
    size_t n;
    int64_t taken_us;
    int64_t first_hour_us; /* start (UTC) of the oldest hour of hourly[]; the last is now's */
    char error[512];       /* why the database could not be read, for NO_DATABASE */
    /* the service's last configuration load (ps_gui_reload); all zeros when unknown */
    ps_reload_record reload;
    /* every output's row, ordered by name (ps_gui_outputs_read); none without a database */
    ps_output_row *outs;
    size_t nouts;
} ps_gui_snapshot;

/* Frees a snapshot. Accepts NULL. */
void ps_gui_snapshot_destroy(ps_gui_snapshot *s);

typedef struct ps_gui_devices ps_gui_devices;

/* Loads the configuration `config_dir` and remembers the database: `db_path` when
 * not NULL, else the configuration's `database` setting. A configuration with
 * errors still gives a model (its devices that loaded, its problems in
 * ps_gui_devices_diag); *out is owned by the caller. PS_ERR_NOTFOUND when the
 * directory does not exist and no db_path was given. */
ps_err ps_gui_devices_create(const char *config_dir, const char *db_path, ps_gui_devices **out,
                             ps_errmsg *em);
/* Closes the reader and frees the model. Accepts NULL. */
void ps_gui_devices_destroy(ps_gui_devices *d);

/* The database path in use (borrowed; NULL when neither given nor configured). */
const char *ps_gui_devices_db_path(const ps_gui_devices *d);
/* The problems the configuration load found (borrowed). */
const ps_diag *ps_gui_devices_diag(const ps_gui_devices *d);

/* Reads the counters now and returns a new snapshot in *out (caller destroys).
 * Opens the reader on first use and again after a failure. Blocks on SQLite: call
 * it on a worker, one call at a time per model. */
ps_err ps_gui_devices_refresh(ps_gui_devices *d, int64_t now_us, ps_gui_snapshot **out,
                              ps_errmsg *em);

#endif
