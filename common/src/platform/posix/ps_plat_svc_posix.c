/* Windows services on POSIX: nothing to do. systemd runs `podstream run` as an
 * ordinary process (ps_plat_notify_posix.c talks to it), takes stderr into the
 * journal, and the package and systemctl install and control the unit. */
#include "podstream/ps_platform.h"

bool ps_plat_svc_run(const char *name, ps_plat_svc_main_fn fn, int argc, char **argv, int *rc)
{
    (void)name, (void)fn, (void)argc, (void)argv, (void)rc;
    return false;
}

const char *ps_plat_svc_log_dir(void)
{
    return NULL;
}

bool ps_plat_eventlog(int kind, int level, const char *text)
{
    (void)kind, (void)level, (void)text;
    return false;
}

static ps_err unsupported(ps_errmsg *em)
{
    return ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                         "Windows services only; on Linux systemd runs podstream.service");
}

ps_err ps_plat_svc_install(const ps_plat_svc_spec *spec, ps_plat_svc_installed *out, ps_errmsg *em)
{
    (void)spec;
    out->account = NULL;
    out->skipped[0] = '\0';
    return unsupported(em);
}

ps_err ps_plat_svc_uninstall(const char *name, int timeout_ms, ps_errmsg *em)
{
    (void)name, (void)timeout_ms;
    return unsupported(em);
}

ps_err ps_plat_svc_start(const char *name, int timeout_ms, ps_errmsg *em)
{
    (void)name, (void)timeout_ms;
    return unsupported(em);
}

ps_err ps_plat_svc_stop(const char *name, int timeout_ms, ps_errmsg *em)
{
    (void)name, (void)timeout_ms;
    return unsupported(em);
}

ps_err ps_plat_svc_reload(const char *name, ps_errmsg *em)
{
    (void)name;
    return unsupported(em);
}

ps_err ps_plat_svc_query(const char *name, ps_plat_svc_info *out, ps_errmsg *em)
{
    (void)name, (void)out;
    return unsupported(em);
}
