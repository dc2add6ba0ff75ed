#!/usr/bin/python3
"""The admin tooling against a real run: the metrics file (metrics_file) read by a
real Prometheus parser (prometheus_client's, as node_exporter's textfile collector
would serve it), and `podstream status --check` on the database the run wrote.

PODSTREAM=... PODSIM=... /usr/bin/python3 test_metrics.py -v"""

import os
import subprocess
import sys
import time
import unittest

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PODSTREAM, StreamCase, wait_for  # noqa: E402

MESSAGE = (1, "message", None)
MAILLOG = (2, "maillog", {"workers": 2})


def samples(path):
    """{(name, frozenset(labels)): value} of every sample in the file."""
    with open(path) as f:
        text = f.read()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def dev(device_id, name, type_name, **more):
    labels = {"device_id": str(device_id), "device": name, "type": type_name}
    labels.update(more)
    return frozenset(labels.items())


class MetricsTests(StreamCase):
    def check(self, *args):
        p = subprocess.run([PODSTREAM, "status", "--db", self.svc.db, "--check"] + list(args),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout

    def test_metrics_file_and_check_on_a_real_run(self):
        self.start_sim("--rate", "100", "--count", "300")
        prom = os.path.join(self.dir, "textfile", "podstream.prom")
        os.makedirs(os.path.dirname(prom))
        svc = self.start_svc([MESSAGE, MAILLOG],
                             {"metrics_file": prom, "metrics_interval": "1s"})
        msg = dev(1, "it-message-1", "message")

        def stored_all():
            if not os.path.exists(prom):
                return None
            s = samples(prom)
            return s if s.get(("podstream_device_events_total", msg)) == 300 else None
        s = wait_for(stored_all, 60, "the metrics file to count 300 message events")
        version = subprocess.run([PODSTREAM, "--version"], capture_output=True,
                                 text=True).stdout.split()[1]
        self.assertEqual(s[("podstream_up", frozenset())], 1)
        self.assertEqual(s[("podstream_build_info", frozenset({("version", version)}))], 1)
        self.assertGreater(s[("podstream_database_bytes", frozenset())], 0)
        self.assertLess(abs(s[("podstream_last_update_timestamp_seconds", frozenset())]
                            - time.time()), 10)
        self.assertEqual(s[("podstream_device_state", dev(1, "it-message-1", "message",
                                                          state="live"))], 1)
        self.assertEqual(s[("podstream_device_state", dev(1, "it-message-1", "message",
                                                          state="error"))], 0)
        for name in ("duplicates", "quarantined", "dropped", "failed", "reconnects",
                     "empty_frames"):
            self.assertEqual(s[("podstream_device_%s_total" % name, msg)], 0, name)
        self.assertGreaterEqual(s[("podstream_device_lag_seconds", msg)], 0)
        # 300 messages of at least a few hundred bytes each came over the socket.
        self.assertGreater(s[("podstream_device_received_bytes_total", msg)], 300 * 200)
        self.assertIn(("podstream_device_events_total", dev(2, "it-maillog-2", "maillog")), s)
        self.assertEqual(oct(os.stat(prom).st_mode & 0o777), "0o644")
        # Replaced whole each time: nothing but the file in its directory.
        self.assertEqual(os.listdir(os.path.dirname(prom)), ["podstream.prom"])

        rc, out = self.check("--warn-silence", "0", "--crit-silence", "0")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"^PODSTREAM OK - 2 devices streaming \| 'lag_1'=")

        rc, _ = svc.stop()
        self.assertEqual(rc, 0)
        s = samples(prom)
        self.assertEqual(s[("podstream_up", frozenset())], 0)
        self.assertEqual(s[("podstream_device_state", dev(1, "it-message-1", "message",
                                                          state="stopped"))], 1)
        rc, out = self.check()
        self.assertEqual(rc, 2, out)
        self.assertRegex(out, r"^PODSTREAM CRITICAL - service not running since \S+Z \|")
        status = subprocess.run([PODSTREAM, "status", "--db", svc.db], capture_output=True,
                                text=True, timeout=30).stdout
        self.assertRegex(status, r"\nService:  not running since .*; rates and lag not shown\n")


if __name__ == "__main__":
    unittest.main()
