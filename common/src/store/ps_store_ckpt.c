/* ps_store checkpointer: WAL checkpoints on a thread of their own (see ps_store.h).
 *
 * The writer's connection gets a WAL hook in place of SQLite's auto-checkpoint. The
 * hook runs on the committing thread after every commit with the WAL's frame count:
 * past the threshold it only wakes the thread, which copies the WAL into the database
 * through a connection of its own (PASSIVE: it never waits for a reader or for the
 * writer). The writer restarts the WAL from its start by itself, at the first commit
 * that finds every frame copied. Past the hard limit the committing thread checkpoints
 * itself as SQLite's auto-checkpoint would, so a starved thread cannot let the WAL grow
 * without bound; only a reader that pins its snapshot can, as before, and the WAL
 * watch (ps_store_health.c) handles that. */
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"
#include "store/ps_store_internal.h"

/* SQLite's own auto-checkpoint threshold, in pages. */
#define CKPT_DEFAULT_PAGES 1000
/* The committing thread checkpoints itself past this many thresholds... */
#define CKPT_HARD_FACTOR 4
/* ...or past this share of the WAL watch's threshold, whichever comes first: the
 * watch would otherwise see a WAL over it and take a healthy run for a blocked one. */
#define CKPT_HARD_MAX_BYTES (PS_STORE_WAL_WARN_BYTES / 4 * 3)
/* The committing thread waits for the thread's pass when at most this share of
 * the threshold is left to copy (see decide()), for at most CKPT_WAIT_MS. */
#define CKPT_TAIL_DIVISOR 8
#define CKPT_WAIT_MS      2000

struct ps_store_ckpt {
    sqlite3 *db; /* the thread's own connection; used by that thread only */
    ps_thread *thread;
    ps_mutex *mu;     /* guards the flags and counters below */
    ps_cond *cv;      /* wakes the thread */
    ps_cond *done_cv; /* the thread finished a pass */
    ps_mutex *run_mu; /* held across every checkpoint of this process on the file */
    unsigned pages, hard, tail;
    bool wanted, running, hold, stop;
    uint64_t done; /* frames of this WAL cycle copied so far, as the last pass saw */
    ps_store_ckpt_stats stats;
};

typedef enum ckpt_act { ACT_NONE, ACT_WAIT, ACT_SELF } ckpt_act;

static void wake(ps_store_ckpt *c)
{
    c->wanted = true;
    ps_plat_cond_signal(c->cv);
}

/* What the commit that left `frames` in the WAL does, under c->mu. */
static ckpt_act decide(ps_store_ckpt *c, uint64_t frames)
{
    if (frames < c->stats.wal_pages)
        c->done = 0; /* the WAL restarted from its start */
    c->stats.wal_pages = frames;
    if (frames > c->stats.max_wal_pages)
        c->stats.max_wal_pages = frames;
    if (frames >= c->hard)
        return ACT_SELF;
    if (frames < c->pages || c->wanted || c->running)
        return ACT_NONE;
    wake(c);
    /* The WAL starts over only at a transaction that begins with every frame
     * copied, and the writer begins the next one right after this commit, so the
     * thread alone would always be a batch or two behind and the WAL would grow to
     * the hard limit. With only that much left, the writer waits for the pass
     * (no CPU of its own, and less time than copying it would take). */
    if (c->done > 0 && c->done <= frames && frames - c->done <= c->tail && !c->hold)
        return ACT_WAIT;
    return ACT_NONE;
}

/* One PASSIVE checkpoint under run_mu; the frames it copied, as far as known. */
static uint64_t checkpoint(ps_store_ckpt *c, sqlite3 *db, const char *name, uint64_t before,
                           uint64_t *done)
{
    int log = 0, ckpt = 0;
    ps_plat_mutex_lock(c->run_mu);
    /* Errors are left to the writer, whose own statements meet the same disk; a
     * busy checkpoint (another connection's under way) has nothing to report. */
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt) != SQLITE_OK)
        ckpt = 0;
    ps_plat_mutex_unlock(c->run_mu);
    *done = ckpt > 0 ? (uint64_t)ckpt : 0;
    return *done > before ? *done - before : 0;
}

