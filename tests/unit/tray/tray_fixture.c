/* tray_fixture DB SCENARIO [SECONDS]: writes the counters a running service would have written
 * just now into the database DB (created when missing), for tests/windows/
 * test_tray_wine.sh to show podstream-tray.exe --print-state.
 *   live    two devices live, 12.25 and 30 events/s; one failed a minute ago
 *   unauth  the same, and a third device unauthorised
 *   backoff the same two, pod-us reconnecting after its error (tests/windows/shot_tray_wine.sh)
 *   stale   the live counters, written ten minutes ago (the service stopped)
 * With SECONDS, writes them again every second for that long, as the service does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

static ps_device_counters device(long long id, const char *name, ps_device_state state, double rate,
                                 int64_t at_us)
{
    ps_device_counters c;
    memset(&c, 0, sizeof c);
    c.device_id = id;
    snprintf(c.name, sizeof c.name, "%s", name);
    c.type = PS_DATA_MAILLOG;
    c.state = state;
    c.rate_10s = rate;
    c.rate_1m = rate;
    c.updated_us = at_us;
    return c;
}

int main(int argc, char **argv)
{
    ps_store *st = NULL;
    ps_errmsg em;
    ps_device_counters c[3];
    size_t n = 2;
    int64_t now = ps_plat_now_us();
    int rc = 1;
    long seconds = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
    if (argc != 3 && argc != 4) {
        fputs("usage: tray_fixture DB live|unauth|backoff|stale [SECONDS]\n", stderr);
        return 2;
    }
    if (!strcmp(argv[2], "stale"))
        now -= 600 * 1000000LL;
    c[0] = device(1, "pod-eu", PS_STATE_LIVE, 12.25, now);
    c[1] = device(2, "pod-us", PS_STATE_LIVE, 30.0, now);
    snprintf(c[1].last_error, sizeof c[1].last_error, "connection reset by peer");
    c[1].last_error_us = now - 60 * 1000000LL;
    if (!strcmp(argv[2], "backoff")) {
        c[1].state = PS_STATE_BACKOFF;
        c[1].rate_10s = 0;
    }
    if (!strcmp(argv[2], "unauth")) {
        c[2] = device(3, "pod-apac", PS_STATE_UNAUTHORISED, 0, now);
        snprintf(c[2].last_error, sizeof c[2].last_error, "HTTP 401: token refused");
        c[2].last_error_us = now;
        n = 3;
    }
    if (ps_store_create(argv[1], PS_STORE_WRITER, &st, &em) != PS_OK) {
        fprintf(stderr, "tray_fixture: %s\n", em.text);
        goto cleanup;
    }
    for (long round = 0; round <= seconds; round++) {
        if (round > 0) {
            ps_plat_sleep_ms(1000);
            for (size_t i = 0; i < n; i++)
                c[i].updated_us += ps_plat_now_us() - now;
            now = ps_plat_now_us();
        }
        for (size_t i = 0; i < n; i++)
            if (ps_store_counters_put(st, &c[i], &em) != PS_OK) {
                fprintf(stderr, "tray_fixture: %s\n", em.text);
                goto cleanup;
            }
    }
    rc = 0;
cleanup:
    ps_store_destroy(st);
    return rc;
}
