/* The Syslog output's options and message rendering (RFC 5424 with JSON, CEF or
 * LEEF), apart from its connection handling so that both stay readable. */
#ifndef PS_OUT_SYSLOG_FMT_H
#define PS_OUT_SYSLOG_FMT_H

#include "output/ps_output_internal.h"
#include "podstream/ps_mem.h"

typedef struct syslog_opts {
    char *host;
    long long port; /* 0: 6514 for tls, 514 otherwise */
    int transport;  /* tls, tcp, udp */
    int format;     /* json, cef, leef */
    char *app_name;
    char *hostname; /* NULL: the device's name */
    long long facility;
    long long severity;
    uint64_t max_message_bytes;
    int64_t connect_timeout_ms;
} syslog_opts;

enum { SYSLOG_JSON, SYSLOG_CEF, SYSLOG_LEEF };

extern const ps_schema_table pso_syslog_table;

/* Appends the RFC 5424 message of `e` (without framing) to `out`. */
ps_err pso_syslog_render(const syslog_opts *o, const ps_output_event *e, ps_buf *out);

#endif
