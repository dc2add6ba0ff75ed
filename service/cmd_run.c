/* podstream run: stream every enabled device into the database until stopped. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_engine.h"
#include "podstream/ps_loader.h"
#include "podstream/ps_log.h"
#include "podstream/ps_metrics.h"
#include "podstream/ps_output.h"
#include "podstream/ps_platform.h"

/* How often the configuration files are checked for changes. */
#define WATCH_INTERVAL_MS 2000
/* How often the service manager's one-line status is refreshed. */
#define STATUS_INTERVAL_MS 5000
/* The log file of a Windows service: 10 MiB, the newest five kept. */
#define LOG_FILE_BYTES (10L * 1024 * 1024)
#define LOG_FILE_KEEP  5

/* What the service manager has been told (ps_plat_svc_notify), kept by the thread
 * that waits for signals: the watchdog is fed from there and nowhere else. */
typedef struct svc_report {
    int64_t watchdog_ms;  /* 0: no watchdog */
    int64_t last_ping_ms; /* monotonic */
    int64_t last_status_ms;
    uint64_t progress;   /* the writer's progress counter when last seen to move */
    int64_t progress_ms; /* monotonic time it was last seen to move */
} svc_report;

typedef struct run_opts {
    const char *config;
    int log_level; /* index in `levels`, or -1 for podstream.yml's */
} run_opts;

static const char *const levels[] = {"error", "warn", "info", "debug"};

static const ps_opt options[] = {
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(run_opts, config),
     "configuration directory (default: $PODSTREAM_CONFIG_DIR\nor {config_dir})", NULL, 0, 0, NULL},
    {"log-level", 0, PS_OPT_CHOICE, "L", offsetof(run_opts, log_level),
     "error, warn, info or debug (overrides podstream.yml)", NULL, 0, 0, "error|warn|info|debug"},
};

const ps_opt_cmd ps_cmd_run_opts = {
    "run",
    "stream every enabled device into the database (foreground)",
    "[-c DIR] [--log-level LEVEL]",
    "Streams every enabled device into the database, in the foreground, until\n"
    "SIGTERM or SIGINT (Ctrl-C). SIGHUP, or a change to any configuration file,\n"
    "reloads the configuration and restarts only the devices that changed; an\n"
    "invalid new configuration is logged and the running one keeps going.",
    options,
    sizeof options / sizeof options[0],
    NULL,
    0,
};

/* One number that changes when any file of the configuration changes. */
static uint64_t config_signature(const char *dir)
{
    static const char *const subdirs[] = {"devices", "pipelines", "outputs"};
    static const char *const suffixes[] = {".yml", ".yaml", NULL};
    uint64_t sig = 1469598103934665603ull;
    char *main_file = ps_plat_path_join(dir, "podstream.yml");

    if (main_file) {
        sig = (sig ^ ps_plat_file_stamp(main_file)) * 1099511628211ull;
        free(main_file);
    }
    for (size_t s = 0; s < sizeof subdirs / sizeof subdirs[0]; s++) {
        char *sub = ps_plat_path_join(dir, subdirs[s]);
        char **names = NULL;
        size_t n = 0;
        if (!sub)
            continue;
        if (ps_plat_list_dir(sub, suffixes, &names, &n, NULL) == PS_OK) {
            for (size_t i = 0; i < n; i++) {
                char *f = ps_plat_path_join(sub, names[i]);
                if (f) {
                    sig = (sig ^ ps_plat_file_stamp(f)) * 1099511628211ull;
                    free(f);
                }
            }
            sig = (sig ^ n) * 1099511628211ull;
            ps_plat_free_list(names, n);
        }
        free(sub);
    }
    return sig;
}

/* Loads `dir` with PS_LOADER_RESOLVE and `flags` and compiles its pipelines; on
 * errors logs each one and returns false, with the first error and how many more
 * in `why` (cap bytes; may be NULL). */
static bool load_logged(const char *dir, unsigned flags, ps_config **cfg, ps_pipeline_set **pipes,
                        char *why, size_t cap)
{
    ps_diag diag;
    bool ok;
    ps_diag_init(&diag);
    ok = ps_loader_load(dir, PS_LOADER_RESOLVE | flags, cfg, pipes, &diag) == PS_OK;
    if (why && cap)
        snprintf(why, cap, "the configuration cannot be loaded (see the log)");
    if (!ok || diag.count) {
        char line[2048];
        bool first = true;
        ps_diag_sort(&diag);
        for (size_t i = 0; i < diag.count; i++) {
            ps_diag_format(&diag.items[i], line, sizeof line);
            ps_log(diag.items[i].sev == PS_DIAG_ERROR ? PS_LOG_ERROR : PS_LOG_WARN,
                   PS_LOG_NO_DEVICE, "%s", line);
            if (why && cap && first && diag.items[i].sev == PS_DIAG_ERROR)
                snprintf(why, cap, "%s%s", line,
                         diag.errors > 1 ? " (and more errors: see the log)" : "");
            first = first && diag.items[i].sev != PS_DIAG_ERROR;
        }
    }
    if (!ok) {
        ps_pipeline_set_destroy(*pipes);
        ps_config_destroy(*cfg);
        *pipes = NULL;
        *cfg = NULL;
    }
    ps_diag_deinit(&diag);
    return ok;
}

