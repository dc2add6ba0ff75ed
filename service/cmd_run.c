/* podstream run: stream every enabled device into the database until stopped. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_engine.h"
#include "podstream/ps_loader.h"
#include "podstream/ps_log.h"
#include "podstream/ps_platform.h"

/* How often the configuration files are checked for changes. */
#define WATCH_INTERVAL_MS 2000

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: podstream run [-c DIR] [--log-level LEVEL]\n\n"
            "Streams every enabled device into the database, in the foreground, until\n"
            "SIGTERM or SIGINT (Ctrl-C). SIGHUP, or a change to any configuration file,\n"
            "reloads the configuration and restarts only the devices that changed; an\n"
            "invalid new configuration is logged and the running one keeps going.\n\n"
            "Options:\n"
            "  -c, --config DIR      configuration directory (default: $PODSTREAM_CONFIG_DIR\n"
            "                        or %s)\n"
            "      --log-level L     error, warn, info or debug (overrides podstream.yml)\n"
            "  -h, --help            this help\n"
            "  -V, --version         version and library versions\n",
            ps_plat_default_config_dir());
}

/* One number that changes when any file of the configuration changes. */
static uint64_t config_signature(const char *dir)
{
    static const char *const subdirs[] = {"devices", "pipelines"};
    static const char *const suffixes[] = {".yml", ".yaml", NULL};
    uint64_t sig = 1469598103934665603ull;
    char *main_file = ps_plat_path_join(dir, "podstream.yml");

    if (main_file) {
        sig = (sig ^ ps_plat_file_stamp(main_file)) * 1099511628211ull;
        free(main_file);
    }
    for (size_t s = 0; s < 2; s++) {
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

/* Loads `dir` and compiles its pipelines; on errors logs each one and returns
 * false. */
static bool load_logged(const char *dir, ps_config **cfg, ps_pipeline_set **pipes)
{
    ps_diag diag;
    bool ok;
    ps_diag_init(&diag);
    ok = ps_loader_load(dir, PS_LOADER_RESOLVE, cfg, pipes, &diag) == PS_OK;
    if (!ok || diag.count) {
        char line[2048];
        ps_diag_sort(&diag);
        for (size_t i = 0; i < diag.count; i++) {
            ps_diag_format(&diag.items[i], line, sizeof line);
            ps_log(diag.items[i].sev == PS_DIAG_ERROR ? PS_LOG_ERROR : PS_LOG_WARN,
                   PS_LOG_NO_DEVICE, "%s", line);
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

int ps_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *dir_opt = NULL, *level_opt = NULL;
    ps_log_level forced_level = PS_LOG_INFO;
    ps_engine *eng = NULL;
    ps_config *cfg = NULL;
    ps_pipeline_set *pipes = NULL;
    ps_errmsg em;
    char *lock_path = NULL;
    int lock = -1;
    int rc = PS_EXIT_FAILURE;
    int c;
    uint64_t sig;
    int64_t last_watch;
    const char *dir;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            dir_opt = optarg;
            break;
        case 'l':
            level_opt = optarg;
            break;
        case 'h':
            run_usage(stdout);
            return PS_EXIT_OK;
        case 'V':
            ps_cli_print_version(stdout);
            return PS_EXIT_OK;
        default:
            return ps_cli_usage_error("run", "unknown option");
        }
    }
    if (optind < argc)
        return ps_cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    if (level_opt && ps_log_level_parse(level_opt, &forced_level) != PS_OK)
        return ps_cli_usage_error("run", "--log-level must be error, warn, info or debug");
    dir = ps_cli_config_dir(dir_opt);

    /* Stop and reload requests are taken synchronously by this thread only; the
     * engine's threads inherit the blocked mask. */
    ps_plat_signals_block();
    ps_plat_ignore_broken_pipe();

    sig = config_signature(dir);
    if (!load_logged(dir, &cfg, &pipes)) {
        ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "configuration in %s is invalid; not starting", dir);
        return PS_EXIT_CONFIG;
    }
    ps_log_set_level(level_opt ? forced_level : cfg->service.log_level);
    lock_path = malloc(strlen(cfg->service.database) + 6);
    if (!lock_path) {
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        return PS_EXIT_FAILURE;
    }
    sprintf(lock_path, "%s.lock", cfg->service.database);
    {
        /* The database directory may not exist yet on a first start. */
        char *lock_dir = ps_plat_dir_name(lock_path);
        if (lock_dir)
            (void)ps_plat_mkdirs(lock_dir, 0750, NULL);
        free(lock_dir);
    }
    if (ps_plat_lock(lock_path, &lock, &em) != PS_OK) {
        ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "%s", em.text);
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        free(lock_path);
        return PS_EXIT_FAILURE;
    }
    ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "podstream %s starting: %zu device(s), database %s",
           PS_VERSION, cfg->ndevices, cfg->service.database);
    if (ps_engine_create(cfg, pipes, &eng, &em) != PS_OK || ps_engine_start(eng, &em) != PS_OK) {
        ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "cannot start: %s", em.text);
        goto out;
    }

    last_watch = ps_plat_mono_ms();
    for (;;) {
        const char *what;
        ps_signal got = ps_plat_signal_wait(1000, &what);
        bool reload = false;
        if (got == PS_SIGNAL_STOP) {
            ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "%s received: draining and stopping", what);
            break;
        }
        if (got == PS_SIGNAL_RELOAD) {
            ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "%s received: reloading the configuration", what);
            reload = true;
        } else if (ps_plat_mono_ms() - last_watch >= WATCH_INTERVAL_MS) {
            uint64_t now_sig = config_signature(dir);
            last_watch = ps_plat_mono_ms();
            if (now_sig != sig) {
                ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE,
                       "configuration files changed: reloading the configuration");
                reload = true;
            }
        }
        if (reload) {
            ps_config *ncfg = NULL;
            ps_pipeline_set *npipes = NULL;
            sig = config_signature(dir);
            if (!load_logged(dir, &ncfg, &npipes)) {
                ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE,
                       "new configuration rejected; the running configuration stays in effect");
                continue;
            }
            if (level_opt)
                ncfg->service.log_level = forced_level;
            if (ps_engine_reload(eng, ncfg, npipes, &em) != PS_OK)
                ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "reload failed: %s", em.text);
            else
                ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "configuration reloaded");
        }
    }
    ps_engine_stop(eng);
    ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "stopped cleanly");
    rc = PS_EXIT_OK;
out:
    ps_engine_destroy(eng);
    ps_plat_unlock(lock);
    free(lock_path);
    return rc;
}
