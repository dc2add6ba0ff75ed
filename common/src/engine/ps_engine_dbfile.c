/* The database file itself may go: removed or replaced while the service runs, or
 * while it is stopped. Both are noticed and nothing stored is lost.
 *
 * While running, the writer compares the file at the database's path with the one
 * it opened once a second. When they differ it writes nothing more (the WAL and
 * journal go by the name, which another file now has or may get: SQLite would
 * apply ours to it), empties the WAL, and the service stops: what it holds stays in
 * the spool, and its connection, which still reads the old file, copies everything
 * stored to `<database>.rescued-<time>`, moved back to the path if that is free.
 *
 * While stopped: a copy of each device's resume state lives outside the database,
 * beside the spool (`<spool>/device-<id>.state`, one line, written atomically once a
 * minute and at every stop). A start that finds the database without a record of a
 * device the copy says stored events fetches them again from the archive. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_log.h"
#include "podstream/ps_time.h"
#include "engine/ps_engine_internal.h"

#define MIRROR_MAGIC "podstream-resume 1"
/* Big enough for the magic and three 20-digit numbers. */
#define MIRROR_MAX 128

static char *mirror_path(const ps_engine *eng, long long device_id)
{
    char name[64];
    snprintf(name, sizeof name, "device-%lld.state", device_id);
    return ps_plat_path_join(eng->spool_dir, name);
}

void eng_mirror_save(const ps_engine *eng, const device *d, const ps_resume_state *r)
{
    char line[MIRROR_MAX];
    char *path;
    ps_errmsg em;
    int n;

    if (!r->last_event_ts_us)
        return;
    path = mirror_path(eng, d->cfg->id);
    if (!path)
        return;
    n = snprintf(line, sizeof line, MIRROR_MAGIC " %" PRId64 " %" PRId64 "\n", d->w.first_ts,
                 r->last_event_ts_us);
    if (ps_plat_mkdirs(eng->spool_dir, 0750, &em) != PS_OK ||
        ps_plat_write_file_atomic(path, line, (size_t)n, 0640, false, &em) != PS_OK)
        PS_LOG_D(d->cfg->id, "cannot write the resume mirror: %s", em.text);
    free(path);
}

/* Reads the mirror of device_id: false when there is none or it is unreadable. */
static bool mirror_load(const ps_engine *eng, long long device_id, int64_t *first, int64_t *last)
{
    char *path = mirror_path(eng, device_id);
    char *buf = NULL;
    size_t len = 0;
    bool ok = false;

    if (path && ps_plat_file_exists(path) &&
        ps_plat_read_file(path, MIRROR_MAX, &buf, &len, NULL) == PS_OK)
        ok = sscanf(buf, MIRROR_MAGIC " %" SCNd64 " %" SCNd64, first, last) == 2 && *first > 0 &&
             *last >= *first;
    free(buf);
    free(path);
    return ok;
}

void eng_mirror_adopt(ps_engine *eng, device *d)
{
    int64_t first = 0, last = 0, from, now = ps_plat_now_us();
    int days = atomic_load(&eng->retention_days);
    char from_text[40], last_text[40];

    if (!mirror_load(eng, d->cfg->id, &first, &last)) {
        d->w.first_ts = d->w.resume.last_event_ts_us;
        return;
    }
    d->w.first_ts = first;
    if (d->w.resume.last_event_ts_us)
        return;
    /* The database knows nothing of a device that stored events: it was deleted or
     * replaced. What it held is fetched again as far as retention kept it. */
    from = first;
    if (days > 0 && from < now - (int64_t)days * 86400 * PS_US_PER_S)
        from = now - (int64_t)days * 86400 * PS_US_PER_S;
    ps_time_format_iso(from, from_text, sizeof from_text);
    ps_time_format_iso(last, last_text, sizeof last_text);
    if (d->svc->resume_policy != PS_RESUME_AUTO) {
        PS_LOG_E(d->cfg->id,
                 "the database has no record of this device, which stored events from %s to "
                 "%s: it was deleted or replaced. resume_policy live-only: they are not fetched "
                 "again",
                 from_text, last_text);
        return;
    }
    PS_LOG_W(d->cfg->id,
             "the database has no record of this device, which stored events from %s to %s: "
             "it was deleted or replaced. Fetching them again from the archive (it reaches "
             "back 30 days)",
             from_text, last_text);
    d->w.resume.last_event_ts_us = last;
    d->w.resume.clean_shutdown = false;
    d->repair.win[ENG_WINDOW_REPAIR] = (eng_window){from, last};
}