/* The database locks of a writer (ps_cli_lock_database); a refusal is logged. */
static bool lock_database(const ps_config *cfg, ps_plat_lockh locks[2])
{
    ps_errmsg em;
    if (ps_cli_lock_database(cfg->service.database, locks, &em) == PS_OK)
        return true;
    ps_log_ev(PS_LOG_EV_FATAL, PS_LOG_ERROR, PS_LOG_NO_DEVICE, "%s", em.text);
    return false;
}

/* The running outputs (#16): started after the engine, stopped before it; one
 * service per process, so one set. */
static ps_outputs *run_outputs;
/* At a stop, how long the outputs may take to finish the batches they are sending. */
#define OUTPUT_STOP_MS 2000

/* Loads the configuration again and hands it to the engine and the outputs; an
 * invalid one is logged and the running one stays. */
static void reload(ps_engine *eng, const char *dir, const run_opts *o, ps_log_level forced_level)
{
    ps_config *ncfg = NULL;
    ps_pipeline_set *npipes = NULL;
    ps_errmsg em;
    char why[2112]; /* a diagnostic line (2,048) and the note after it */
    if (!load_logged(dir, PS_LOADER_RELOAD, &ncfg, &npipes, why, sizeof why)) {
        ps_log_ev(PS_LOG_EV_RELOAD, PS_LOG_ERROR, PS_LOG_NO_DEVICE,
                  "new configuration rejected; the running configuration stays in effect");
        ps_engine_reload_refused(eng, why);
        return;
    }
    if (o->log_level >= 0)
        ncfg->service.log_level = forced_level;
    if (ps_engine_reload(eng, ncfg, npipes, &em) != PS_OK) {
        ps_log_ev(PS_LOG_EV_RELOAD, PS_LOG_ERROR, PS_LOG_NO_DEVICE,
                  "new configuration rejected: %s; the running configuration stays in effect",
                  em.text);
        return;
    }
    ps_log_ev(PS_LOG_EV_RELOAD, PS_LOG_INFO, PS_LOG_NO_DEVICE, "configuration reloaded");
    /* The engine keeps ncfg and npipes until it is destroyed, after the outputs. */
    if (run_outputs && ps_outputs_apply(run_outputs, ncfg, npipes, &em) != PS_OK)
        ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "outputs: %s", em.text);
}

/* Refreshes the status line every STATUS_INTERVAL_MS and feeds the watchdog at
 * half its interval, but only while the writer's progress counter moved within the
 * interval: a stuck writer must get the service restarted. */
static void svc_tick(ps_engine *eng, svc_report *r, bool force_status)
{
    ps_engine_health h;
    int64_t now = ps_plat_mono_ms();

    ps_engine_health_get(eng, &h);
    if (h.progress != r->progress) {
        r->progress = h.progress;
        r->progress_ms = now;
    }
    if (force_status || now - r->last_status_ms >= STATUS_INTERVAL_MS) {
        char line[128];
        snprintf(line, sizeof line, "%zu of %zu device(s) live, %.1f events/s", h.live, h.devices,
                 h.rate_10s);
        (void)ps_plat_svc_notify(PS_SVC_STATUS, line);
        r->last_status_ms = now;
    }
    if (r->watchdog_ms > 0 && now - r->last_ping_ms >= r->watchdog_ms / 2 &&
        now - r->progress_ms < r->watchdog_ms) {
        (void)ps_plat_svc_notify(PS_SVC_WATCHDOG, NULL);
        r->last_ping_ms = now;
    }
}

/* Writes the metrics file (metrics_file) when it is due; says so once when that
 * starts failing and once when it works again, not every few seconds. */
static void metrics_tick(ps_metrics_file *m, ps_engine *eng, bool up, bool *failing)
{
    size_t n = m ? ps_engine_bytes_get(eng, NULL, 0) : 0;
    ps_engine_bytes *b = NULL;
    ps_metrics_bytes *mb = NULL;
    ps_errmsg em;
    bool failed;
    if (!m)
        return;
    b = calloc(n + 1, sizeof *b);
    mb = calloc(n + 1, sizeof *mb);
    n = b && mb ? ps_engine_bytes_get(eng, b, n) : 0;
    for (size_t i = 0; i < n; i++)
        mb[i] = (ps_metrics_bytes){b[i].device_id, b[i].bytes};
    failed = ps_metrics_file_tick(m, up, mb, mb ? n : 0, &em) != PS_OK;
    free(mb);
    free(b);
    if (failed && !*failing)
        ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "cannot write the metrics file: %s", em.text);
    else if (!failed && *failing)
        ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "the metrics file is written again");
    *failing = failed;
}

