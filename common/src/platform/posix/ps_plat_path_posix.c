/* Path spelling and default locations on POSIX. */
#include "podstream/ps_platform.h"
#include "platform/ps_plat_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *ps_plat_dir_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

bool ps_plat_path_is_absolute(const char *p)
{
    return p && p[0] == '/';
}

char *ps_plat_path_join(const char *a, const char *b)
{
    size_t la;
    if (ps_plat_path_is_absolute(b) || !a || !*a)
        return strdup(b);
    la = strlen(a);
    return ps_plat_join_raw(a, la, a[la - 1] != '/' ? '/' : '\0', b);
}

char *ps_plat_path_absolute(const char *p)
{
    char *cwd, *r;
    if (ps_plat_path_is_absolute(p))
        return strdup(p);
    cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL;
    /* "./conf" reads better as "/home/x/conf" than "/home/x/./conf". */
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    r = (p[0] == '\0' || strcmp(p, ".") == 0) ? strdup(cwd) : ps_plat_path_join(cwd, p);
    free(cwd);
    return r;
}

const char *ps_plat_default_config_dir(void)
{
    return "/etc/podstream";
}

const char *ps_plat_default_state_dir(void)
{
    return "/var/lib/podstream";
}
