#!/usr/bin/python3
"""The HTTP output plugins against their receivers, driven by out_drive (the plugin's
create/deliver/destroy as the framework calls them, on a file of events): ClickHouse
for real, Splunk HEC and Sentinel against the simulators of this folder. The service
around them (cursors, retention, reload) is tested in tests/integration."""

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receivers  # noqa: E402
from test_receivers import make_certs, make_expired_cert  # noqa: E402

OUT_DRIVE = os.environ.get("OUT_DRIVE", "build/tests/outputs/out_drive")
SAMPLES = os.environ.get("PS_SAMPLES", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "data", "samples"))
HEC_TOKEN = "8f0e2b4c-1d3a-4e5f-9a8b-7c6d5e4f3a2b"
CH_PASSWORD = "ch-secret-9f2e"
AZ_SECRET = "az~secret.value_42"
SECRETS = (HEC_TOKEN, CH_PASSWORD, AZ_SECRET)


def sample(name):
    with open(os.path.join(SAMPLES, name + ".jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def make_events(n, pad=0):
    """n events alternating message and maillog, unique keys and increasing ts, as
    (type, device id, natural key, event dict)."""
    msgs, logs = sample("message"), sample("maillog")
    out = []
    base = 1765000000
    for i in range(n):
        t = "message" if i % 2 == 0 else "maillog"
        ev = copy.deepcopy((msgs if t == "message" else logs)[i % 5])
        ev["ts"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i)) + \
            ".%06d+00:00" % (i % 1000000)
        key = "k%06d%s" % (i, "x" * 10)
        if t == "message":
            ev["guid"] = key
        else:
            ev["id"] = key
        if pad:
            ev["podstreamPad"] = "p" * pad
        out.append((t, 1 if t == "message" else 2, key, ev))
    return out


def write_events(path, events):
    with open(path, "w") as f:
        for t, dev, _, ev in events:
            f.write("%s\t%d\t%s\n" % (t, dev, json.dumps(ev, ensure_ascii=False)))


def yaml_map(d, indent=2):
    lines = []
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(" " * indent + k + ":")
            lines += yaml_map(v, indent + 2)
        else:
            lines.append(" " * indent + "%s: %s" % (k, json.dumps(v)))
    return lines


class DriveCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ps-outp-")
        self.certs = make_certs(os.path.join(self.dir, "certs"))
        self.stop = []

    def tearDown(self):
        for s in self.stop:
            s.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def drive(self, output, options, events, batch=200, max_failures=10, env=None,
              background=False):
        cfg = os.path.join(self.dir, "out.yml")
        with open(cfg, "w") as f:
            f.write("\n".join(["output:"] + yaml_map(output) + ["options:"] + yaml_map(options))
                    + "\n")
        evf = os.path.join(self.dir, "events.txt")
        write_events(evf, events)
        e = dict(os.environ)
        e.update(env or {})
        cmd = [OUT_DRIVE, cfg, evf, "--batch", str(batch), "--max-failures", str(max_failures)]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    env=e, text=True)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e,
                           text=True, timeout=240)
        return self.checked(p.returncode, p.stdout)

    def checked(self, rc, out):
        for s in SECRETS:
            self.assertNotIn(s, out, "a secret appeared in the output")
        return rc, out