/* Waits for a stop request, reloading on a hangup or a change of the files whose
 * signature was `sig` when they were loaded. */
static void serve(ps_engine *eng, const char *dir, const run_opts *o, ps_log_level forced_level,
                  uint64_t sig, ps_metrics_file *metrics)
{
    bool metrics_failing = false;
    int64_t last_watch = ps_plat_mono_ms();
    svc_report r = {ps_plat_svc_watchdog_ms(), 0, 0, 0, last_watch};
    /* Wake often enough to ping at half the watchdog interval. */
    int wait_ms = r.watchdog_ms > 0 && r.watchdog_ms / 4 < 1000 ? (int)(r.watchdog_ms / 4) : 1000;

    for (;;) {
        const char *what;
        ps_signal got = ps_plat_signal_wait(wait_ms > 0 ? wait_ms : 1, &what);
        bool again = false;
        if (ps_engine_fault(eng, NULL) != PS_OK)
            return; /* logged by the engine; the stop below says what it left */
        if (got == PS_SIGNAL_STOP) {
            ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "%s received: draining and stopping", what);
            (void)ps_plat_svc_notify(PS_SVC_STOPPING, "stopping: draining the queues");
            return;
        }
        if (got == PS_SIGNAL_RELOAD) {
            ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "%s received: reloading the configuration", what);
            again = true;
        } else if (ps_plat_mono_ms() - last_watch >= WATCH_INTERVAL_MS) {
            uint64_t now_sig = config_signature(dir);
            last_watch = ps_plat_mono_ms();
            if (now_sig != sig) {
                ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE,
                       "configuration files changed: reloading the configuration");
                again = true;
            }
        }
        if (again) {
            sig = config_signature(dir);
            (void)ps_plat_svc_notify(PS_SVC_RELOADING, "reloading the configuration");
            reload(eng, dir, o, forced_level);
            (void)ps_plat_svc_notify(PS_SVC_READY, NULL);
        }
        svc_tick(eng, &r, again);
        metrics_tick(metrics, eng, true, &metrics_failing);
    }
}

/* Stops the engine and says how it went: the exit code is not 0 when the engine
 * had a fault or something received was neither stored nor spooled. */
static int stop_logged(ps_engine *eng)
{
    ps_errmsg em, fem;
    ps_err fault = ps_engine_fault(eng, &fem);
    ps_err err = ps_engine_stop(eng, &em);

    if (fault != PS_OK)
        ps_log_ev(PS_LOG_EV_STOP, PS_LOG_ERROR, PS_LOG_NO_DEVICE,
                  "stopped because of a database failure: %s", fem.text);
    if (err == PS_ERR_AGAIN)
        ps_log_ev(PS_LOG_EV_STOP, PS_LOG_WARN, PS_LOG_NO_DEVICE, "stopped, not cleanly: %s",
                  em.text);
    else if (err != PS_OK)
        ps_log_ev(PS_LOG_EV_STOP, PS_LOG_ERROR, PS_LOG_NO_DEVICE, "stopped, events lost: %s",
                  em.text);
    else if (fault == PS_OK)
        ps_log_ev(PS_LOG_EV_STOP, PS_LOG_INFO, PS_LOG_NO_DEVICE, "stopped cleanly");
    if (fault == PS_ERR_CORRUPT)
        return PS_EXIT_DAMAGED;
    return fault != PS_OK || (err != PS_OK && err != PS_ERR_AGAIN) ? PS_EXIT_FAILURE : PS_EXIT_OK;
}

/* The outputs of the configuration, beside the engine; a failure is logged and the
 * service streams on without them. */
static void start_outputs(const ps_config *cfg, const ps_pipeline_set *pipes)
{
    ps_errmsg em;
    char *state_dir = ps_plat_dir_name(cfg->service.database);
    if (ps_outputs_create(cfg->service.database, state_dir, &run_outputs, &em) != PS_OK ||
        ps_outputs_apply(run_outputs, cfg, pipes, &em) != PS_OK)
        ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "outputs: %s", em.text);
    free(state_dir);
}

/* The whole of `run`, on the main thread from a console, on the service's thread
 * under the Windows service control manager. */