/* Runs on the committing thread, inside the commit's sqlite3_step, after the
 * transaction is committed and its locks released. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    ps_store_ckpt *c = arg;
    uint64_t before, done, copied, runs;
    int64_t deadline = 0;
    ckpt_act act;
    ps_plat_mutex_lock(c->mu);
    act = decide(c, frames > 0 ? (uint64_t)frames : 0);
    before = c->done;
    runs = c->stats.thread_runs;
    if (act == ACT_WAIT) {
        c->stats.tail_waits++;
        deadline = ps_plat_mono_ms() + CKPT_WAIT_MS;
    }
    /* Not past the deadline: a thread that cannot run leaves it to ACT_SELF. */
    while (act == ACT_WAIT && c->stats.thread_runs == runs && !c->hold && !c->stop &&
           ps_plat_cond_wait_until(c->done_cv, c->mu, deadline))
        ;
    ps_plat_mutex_unlock(c->mu);
    if (act != ACT_SELF)
        return SQLITE_OK;
    /* After the thread's pass under way, if any. */
    copied = checkpoint(c, db, name, before, &done);
    ps_plat_mutex_lock(c->mu);
    c->stats.writer_runs++;
    c->stats.writer_frames += copied;
    if (done > c->done)
        c->done = done;
    ps_plat_mutex_unlock(c->mu);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    ps_store_ckpt *c = arg;
    for (;;) {
        uint64_t before, done, copied;
        ps_plat_mutex_lock(c->mu);
        while (!c->stop && (!c->wanted || c->hold))
            ps_plat_cond_wait(c->cv, c->mu);
        if (c->stop) {
            ps_plat_mutex_unlock(c->mu);
            break;
        }
        c->wanted = false;
        c->running = true;
        before = c->done;
        ps_plat_mutex_unlock(c->mu);
        copied = checkpoint(c, c->db, "main", before, &done);
        ps_plat_mutex_lock(c->mu);
        c->running = false;
        c->stats.thread_runs++;
        c->stats.thread_frames += copied;
        /* Unless the WAL restarted meanwhile, which set c->done to 0. */
        if (c->done == before && done > c->done)
            c->done = done;
        /* Again at once while the writer is more than a tail ahead, so that what
         * it waits for at the end is small; not when a reader holds the frames
         * back (nothing copied), which would only spin. */
        if (copied > 0 && c->stats.wal_pages >= c->pages && c->stats.wal_pages > c->done + c->tail)
            c->wanted = true;
        ps_plat_cond_broadcast(c->done_cv);
        ps_plat_mutex_unlock(c->mu);
    }
    return NULL;
}

static void ckpt_free(ps_store_ckpt *c)
{
    if (!c)
        return;
    if (c->db)
        sqlite3_close_v2(c->db);
    ps_plat_cond_destroy(c->cv);
    ps_plat_cond_destroy(c->done_cv);
    ps_plat_mutex_destroy(c->mu);
    ps_plat_mutex_destroy(c->run_mu);
    free(c);
}

/* The thread's connection: read-write to copy pages into the file, synchronous
 * as the writer's so that a checkpoint syncs the WAL and the file as before, and
 * one read so that it has the WAL open before its first checkpoint. */
static ps_err ckpt_open(ps_store *st, ps_store_ckpt *c, ps_errmsg *em)
{
    ps_store_db conn = {.path = st->conn.path, .mode = PS_STORE_WRITER};
    ps_err err;
    if (sqlite3_open_v2(st->conn.path, &conn.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err = ps_store_dberr(&conn, em, "opening the checkpointer's connection");
        sqlite3_close_v2(conn.db);
        return err;
    }
    c->db = conn.db;
    sqlite3_extended_result_codes(c->db, 1);
    /* For the read below; the checkpoints themselves (PASSIVE) never wait. */
    sqlite3_busy_timeout(c->db, 5000);
    /* Its own auto-checkpoint would never fire (it commits nothing), and a close
     * that found itself the last connection must not checkpoint behind the writer. */
    if ((err = ps_store_exec(&conn, "PRAGMA synchronous=NORMAL", em)) != PS_OK ||
        (err = ps_store_exec(&conn, "PRAGMA wal_autocheckpoint=0", em)) != PS_OK ||
        (err = ps_store_exec(&conn, "SELECT count(*) FROM sqlite_schema", em)) != PS_OK)
        return err;
    return sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL) == SQLITE_OK
               ? PS_OK
               : ps_store_dberr(&conn, em, "setting up the checkpointer's connection");
}

