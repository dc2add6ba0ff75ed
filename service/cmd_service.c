/* podstream service: installs and controls podstream as a Windows service. The
 * service control manager's side lives in the platform layer (ps_plat_svc_*); on
 * Linux the package installs a systemd unit, so this command only says so. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_platform.h"

static const char *const cmd = "service";
static const char *const svc_name = "podstream";

typedef enum action {
    ACT_INSTALL,
    ACT_UNINSTALL,
    ACT_START,
    ACT_STOP,
    ACT_RELOAD,
    ACT_STATUS,
    ACT_PROTECT
} action;
static const char *const action_names[] = {"install", "uninstall", "start",  "stop",
                                           "reload",  "status",    "protect"};
#define NACTIONS (sizeof action_names / sizeof action_names[0])
/* What systemctl does instead on Linux, per action. */
static const char *const systemctl_verbs[] = {
    "enable --now", "disable --now", "start", "stop",
    "reload",       "status",        NULL /* protect works on both */};
/* The configuration directory's access: the service and the admins (the package's
 * ConfigurationDirectoryMode on Linux). */
#define CONFIG_DIR_MODE 0750

typedef struct service_opts {
    const char *config;
    long long timeout;
} service_opts;

static const ps_opt options[] = {
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(service_opts, config),
     "install, protect: the configuration directory the\nservice runs with (default: "
     "$PODSTREAM_CONFIG_DIR, else\n{config_dir})",
     NULL, 0, 0, NULL},
    {"timeout", 0, PS_OPT_INT, "SECONDS", offsetof(service_opts, timeout),
     "start, stop, uninstall: how long to wait for the\nservice (default 60)", NULL, 1, 3600, NULL},
};

const ps_opt_cmd ps_cmd_service_opts = {
    "service",
    "install, uninstall, start, stop, reload or show the Windows service",
    "install [-c DIR]\n"
    "protect [-c DIR]\n"
    "uninstall [--timeout SECONDS]\n"
    "start [--timeout SECONDS]\n"
    "stop [--timeout SECONDS]\n"
    "reload\n"
    "status",
    "Windows only (but protect); on Linux the package installs podstream.service for\n"
    "systemd.\n"
    "\n"
    "install    registers the service \"podstream\" to run 'podstream.exe run -c DIR'\n"
    "           as NT SERVICE\\podstream (a virtual account; LocalService where the\n"
    "           system has none), started automatically (delayed) at boot and\n"
    "           restarted after a failure (10 s, 60 s, then 5 min; the count resets\n"
    "           after a day), and the Event Log source \"podstream\". Needs an\n"
    "           elevated prompt. The MSI does this for you. Then protects DIR.\n"
    "protect    gives DIR an access list of its own: SYSTEM, Administrators and the\n"
    "           service, and the group \"podstream readers\" if it exists, may read it;\n"
    "           the files in it inherit that, so device files holding tokens are not\n"
    "           readable by every user as %ProgramData% is. On Linux: chmod 750.\n"
    "uninstall  stops the service and removes it and its Event Log source; the\n"
    "           configuration, the key and the database stay.\n"
    "start      starts the service and waits until it runs.\n"
    "stop       stops it (the same clean drain as Ctrl+C) and waits.\n"
    "reload     asks it to read the configuration again (as a change to a file does;\n"
    "           'sc control podstream paramchange' is the same).\n"
    "status     prints its state, process id, start type, account, command line and\n"
    "           last exit code.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 success (status: the service runs), 1 failure (status: not\n"
    "installed or not running), 2 usage error (and on Linux), 4 not an administrator.",
    0,
};

static int parse_action(int argc, char **argv, action *a)
{
    for (size_t i = 0; i < NACTIONS; i++)
        if (argc >= 2 && strcmp(argv[1], action_names[i]) == 0) {
            *a = (action)i;
            return PS_CLI_RUN;
        }
    if (argc >= 2 && argv[1][0] != '-')
        return ps_cli_usage_error(
            cmd,
            "unknown action '%s'; expected install, uninstall, start, stop, reload, status or "
            "protect",
            argv[1]);
    return PS_EXIT_USAGE;
}

static int failed(ps_err err, const ps_errmsg *em)
{
    fprintf(stderr, "podstream %s: %s\n", cmd, em->text);
    return err == PS_ERR_PERM ? PS_EXIT_SECURITY : PS_EXIT_FAILURE;
}

/* Gives the configuration directory its access list (ps_plat_protect_dir). */
static int protect(const char *config)
{
    const char *dir = ps_cli_config_dir(config);
    ps_errmsg em;
    ps_err err = ps_plat_protect_dir(dir, CONFIG_DIR_MODE, &em);
    if (err != PS_OK)
        return failed(err, &em);
    printf("protected %s: only the service and the administrators may read it\n", dir);
    return PS_EXIT_OK;
}