@unittest.skipUnless(os.path.exists(receivers.CLICKHOUSE), "clickhouse-server not installed")
class ClickHouseTests(DriveCase):
    def setUp(self):
        super().setUp()
        self.ch = receivers.ClickHouse(os.path.join(self.dir, "ch"), password=CH_PASSWORD)
        self.ch.start()
        self.stop.append(self.ch)

    def out(self, **over):
        o = {"url": self.ch.url, "user": self.ch.user, "password": "${CH_PW}",
             "create_table": True, "database": "pod", "table": "events"}
        o.update(over)
        return o

    def keys(self):
        return sorted(r["key"] for r in self.ch.rows("SELECT key FROM pod.events FINAL"))

    def test_typed_rows_and_redelivery(self):
        evs = make_events(1000)
        rc, out = self.drive({"name": "ch", "type": "clickhouse"}, self.out(), evs, batch=300,
                             env={"CH_PW": CH_PASSWORD})
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.keys(), sorted(k for _, _, k, _ in evs))
        row = self.ch.rows("SELECT * FROM pod.events WHERE key = 'k000000xxxxxxxxxx'")[0]
        self.assertEqual((row["type"], row["device_id"], row["part"]), ("message", "1", 1))
        self.assertEqual(json.loads(row["raw"])["guid"], "k000000xxxxxxxxxx")
        self.assertTrue(row["sender"])
        self.assertEqual(int(row["ts_us"]) // 1000000, 1765000000)
        # The same batches again (a crash before the cursor moved): no duplicate.
        rc, out = self.drive({"name": "ch", "type": "clickhouse"}, self.out(), evs, batch=300,
                             env={"CH_PW": CH_PASSWORD})
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.ch.query("SELECT count() FROM pod.events FINAL").strip(), "1000")

    def test_wrong_password_is_permanent(self):
        rc, out = self.drive({"name": "ch", "type": "clickhouse"}, self.out(), make_events(10),
                             max_failures=2, env={"CH_PW": "wrong"})
        self.assertEqual(rc, 3, out)
        self.assertIn("FAILED 0", out)
        self.assertRegex(out, r"HTTP \d+: Code: (193|516)")

    def test_user_with_a_newline_is_refused(self):
        # It goes into a request header: a newline there would add a header of its own.
        rc, out = self.drive({"name": "ch", "type": "clickhouse"},
                             self.out(user="podstream\nX-Other: 1"), make_events(1))
        self.assertEqual(rc, 2, out)
        self.assertIn("options.user: must not contain control characters", out)

    def test_server_killed_mid_run(self):
        evs = make_events(6000)
        p = self.drive({"name": "ch", "type": "clickhouse", "retry_min": "100ms"}, self.out(),
                       evs, batch=100, max_failures=1000, env={"CH_PW": CH_PASSWORD},
                       background=True)
        receivers.wait_until(lambda: self.ch.query(
            "SELECT count() FROM system.tables WHERE database = 'pod' AND name = 'events'"
        ).strip() == "1", 30, "the table")
        receivers.wait_until(lambda: int(self.ch.query("SELECT count() FROM pod.events")) > 500,
                             60, "some rows")
        self.ch.kill()
        time.sleep(1.5)
        self.ch.start()
        out, _ = p.communicate(timeout=240)
        self.checked(p.returncode, out)
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("RETRY", out)
        self.assertEqual(self.keys(), sorted(k for _, _, k, _ in evs))


class HecTests(DriveCase):
    def hec(self, **kw):
        s = receivers.HecReceiver(os.path.join(self.dir, "hec"), self.certs, HEC_TOKEN, **kw)
        self.stop.append(s)
        return s

    def run_hec(self, s, evs, over=None, **kw):
        opts = {"url": s.url, "token": "${HEC_TOKEN}", "index": "main"}
        opts.update(over or {})
        env = {"HEC_TOKEN": HEC_TOKEN}
        env.update(kw.pop("env", {}))
        return self.drive({"name": "hec", "type": "splunk_hec",
                           "tls": {"ca_file": os.path.join(self.certs, "ca.pem")}},
                          opts, evs, env=env, **kw)

    def assert_all(self, s, evs, exact=True):
        got = [r["event"].get("guid") or r["event"].get("id") for r in s.records()]
        want = [k for _, _, k, _ in evs]
        if exact:
            self.assertEqual(got, want)
        else:
            self.assertEqual(sorted(set(got)), sorted(want))

    def test_batches_sourcetypes_order(self):
        s = self.hec()
        evs = make_events(500)
        rc, out = self.run_hec(s, evs, batch=120)
        self.assertEqual(rc, 0, out)
        self.assert_all(s, evs)
        recs = s.records()
        self.assertEqual(recs[0]["sourcetype"], "pps_messagelog")
        self.assertEqual(recs[1]["sourcetype"], "pps_maillog")
        self.assertEqual((recs[0]["source"], recs[0]["index"]), ("podstream", "main"))
        self.assertAlmostEqual(recs[1]["time"], 1765000001.000001, places=5)

    def test_busy_and_too_large(self):
        s = self.hec(max_content_length=30000)
        s.fault(503, count=3, path="/services/collector/event")
        evs = make_events(300)
        rc, out = self.run_hec(s, evs, batch=100)
        self.assertEqual(rc, 0, out)
        self.assertIn("Server is busy", out)
        self.assertIn("HTTP 413", out)
        self.assert_all(s, evs, exact=False)

    def test_bad_token_then_fixed(self):
        s = self.hec()
        s.request("POST", "/_sim/token", value="another-token")
        evs = make_events(50)
        p = self.run_hec(s, evs, max_failures=100, background=True)
        receivers.wait_until(lambda: s.stats()["statuses"].get("403", 0) >= 2, 20, "403s")
        s.request("POST", "/_sim/token", value=HEC_TOKEN)
        out, _ = p.communicate(timeout=60)
        self.checked(p.returncode, out)
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("FAILED 0 0 splunk hec: HTTP 403", out)
        self.assertIn("Invalid token", out)
        self.assert_all(s, evs)

    def test_acks_and_lost_events(self):
        s = self.hec(ack=True, ack_delay=0.3)
        evs = make_events(400)
        p = self.run_hec(s, evs, over={"ack": True, "ack_timeout": "2s"}, batch=100,
                         max_failures=50, background=True)
        # An indexer lost what it had not written yet: those acks never come.
        receivers.wait_until(lambda: s.stats()["acks_issued"] >= 2, 20, "acks issued")
        lost = s.request("POST", "/_sim/lose_pending")[2]["lost"]
        out, _ = p.communicate(timeout=120)
        self.checked(p.returncode, out)
        self.assertEqual(p.returncode, 0, out)
        if lost:
            self.assertIn("not acknowledged", out)
        self.assert_all(s, evs, exact=False)

    def test_ack_asked_but_off_for_the_token(self):
        s = self.hec()  # acknowledgement off: HEC answers without an ackId
        evs = make_events(30)
        rc, out = self.run_hec(s, evs, over={"ack": True}, max_failures=5, batch=10)
        self.assertEqual(rc, 0, out)
        self.assertIn("indexer acknowledgement is off for this token", out)
        self.assert_all(s, evs)

    def test_wrong_ca(self):
        s = self.hec()
        other = make_certs(os.path.join(self.dir, "other"))
        rc, out = self.drive({"name": "hec", "type": "splunk_hec",
                              "tls": {"ca_file": os.path.join(other, "ca.pem")}},
                             {"url": s.url, "token": "${HEC_TOKEN}"}, make_events(5),
                             max_failures=2, env={"HEC_TOKEN": HEC_TOKEN})
        self.assertEqual(rc, 3, out)
        self.assertIn("SSL certificate", out)
        self.assertEqual(s.records(), [])
        self.assertGreaterEqual(s.stats()["tls_failures"], 1)


    def test_expired_certificate(self):
        expired = make_expired_cert(self.certs, os.path.join(self.dir, "expired"))
        s = receivers.HecReceiver(os.path.join(self.dir, "hec"), expired, HEC_TOKEN)
        self.stop.append(s)
        rc, out = self.run_hec(s, make_events(5), max_failures=2)
        self.assertEqual(rc, 3, out)
        self.assertIn("SSL certificate problem: certificate has expired", out)
        self.assertEqual(s.records(), [])