/* The hard limit in pages: CKPT_HARD_FACTOR thresholds, at most CKPT_HARD_MAX_BYTES
 * of pages of this database, never below the threshold itself. */
static unsigned hard_limit(ps_store *st, unsigned pages)
{
    sqlite3_stmt *s = NULL;
    uint64_t page_size = 4096, cap;
    uint64_t hard = (uint64_t)pages * CKPT_HARD_FACTOR;
    if (sqlite3_prepare_v2(st->conn.db, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0)
        page_size = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    cap = CKPT_HARD_MAX_BYTES / page_size;
    if (hard > cap)
        hard = cap;
    if (hard <= pages)
        hard = (uint64_t)pages + 1;
    return (unsigned)hard;
}

ps_err ps_store_checkpointer_start(ps_store *st, unsigned pages, ps_errmsg *em)
{
    ps_store_ckpt *c = NULL;
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_checkpointer_start", em);
    if (err != PS_OK)
        return err;
    if (st->ckpt || st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL,
                             "ps_store_checkpointer_start: already started or inside a batch");
    c = calloc(1, sizeof *c);
    if (!c || ps_plat_mutex_create(&c->mu) != PS_OK || ps_plat_mutex_create(&c->run_mu) != PS_OK ||
        ps_plat_cond_create(&c->cv) != PS_OK || ps_plat_cond_create(&c->done_cv) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    c->pages = pages ? pages : CKPT_DEFAULT_PAGES;
    c->hard = hard_limit(st, c->pages);
    c->tail = c->pages / CKPT_TAIL_DIVISOR;
    if ((err = ckpt_open(st, c, em)) != PS_OK)
        goto out;
    if (ps_plat_thread_create(&c->thread, "ps-ckpt", ckpt_main, c) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "cannot start the checkpoint thread");
        goto out;
    }
    /* Replaces SQLite's auto-checkpoint, which is a WAL hook of its own. */
    sqlite3_wal_hook(st->conn.db, wal_hook, c);
    st->ckpt = c;
out:
    if (err != PS_OK)
        ckpt_free(c);
    return err;
}

void ps_store_checkpointer_stop(ps_store *st)
{
    ps_store_ckpt *c = st ? st->ckpt : NULL;
    if (!c)
        return;
    /* The committing thread checkpoints itself again from here, as before. */
    sqlite3_wal_autocheckpoint(st->conn.db, CKPT_DEFAULT_PAGES);
    ps_plat_mutex_lock(c->mu);
    c->stop = true;
    ps_plat_cond_signal(c->cv);
    ps_plat_mutex_unlock(c->mu);
    (void)ps_plat_thread_join(c->thread);
    st->ckpt = NULL;
    ckpt_free(c);
}

void ps_store_checkpointer_hold(ps_store *st, bool hold)
{
    ps_store_ckpt *c = st ? st->ckpt : NULL;
    if (!c)
        return;
    ps_plat_mutex_lock(c->mu);
    c->hold = hold;
    ps_plat_cond_signal(c->cv);
    ps_plat_cond_broadcast(c->done_cv);
    ps_plat_mutex_unlock(c->mu);
}

void ps_store_checkpointer_stats(ps_store *st, ps_store_ckpt_stats *out)
{
    ps_store_ckpt *c = st ? st->ckpt : NULL;
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    ps_plat_mutex_lock(c->mu);
    *out = c->stats;
    out->pages = c->pages;
    out->hard_pages = c->hard;
    ps_plat_mutex_unlock(c->mu);
}

void ps_store_ckpt_lock(ps_store *st)
{
    if (st->ckpt)
        ps_plat_mutex_lock(st->ckpt->run_mu);
}

void ps_store_ckpt_unlock(ps_store *st)
{
    if (st->ckpt)
        ps_plat_mutex_unlock(st->ckpt->run_mu);
}