static int install(const service_opts *o)
{
    char *dir = ps_plat_path_absolute(ps_cli_config_dir(o->config));
    ps_plat_svc_spec spec = {svc_name, "podstream (Proofpoint On Demand log stream)",
                             "Streams Proofpoint On Demand log events into a local database.", dir};
    ps_plat_svc_installed done;
    ps_errmsg em;
    ps_err err;

    if (!dir) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        return PS_EXIT_FAILURE;
    }
    err = ps_plat_svc_install(&spec, &done, &em);
    if (err == PS_OK) {
        printf("installed the service %s: runs as %s with the configuration in %s\n", svc_name,
               done.account, dir);
        if (done.skipped[0])
            printf("this system does not support these settings, left out: %s\n", done.skipped);
        printf("start it with 'podstream service start'\n");
    }
    free(dir);
    if (err != PS_OK)
        return failed(err, &em);
    return protect(o->config);
}

static int status(void)
{
    ps_plat_svc_info info;
    ps_errmsg em;
    ps_err err = ps_plat_svc_query(svc_name, &info, &em);

    if (err == PS_ERR_NOTFOUND) {
        printf("Service:   %s is not installed\n", svc_name);
        return PS_EXIT_FAILURE;
    }
    if (err != PS_OK)
        return failed(err, &em);
    printf("Service:   %s\n", svc_name);
    if (info.pid)
        printf("State:     %s (pid %lu)\n", info.state, info.pid);
    else
        printf("State:     %s\n", info.state);
    printf("Start:     %s\n", info.start);
    printf("Account:   %s\n", info.account);
    printf("Command:   %s\n", info.command);
    printf("Last exit: %ld\n", info.exit_code);
    return strcmp(info.state, "running") == 0 ? PS_EXIT_OK : PS_EXIT_FAILURE;
}

static int control(action a, const service_opts *o)
{
    int timeout_ms = (int)(o->timeout ? o->timeout : 60) * 1000;
    ps_errmsg em;
    ps_err err;

    switch (a) {
    case ACT_INSTALL:
        return install(o);
    case ACT_STATUS:
        return status();
    case ACT_START:
        err = ps_plat_svc_start(svc_name, timeout_ms, &em);
        break;
    case ACT_STOP:
        err = ps_plat_svc_stop(svc_name, timeout_ms, &em);
        break;
    case ACT_RELOAD:
        err = ps_plat_svc_reload(svc_name, &em);
        break;
    default:
        err = ps_plat_svc_uninstall(svc_name, timeout_ms, &em);
        break;
    }
    if (err != PS_OK)
        return failed(err, &em);
    printf("%s: %s\n", svc_name,
           a == ACT_START    ? "running"
           : a == ACT_STOP   ? "stopped"
           : a == ACT_RELOAD ? "asked to reload its configuration (its log says how it went)"
                             : "uninstalled (configuration, key and database kept)");
    return PS_EXIT_OK;
}

int ps_cmd_service(int argc, char **argv)
{
    service_opts o = {NULL, 0};
    ps_opt_list args = {NULL, 0};
    action a = ACT_STATUS;
    ps_plat_svc_info probe;
    int rc = parse_action(argc, argv, &a);
    bool has_action = rc == PS_CLI_RUN;

    /* Without an action, options are still parsed so that --help and --version work. */
    if (rc == PS_CLI_RUN || (argc < 2 || argv[1][0] == '-'))
        rc = ps_cli_parse(&ps_cmd_service_opts, argc - has_action, argv + has_action, &o, &args);
    if (rc == PS_CLI_RUN && !has_action)
        rc = ps_cli_usage_error(cmd, "expected an action: install, uninstall, start, stop, reload, "
                                     "status or protect");
    if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error(cmd, "%s: unexpected argument '%s'", action_names[a], args.v[0]);
    if (rc == PS_CLI_RUN && a != ACT_INSTALL && a != ACT_PROTECT && o.config)
        rc = ps_cli_usage_error(cmd, "-c/--config is for install and protect");
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;
    if (a == ACT_PROTECT)
        return protect(o.config);
    if (ps_plat_svc_query(svc_name, &probe, NULL) == PS_ERR_UNSUPPORTED) {
        fprintf(stderr,
                "podstream %s: Windows services only; on Linux the package installs "
                "podstream.service: use 'systemctl %s podstream' (see docs/operations.md)\n",
                cmd, systemctl_verbs[a]);
        return PS_EXIT_USAGE;
    }
    return control(a, &o);
}