class SentinelTests(DriveCase):
    DCR = "dcr-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    STREAM = "Custom-ProofpointPOD"

    def sim(self, **kw):
        s = receivers.SentinelReceiver(os.path.join(self.dir, "az"), self.certs, "tenant-1",
                                       "client-1", AZ_SECRET, self.DCR, self.STREAM, **kw)
        self.stop.append(s)
        return s

    def run_az(self, s, evs, over=None, **kw):
        opts = {"endpoint": s.url, "authority": s.url, "dcr_id": self.DCR,
                "tenant_id": "tenant-1", "client_id": "client-1",
                "client_secret": "${AZ_SECRET}"}
        opts.update(over or {})
        env = {"AZ_SECRET": AZ_SECRET}
        env.update(kw.pop("env", {}))
        return self.drive({"name": "az", "type": "sentinel",
                           "tls": {"ca_file": os.path.join(self.certs, "ca.pem")}},
                          opts, evs, env=env, **kw)

    def test_split_under_limit_gzip(self):
        s = self.sim()
        evs = make_events(1200, pad=2000)  # ~3-4 KB each: several MB per run
        rc, out = self.run_az(s, evs, batch=1000)
        self.assertEqual(rc, 0, out)
        recs = s.records()
        self.assertEqual([r["EventKey"] for r in recs], [k for _, _, k, _ in evs])
        self.assertEqual(recs[0]["EventType"], "message")
        self.assertTrue(recs[0]["TimeGenerated"].endswith("Z"))
        st = s.stats()
        self.assertGreater(st["statuses"]["204"], 3)
        self.assertEqual(st["gzip_requests"], st["statuses"]["204"])
        self.assertEqual(st["tokens_issued"], 1, "the token is cached")
        self.assertNotIn("413", st["statuses"])

    def test_throttled_honours_retry_after(self):
        s = self.sim()
        s.fault(429, count=1, retry_after=2, path="/dataCollectionRules")
        t0 = time.monotonic()
        rc, out = self.run_az(s, make_events(20), over={"gzip": False})
        self.assertEqual(rc, 0, out)
        self.assertIn("RETRY 0 2000 sentinel: HTTP 429", out)
        self.assertGreaterEqual(time.monotonic() - t0, 2.0)
        self.assertEqual(len(s.records()), 20)

    def test_bad_secret_then_expiry(self):
        s = self.sim(token_lifetime=2)
        s.request("POST", "/_sim/secret", value="rotated")
        evs = make_events(300)
        p = self.run_az(s, evs, batch=10, max_failures=100, background=True)
        receivers.wait_until(lambda: s.stats()["statuses"].get("401", 0) >= 1, 20, "a 401")
        s.request("POST", "/_sim/secret", value=AZ_SECRET)
        out, _ = p.communicate(timeout=120)
        self.checked(p.returncode, out)
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("invalid_client", out)
        self.assertIn("AADSTS7000215", out)
        self.assertEqual(len(s.records()), 300)


if __name__ == "__main__":
    unittest.main()
