/* ps_engine_wal: the writer's watch on the WAL. A long reader (a query, a program
 * holding the database open) keeps checkpoints from completing, and the WAL then
 * grows without bound; this says so in the log and truncates the WAL once the
 * reader is gone. */
#ifndef PS_ENGINE_WAL_H
#define PS_ENGINE_WAL_H

#include "podstream/ps_store.h"

/* Once a second from the writer's tick, outside a batch, on the writer's store
 * (borrowed): checks the WAL against the threshold, truncates it when no reader
 * blocks it, and logs a warning once per blocked episode and a line when it ends. */
void eng_wal_tick(ps_store *st);

#endif