void eng_set_fault(ps_engine *eng, ps_err err, const char *text)
{
    ps_plat_mutex_lock(eng->fault_mu);
    if (!atomic_load(&eng->fault)) {
        snprintf(eng->fault_text, sizeof eng->fault_text, "%s", text);
        atomic_store(&eng->fault, (int)err);
    }
    ps_plat_mutex_unlock(eng->fault_mu);
}

void eng_dbfile_watch(ps_engine *eng)
{
    ps_file_id now;
    char text[sizeof eng->fault_text];
    const char *db = eng->cfg->service.database;

    if (atomic_load(&eng->fault) || !eng->db_id_known)
        return;
    if (ps_plat_file_id(db, &now)) {
        if (now.dev == eng->db_id.dev && now.ino == eng->db_id.ino)
            return;
        snprintf(text, sizeof text, "%s was replaced by another file while the service ran", db);
    } else {
        snprintf(text, sizeof text, "%s was removed while the service ran", db);
    }
    /* The fault first: from here the writer writes nothing more. */
    eng_set_fault(eng, PS_ERR_NOTFOUND, text);
    PS_LOG_E(PS_LOG_NO_DEVICE,
             "%s; stopping: what arrives stays in the spool, and what this service stored is "
             "saved",
             text);
    {
        ps_errmsg em;
        if (ps_store_wal_empty(eng->store, &em) != PS_OK)
            PS_LOG_E(PS_LOG_NO_DEVICE, "cannot empty the WAL: %s", em.text);
    }
}

void eng_dbfile_rescue(ps_engine *eng)
{
    const char *db = eng->cfg->service.database;
    char stamp[40], *path = NULL;
    size_t n;
    ps_errmsg em;

    ps_time_format_iso(ps_plat_now_us(), stamp, sizeof stamp);
    for (char *c = stamp; *c; c++)
        if (*c == ':')
            *c = '-'; /* a file name Windows takes too */
    n = strlen(db) + sizeof ".rescued-" + strlen(stamp);
    path = malloc(n);
    if (!path)
        return;
    snprintf(path, n, "%s.rescued-%s", db, stamp);
    if (ps_store_copy_to(eng->store, path, &em) != PS_OK) {
        PS_LOG_E(PS_LOG_NO_DEVICE, "cannot save the database: %s", em.text);
        free(path);
        return;
    }
    PS_LOG_W(PS_LOG_NO_DEVICE, "saved everything this service stored to %s", path);
    eng->rescued = path;
}

void eng_dbfile_restore(ps_engine *eng)
{
    const char *db = eng->cfg->service.database;
    ps_errmsg em;

    if (!eng->rescued)
        return;
    if (ps_plat_rename_new(eng->rescued, db, &em) == PS_OK)
        PS_LOG_W(PS_LOG_NO_DEVICE, "moved it back to %s: nothing is lost; start the service again",
                 db);
    else
        PS_LOG_E(PS_LOG_NO_DEVICE,
                 "left it as %s (%s); to keep using it, stop the service, put it in place of %s "
                 "and start again",
                 eng->rescued, em.text, db);
    free(eng->rescued);
    eng->rescued = NULL;
}

/* The mark a database fault leaves beside the spool: the next start checks the
 * database even though the stop (which could not write) looked clean. */
static char *damage_mark(const ps_engine *eng)
{
    return ps_plat_path_join(eng->spool_dir, "check-database");
}

void eng_dbfile_mark_damaged(const ps_engine *eng)
{
    char *path = damage_mark(eng);
    ps_errmsg em;
    static const char text[] = "the database was found damaged; the next start checks it\n";
    if (path && (ps_plat_mkdirs(eng->spool_dir, 0750, &em) != PS_OK ||
                 ps_plat_write_file_atomic(path, text, sizeof text - 1, 0640, false, &em) != PS_OK))
        PS_LOG_E(PS_LOG_NO_DEVICE, "cannot leave the mark for a check at the next start: %s",
                 em.text);
    free(path);
}

bool eng_dbfile_marked_damaged(const ps_engine *eng, bool clear)
{
    char *path = damage_mark(eng);
    bool marked = path && ps_plat_file_exists(path);
    if (marked && clear)
        (void)ps_plat_remove(path, NULL);
    free(path);
    return marked;
}
