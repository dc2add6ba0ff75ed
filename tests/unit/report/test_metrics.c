/* ps_metrics: the Prometheus text file: every family with HELP and TYPE before its
 * samples, label values escaped, one state line per state, and the file written
 * from the counters in a real database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "podstream/ps_metrics.h"
#include "podstream/ps_platform.h"

static void two_devices(ps_device_counters c[2])
{
    memset(c, 0, 2 * sizeof *c);
    c[0].device_id = 1;
    snprintf(c[0].name, sizeof c[0].name, "pod \"main\" \\ eu");
    c[0].type = PS_DATA_MESSAGE;
    c[0].state = PS_STATE_LIVE;
    c[0].events_total = 12345;
    c[0].duplicates = 3;
    c[0].quarantined = 2;
    c[0].reconnects = 1;
    c[0].empty_frames = 7;
    c[0].lag_ms = 1500;
    c[0].rate_1m = 20.5;
    c[0].last_event_ts_us = 1700000000000000;
    c[0].updated_us = 1700000001000000;
    c[1].device_id = 2;
    snprintf(c[1].name, sizeof c[1].name, "maillog");
    c[1].type = PS_DATA_MAILLOG;
    c[1].state = PS_STATE_UNAUTHORISED;
}

static void test_format(void **state)
{
    ps_device_counters c[2];
    const ps_metrics_bytes received[] = {{2, 777}};
    ps_metrics_info info = {"1.2.3", 1700000000000000, true, 4096, received, 1};
    ps_buf b;
    (void)state;
    two_devices(c);
    ps_buf_init(&b);
    assert_int_equal(ps_metrics_format(c, 2, &info, 1700000002500000, &b), PS_OK);
    assert_non_null(strstr(b.p, "# TYPE podstream_up gauge\npodstream_up 1\n"));
    assert_non_null(strstr(b.p, "podstream_build_info{version=\"1.2.3\"} 1\n"));
    assert_non_null(strstr(b.p, "podstream_last_update_timestamp_seconds 1700000002.500\n"));
    assert_non_null(strstr(b.p, "podstream_database_bytes 4096\n"));
    assert_non_null(strstr(b.p, "# TYPE podstream_device_events_total counter\n"
                                "podstream_device_events_total{device_id=\"1\",device=\"pod "
                                "\\\"main\\\" \\\\ eu\",type=\"message\"} 12345\n"
                                "podstream_device_events_total{device_id=\"2\",device=\"maillog\","
                                "type=\"maillog\"} 0\n"));
    assert_non_null(strstr(b.p, "podstream_device_lag_seconds{device_id=\"1\""));
    assert_non_null(strstr(b.p, ",type=\"message\"} 1.5\n"));
    assert_non_null(strstr(b.p, ",type=\"maillog\",state=\"unauthorised\"} 1\n"));
    /* Bytes only for the devices that run. */
    assert_non_null(strstr(b.p, "podstream_device_received_bytes_total{device_id=\"2\",device="
                                "\"maillog\",type=\"maillog\"} 777\n"));
    assert_null(strstr(b.p, "podstream_device_received_bytes_total{device_id=\"1\""));
    assert_non_null(strstr(b.p, ",type=\"maillog\",state=\"live\"} 0\n"));
    assert_non_null(strstr(b.p, ",type=\"message\",state=\"live\"} 1\n"));
    assert_non_null(strstr(b.p, "# TYPE podstream_device_empty_frames_total counter\n"
                                "podstream_device_empty_frames_total{device_id=\"1\""));
    assert_non_null(strstr(b.p, ",type=\"message\"} 7\n"));
    /* Every sample line belongs to the family whose TYPE came last. */
    {
        char family[128] = "";
        for (char *line = b.p; line && *line;) {
            char *nl = strchr(line, '\n');
            if (strncmp(line, "# TYPE ", 7) == 0)
                sscanf(line + 7, "%127s", family);
            else if (line[0] != '#')
                assert_true(strncmp(line, family, strlen(family)) == 0);
            line = nl ? nl + 1 : NULL;
        }
    }
    ps_buf_deinit(&b);
}

static void test_file(void **state)
{
    char dir[] = "/tmp/ps_metrics_XXXXXX", db[64], prom[64];
    ps_device_counters c[2];
    ps_store *st = NULL;
    ps_metrics_file *m = NULL;
    const ps_metrics_bytes received[] = {{2, 5}};
    ps_errmsg em;
    char *text = NULL;
    size_t len = 0;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/pod.db", dir);
    snprintf(prom, sizeof prom, "%s/podstream.prom", dir);
    two_devices(c);
    if (ps_store_create(db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("%s", em.text);
    assert_int_equal(ps_store_counters_put(st, &c[0], &em), PS_OK);
    assert_int_equal(ps_metrics_file_create(prom, db, 60000, 1700000000000000, &m, &em), PS_OK);
    assert_int_equal(ps_metrics_file_tick(m, true, NULL, 0, &em), PS_OK);
    assert_int_equal(ps_plat_read_file(prom, 1 << 20, &text, &len, &em), PS_OK);
    assert_non_null(strstr(text, "podstream_up 1\n"));
    assert_non_null(strstr(text, "type=\"message\"} 12345\n"));
    assert_null(strstr(text, "device_id=\"2\""));
    {
        /* Through the database and back, like every counter. */
        const char *e = strstr(text, "\npodstream_device_empty_frames_total{device_id=\"1\"");
        assert_non_null(e);
        assert_true(strncmp(strchr(e, '}'), "} 7\n", 4) == 0);
    }
    free(text);
    /* Within the interval nothing is written; a stop always writes. */
    assert_int_equal(ps_store_counters_put(st, &c[1], &em), PS_OK);
    assert_int_equal(ps_metrics_file_tick(m, true, NULL, 0, &em), PS_OK);
    assert_int_equal(ps_plat_read_file(prom, 1 << 20, &text, &len, &em), PS_OK);
    assert_null(strstr(text, "device_id=\"2\""));
    free(text);
    assert_int_equal(ps_metrics_file_tick(m, false, received, 1, &em), PS_OK);
    assert_int_equal(ps_plat_read_file(prom, 1 << 20, &text, &len, &em), PS_OK);
    assert_non_null(strstr(text, "podstream_up 0\n"));
    assert_non_null(strstr(text, "type=\"maillog\"} 5\n"));
    assert_non_null(strstr(text, "device_id=\"2\""));
    free(text);
    ps_metrics_file_destroy(m);
    ps_store_destroy(st);
    {
        /* Whatever the store and the metrics file left, then the directory: no shell,
         * so that the Windows build cleans up the same way. */
        static const char *const any[] = {"", NULL};
        char **names = NULL, path[1200];
        size_t n = 0;
        assert_int_equal(ps_plat_list_dir(dir, any, &names, &n, &em), PS_OK);
        for (size_t i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            assert_int_equal(remove(path), 0);
        }
        ps_plat_free_list(names, n);
        assert_int_equal(rmdir(dir), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
