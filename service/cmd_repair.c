/* podstream repair: checks the database with the service stopped and, when it is
 * damaged, rebuilds it from what can still be read (ps_store_recover), keeps the
 * damaged file beside it and tells what was saved and lost. The devices' resume
 * state is marked so that the next start fetches the lost events from the archive
 * again. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"
#include "podstream/ps_time.h"

static const char *const cmd = "repair";

typedef struct repair_opts {
    const char *config, *db;
    bool utc;
} repair_opts;

static const ps_opt options[] = {
    {"utc", 0, PS_OPT_FLAG, NULL, offsetof(repair_opts, utc), "times in UTC instead of local time",
     NULL, 0, 0, NULL},
    PS_CLI_DATABASE_OPTIONS(repair_opts, "Database"),
};

const ps_opt_cmd ps_cmd_repair_opts = {
    "repair",
    "check the database and rebuild it when it is damaged",
    "[-c DIR | --db PATH] [--utc]",
    "Checks the database (SQLite's quick_check, which reads every page). When it\n"
    "is damaged, copies every event and row that can still be read into a new\n"
    "database, keeps the damaged file as DB.corrupt-<time>, puts the new one in its\n"
    "place and prints what was saved and lost. Each device's resume state is\n"
    "marked so that the next start fetches the lost events again from the archive\n"
    "(which keeps about 30 days).\n"
    "\n"
    "The service must be stopped: repair takes the lock the service takes and\n"
    "refuses while it is held. The new database gets the owner, group and mode\n"
    "of the damaged one (on Linux that takes root, or the account the service\n"
    "runs as), so the service can open it.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 no damage found, or repaired; 1 the service is running, or the\n"
    "database cannot be read or rebuilt; 2 usage error; 3 invalid configuration.",
    0,
};

/* The locks `podstream run` takes (ps_cli_lock_database). */
static int take_locks(const char *path, ps_plat_lockh locks[2])
{
    ps_errmsg em;
    ps_err err = ps_cli_lock_database(path, locks, &em);
    if (err == PS_ERR_CONFLICT) {
        fprintf(stderr,
                "podstream %s: %s; stop the service first (systemctl stop podstream), then run "
                "'podstream repair' again\n",
                cmd, em.text);
        return PS_EXIT_FAILURE;
    }
    if (err != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        return PS_EXIT_FAILURE;
    }
    return PS_EXIT_OK;
}

/* `base` with `suffix` appended, as a new string (NULL: out of memory). */
static char *with_suffix(const char *base, const char *suffix)
{
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", base, suffix);
    return s;
}

/* Removes a database file and its -wal and -shm, those that exist. */
static void remove_db_files(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        char *p = with_suffix(path, sfx[i]);
        if (p)
            (void)ps_plat_remove(p, NULL);
        free(p);
    }
}

/* Moves `from` (and its -wal, when there is one) to `to`; rename is ISO C, and
 * neither target exists, which Windows needs too. */
static bool move_db(const char *from, const char *to)
{
    char *fw = with_suffix(from, "-wal"), *tw = with_suffix(to, "-wal");
    bool ok = fw && tw && rename(from, to) == 0;
    if (ok && ps_plat_file_exists(fw))
        ok = rename(fw, tw) == 0;
    free(fw);
    free(tw);
    return ok;
}

/* Gives `to` the owner, group and mode of the database `path`: repair usually runs
 * as root, and a rebuilt file (or a lock file) left to root is one the service
 * cannot open. Says what to do when that fails; the repair goes on. */
static void keep_owner(const char *path, const char *to)
{
    ps_errmsg em;
    if (ps_plat_file_exists(to) && ps_plat_copy_owner(path, to, true, &em) != PS_OK)
        fprintf(stderr,
                "podstream %s: warning: %s; give it the owner of %s (chown --reference=%s %s) "
                "before starting the service\n",
                cmd, em.text, path, path, to);
}

/* The damaged file goes aside, the -shm of its connections away, the new one in. */
static int swap_in(const char *path, const char *fresh, char *kept, size_t kept_len)
{
    char stamp[40], *shm = with_suffix(path, "-shm");
    int64_t now_s = ps_plat_now_us() / 1000000;
    struct tm tm;
    if (!shm) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        return PS_EXIT_FAILURE;
    }
    if (!ps_plat_gmtime(now_s, &tm) || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
        snprintf(stamp, sizeof stamp, "%lld", (long long)now_s);
    snprintf(kept, kept_len, "%s.corrupt-%s", path, stamp);
    if (!move_db(path, kept)) {
        fprintf(stderr, "podstream %s: cannot move %s to %s; the database is unchanged\n", cmd,
                path, kept);
        free(shm);
        return PS_EXIT_FAILURE;
    }
    (void)ps_plat_remove(shm, NULL);
    free(shm);
    if (!move_db(fresh, path)) {
        fprintf(stderr,
                "podstream %s: cannot move the rebuilt database %s to %s: move it there by "
                "hand before starting the service\n",
                cmd, fresh, path);
        return PS_EXIT_FAILURE;
    }
    return PS_EXIT_OK;
}