static int run_main(int argc, char **argv)
{
    run_opts o = {NULL, -1};
    ps_opt_list args = {NULL, 0};
    ps_log_level forced_level = PS_LOG_INFO;
    ps_engine *eng = NULL;
    ps_metrics_file *metrics = NULL;
    bool metrics_failing = false;
    ps_config *cfg = NULL;
    ps_pipeline_set *pipes = NULL;
    ps_errmsg em;
    ps_err err;
    ps_plat_lockh locks[2] = {PS_PLAT_LOCK_NONE, PS_PLAT_LOCK_NONE};
    int rc = ps_cli_parse(&ps_cmd_run_opts, argc, argv, &o, &args);
    uint64_t sig;
    const char *dir;

    if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error("run", "unexpected argument '%s'", args.v[0]);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;
    if (o.log_level >= 0)
        (void)ps_log_level_parse(levels[o.log_level], &forced_level);
    dir = ps_cli_config_dir(o.config);

    /* Stop and reload requests are taken synchronously by this thread only; the
     * engine's threads inherit the blocked mask. */
    ps_plat_signals_block();
    ps_plat_ignore_broken_pipe();

    sig = config_signature(dir);
    if (!load_logged(dir, 0, &cfg, &pipes, NULL, 0)) {
        ps_log_ev(PS_LOG_EV_CONFIG, PS_LOG_ERROR, PS_LOG_NO_DEVICE,
                  "configuration in %s is invalid; not starting", dir);
        return PS_EXIT_CONFIG;
    }
    ps_log_set_level(o.log_level >= 0 ? forced_level : cfg->service.log_level);
    if (!lock_database(cfg, locks)) {
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        return PS_EXIT_FAILURE;
    }
    ps_log_ev(PS_LOG_EV_START, PS_LOG_INFO, PS_LOG_NO_DEVICE,
              "podstream %s starting: %zu device(s), database %s", PS_VERSION, cfg->ndevices,
              cfg->service.database);
    rc = PS_EXIT_FAILURE;
    err = ps_engine_create(cfg, pipes, &eng, &em);
    if (err == PS_OK)
        err = ps_engine_start(eng, &em);
    if (err != PS_OK) {
        ps_log_ev(PS_LOG_EV_FATAL, PS_LOG_ERROR, PS_LOG_NO_DEVICE, "cannot start: %s", em.text);
        if (err == PS_ERR_CORRUPT)
            rc = PS_EXIT_DAMAGED;
        goto out;
    }
    (void)ps_plat_svc_notify(PS_SVC_READY, "started");
    /* The engine owns cfg now, and keeps it until it is destroyed. A changed
     * metrics_file takes effect at the next start. */
    if (cfg->service.metrics_file &&
        ps_metrics_file_create(cfg->service.metrics_file, cfg->service.database,
                               cfg->service.metrics_interval_ms, ps_plat_now_us(), &metrics,
                               &em) != PS_OK)
        ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "no metrics file: %s", em.text);
    start_outputs(cfg, pipes);
    serve(eng, dir, &o, forced_level, sig, metrics);
    /* Each output finishes the batch it is delivering, within the stop bound. */
    ps_outputs_destroy(run_outputs, ps_plat_mono_ms() + OUTPUT_STOP_MS);
    run_outputs = NULL;
    rc = stop_logged(eng);
    metrics_tick(metrics, eng, false, &metrics_failing);
out:
    /* The engine closes the store: closing our handle on the database before that
     * would drop SQLite's own locks on it (POSIX locks go with any close). */
    ps_metrics_file_destroy(metrics);
    ps_engine_destroy(eng);
    ps_cli_unlock_database(locks);
    return rc;
}

/* Under the Windows service control manager nobody reads stderr: the log goes to
 * <ProgramData>\podstream\logs\podstream.log as well, LOG_FILE_KEEP files of at most
 * LOG_FILE_BYTES. False when there is no such file (a console, Linux). */
static bool service_log_open(void)
{
    const char *dir = ps_plat_svc_log_dir();
    char *path = dir ? ps_plat_path_join(dir, "podstream.log") : NULL;
    ps_errmsg em;
    bool ok = path && ps_plat_mkdirs(dir, 0750, &em) == PS_OK &&
              ps_log_open_file(path, LOG_FILE_BYTES, LOG_FILE_KEEP, &em) == PS_OK;

    if (dir && !ok)
        ps_log_ev(PS_LOG_EV_FATAL, PS_LOG_WARN, PS_LOG_NO_DEVICE, "no log file in %s: %s", dir,
                  path ? em.text : "out of memory");
    free(path);
    return ok;
}

static int run_service(int argc, char **argv)
{
    bool file = service_log_open();
    int rc = run_main(argc, argv);
    if (file)
        ps_log_close_file();
    return rc;
}

int ps_cmd_run(int argc, char **argv)
{
    int rc;
    if (ps_plat_svc_run("podstream", run_service, argc, argv, &rc))
        return rc;
    return run_main(argc, argv);
}
