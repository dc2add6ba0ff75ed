/* The writer's watch on the WAL (see ps_engine_wal.h). */
#include <stdlib.h>

#include "engine/ps_engine_wal.h"
#include "podstream/ps_log.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_time.h"

/* The threshold: PODSTREAM_WAL_WARN_BYTES (whole bytes) when set, so a test can
 * see an episode without writing 64 MiB; else PS_STORE_WAL_WARN_BYTES. */
static uint64_t warn_bytes(void)
{
    const char *env = getenv("PODSTREAM_WAL_WARN_BYTES");
    char *end = NULL;
    unsigned long long v;
    if (!env || !*env)
        return PS_STORE_WAL_WARN_BYTES;
    v = strtoull(env, &end, 10);
    if (*end || v == 0)
        return PS_STORE_WAL_WARN_BYTES;
    return (uint64_t)v;
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

void eng_wal_tick(ps_store *st)
{
    ps_store_wal w;
    ps_errmsg em;
    int64_t now = ps_plat_now_us();
    char when[40];
    if (ps_store_wal_check(st, warn_bytes(), now, &w, &em) != PS_OK) {
        PS_LOG_E(PS_LOG_NO_DEVICE, "checking the WAL: %s", em.text);
        return;
    }
    if (w.blocked && w.blocked_since_us == now) {
        PS_LOG_W(PS_LOG_NO_DEVICE,
                 "the WAL is %.1f MiB, over %.1f MiB, and cannot be checkpointed: a reader "
                 "blocks checkpoints (a long query, or a program keeping a read transaction "
                 "open on the database); it is truncated once that reader is gone",
                 mib(w.wal_bytes), mib(w.warn_bytes));
    } else if (w.truncated && w.blocked_since_us != 0) {
        ps_time_format_elapsed((now - w.blocked_since_us) / 1000, when, sizeof when);
        PS_LOG_I(PS_LOG_NO_DEVICE,
                 "the reader is gone: the WAL is checkpointed and truncated again, after %s "
                 "over %.1f MiB",
                 when, mib(w.warn_bytes));
    } else if (w.truncated) {
        PS_LOG_I(PS_LOG_NO_DEVICE, "the WAL was over %.1f MiB and is truncated", mib(w.warn_bytes));
    }
}