static void print_result(const char *path, const char *kept, const ps_store_recovery *r, bool utc)
{
    printf("Rebuilt %s:\n", path);
    printf("  events saved:  %llu\n", (unsigned long long)r->events_saved);
    if (r->events_lost || r->lost_to_us) {
        char from[64], to[64];
        ps_time_format_local(r->lost_from_us, utc, true, from, sizeof from);
        ps_time_format_local(r->lost_to_us, utc, true, to, sizeof to);
        printf("  events lost:   %llu, in %u damaged stretch%s, with event times from %s to %s\n",
               (unsigned long long)r->events_lost, r->gaps, r->gaps == 1 ? "" : "es", from, to);
    } else {
        printf("  events lost:   none\n");
    }
    printf("  other rows:    %llu saved, %llu lost (resume state, counters, quarantine)",
           (unsigned long long)r->rows_saved, (unsigned long long)r->rows_lost);
    if (r->tables_damaged)
        printf(", and more on damaged pages of %u table%s", r->tables_damaged,
               r->tables_damaged == 1 ? "" : "s");
    printf("\n");
    printf("  devices:       %zu, each marked to fetch %s from the archive on the next start\n",
           r->devices, r->lost_to_us ? "the lost time range again" : "what it missed");
    printf("The damaged file is kept as %s; delete it once the service runs well again.\n", kept);
}

/* Checks, and rebuilds when damaged. The locks are held by the caller. */
static int repair(const char *path, bool utc)
{
    ps_store *st = NULL;
    ps_store_recovery r;
    ps_errmsg em;
    ps_err err;
    char kept[1100];
    char *fresh = NULL;
    int rc = PS_EXIT_FAILURE;
    if ((err = ps_store_create(path, PS_STORE_READER, &st, &em)) == PS_OK)
        err = ps_store_quick_check(st, &em);
    ps_store_destroy(st);
    if (err == PS_OK) {
        printf("%s: no damage found (quick_check ok); nothing to repair\n", path);
        return PS_EXIT_OK;
    }
    fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
    if (err != PS_ERR_CORRUPT)
        return ps_cli_exit_code(err);
    if (!(fresh = with_suffix(path, ".repairing"))) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        return PS_EXIT_FAILURE;
    }
    /* What an interrupted repair left behind. */
    remove_db_files(fresh);
    printf("Rebuilding %s from what can still be read ...\n", path);
    fflush(stdout);
    if (ps_store_recover(path, fresh, ps_plat_now_us(), &r, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: cannot rebuild the database: %s; it is unchanged\n", cmd,
                em.text);
        remove_db_files(fresh);
    } else {
        char *fresh_wal = with_suffix(fresh, "-wal");
        keep_owner(path, fresh);
        if (fresh_wal)
            keep_owner(path, fresh_wal);
        free(fresh_wal);
        if ((rc = swap_in(path, fresh, kept, sizeof kept)) == PS_EXIT_OK)
            print_result(path, kept, &r, utc);
    }
    free(fresh);
    return rc;
}

int ps_cmd_repair(int argc, char **argv)
{
    repair_opts o = {NULL, NULL, false};
    ps_opt_list args = {NULL, 0};
    ps_plat_lockh locks[2] = {PS_PLAT_LOCK_NONE, PS_PLAT_LOCK_NONE};
    int rc = ps_cli_parse(&ps_cmd_repair_opts, argc, argv, &o, &args);
    char *path = NULL;
    if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error(cmd, "unexpected argument '%s'", args.v[0]);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;
    rc = PS_EXIT_OK;
    path = ps_cli_database_path(cmd, o.db, o.config, &rc);
    if (!path)
        return rc;
    if (!ps_plat_file_exists(path)) {
        fprintf(stderr, "podstream %s: %s: no database there\n", cmd, path);
        rc = PS_EXIT_FAILURE;
    } else if ((rc = take_locks(path, locks)) == PS_EXIT_OK) {
        /* Taking the lock may have created its file: the service must open it too. */
        char *lock_path = ps_cli_lock_path(path);
        if (lock_path)
            keep_owner(path, lock_path);
        free(lock_path);
        rc = repair(path, o.utc);
    }
    /* The database's lock after every connection to it is closed (see ps_plat_lock). */
    ps_cli_unlock_database(locks);
    free(path);
    return rc;
}
