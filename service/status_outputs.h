/* `podstream status`: the outputs part (#16), kept apart from cmd_status.c. */
#ifndef PS_STATUS_OUTPUTS_H
#define PS_STATUS_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "podstream/ps_store.h"

/* Prints the outputs table and each one's last error (nothing when n is 0).
 * `running`: the service writes counters now (else states and rates are history). */
void ps_status_outputs_print(const ps_output_row *rows, size_t n, int64_t now, bool running,
                             bool utc);

/* The outputs as a JSON array (a new item, for cJSON_AddItemToObject). */
cJSON *ps_status_outputs_json(const ps_output_row *rows, size_t n, bool running);

#endif
