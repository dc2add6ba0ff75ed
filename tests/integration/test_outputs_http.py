#!/usr/bin/python3
"""The HTTP outputs (#16) in the running service: podsim -> podstream -> receiver.
ClickHouse is a real clickhouse-server; Splunk HEC and Sentinel are the simulators of
tests/outputs (no Splunk or Azure can run here), which enforce what Splunk and
Microsoft document: status codes, limits, auth, acknowledgements.

Checks: what the receiver holds equals what the SQLite store holds (keys and counts);
a receiver killed, refusing, throttling or busy loses nothing; an auth or TLS failure
shows a clear error in `podstream status` and nothing is lost once it is fixed; no
secret appears in the service's output.

Run one class: PODSTREAM=... PODSIM=... /usr/bin/python3 test_outputs_http.py -v HecTests"""

import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "outputs"))
import receivers  # noqa: E402
from harness import PODSTREAM, certs, wait_for  # noqa: E402
from test_outputs import OutputCase, output_row, write_outputs  # noqa: E402

MESSAGE = (1, "message", None)
MAILLOG = (2, "maillog", None)
HEC_TOKEN = "3c1f5a7e-90b2-4d6e-8f1a-2b3c4d5e6f70"
CH_PASSWORD = "ch-pass-71d9e"
AZ_SECRET = "az.secret~5f3e_Q"
SECRETS = (HEC_TOKEN, CH_PASSWORD, AZ_SECRET)
DCR = "dcr-5e6f708192a3b4c5d6e7f8091a2b3c4d"
STREAM = "Custom-ProofpointPOD"


def output_yaml(name, type_name, options):
    lines = ["outputs:", "  - name: %s" % name, "    type: %s" % type_name]
    for k, v in options.items():
        if isinstance(v, dict):
            lines.append("    %s:" % k)
            lines += ["      %s: %s" % (k2, json.dumps(v2)) for k2, v2 in v.items()]
        else:
            lines.append("    %s: %s" % (k, json.dumps(v)))
    return "\n".join(lines) + "\n"


class HttpOutputCase(OutputCase):
    """A service with one HTTP output; the receivers are stopped after each test and
    the service's output is checked for every secret."""

    def setUp(self):
        super().setUp()
        self.receivers = []

    def tearDown(self):
        out = self.svc.output() if self.svc else ""
        super().tearDown()
        for r in self.receivers:
            r.stop()
        for s in SECRETS:
            self.assertNotIn(s, out, "a secret appeared in the service's output")

    def start_with_output(self, name, type_name, options, sim_args=("--rate", "max", "--count",
                                                                      "1500"), devices=None):
        self.start_sim(*sim_args)
        env = {"HEC_TOKEN": HEC_TOKEN, "CH_PW": CH_PASSWORD, "AZ_SECRET": AZ_SECRET}
        svc = self.start_svc(devices or [MESSAGE, MAILLOG], start=False, env=env)
        write_outputs(svc, output_yaml(name, type_name, options))
        return svc.start()

    def stored(self, svc):
        """(device_id, key, ts_us) of every stored event, in id order."""
        return [tuple(r) for r in svc.query("SELECT device_id, key, ts_us FROM events "
                                            "ORDER BY id")]

    def wait_delivered(self, svc, name, expect, timeout=90):
        wait_for(lambda: svc.count() >= expect, timeout, "%d stored events" % expect)
        wait_for(self.delivered_all(svc, name), timeout, "every event delivered")

    def status_of(self, svc, name):
        for o in self.status_json(svc).get("outputs", []):
            if o["name"] == name:
                return o
        return None

    def wait_error(self, svc, name, text, timeout=30):
        def seen():
            row = output_row(svc, name)
            cols = [c[1] for c in svc.query("PRAGMA table_info(outputs)")]
            return row and text in dict(zip(cols, row))["last_error"] and row
        wait_for(seen, timeout, "last_error with %r" % text)
        st = self.status_of(svc, name)
        self.assertIn(text, st["last_error"])
        return st


@unittest.skipUnless(os.path.exists(receivers.CLICKHOUSE), "clickhouse-server not installed")
class ClickHouseTests(HttpOutputCase):
    def setUp(self):
        super().setUp()
        self.ch = receivers.ClickHouse(os.path.join(self.dir, "ch"), password=CH_PASSWORD)
        self.ch.start()
        self.receivers.append(self.ch)

    def options(self, **over):
        o = {"url": self.ch.url, "user": self.ch.user, "password": "${CH_PW}",
             "create_table": True, "database": "pod", "table": "events",
             "batch_events": 400, "flush_interval": "100ms", "retry_min": "100ms",
             "retry_max": "1s"}
        o.update(over)
        return o

    def rows(self):
        return sorted((int(r["device_id"]), r["key"], int(r["ts_us"])) for r in self.ch.rows(
            "SELECT device_id, key, ts_us FROM pod.events FINAL"))

    def test_counts_and_keys_match_the_store(self):
        svc = self.start_with_output("ch", "clickhouse", self.options())
        self.wait_delivered(svc, "ch", 3000)
        self.assertEqual(self.rows(), sorted(self.stored(svc)))
        typed = self.ch.rows("SELECT type, count() AS n, countIf(sender != '') AS senders "
                             "FROM pod.events FINAL GROUP BY type ORDER BY type")
        self.assertEqual([(t["type"], t["n"]) for t in typed],
                         [("message", "1500"), ("maillog", "1500")])
        self.assertGreater(int(typed[0]["senders"]), 0, "typed columns filled")
        st = self.status_of(svc, "ch")
        self.assertEqual((st["delivered"], st["backlog"]), (3000, 0))

    def test_server_killed_mid_batch_loses_nothing(self):
        svc = self.start_with_output("ch", "clickhouse", self.options(batch_events=50),
                                     sim_args=("--rate", "300", "--count", "2400"))
        wait_for(lambda: self.ch.query("SELECT count() FROM system.tables WHERE database = "
                                       "'pod' AND name = 'events'").strip() == "1", 30,
                 "the table created")
        wait_for(lambda: int(self.ch.query("SELECT count() FROM pod.events")) > 300, 30,
                 "some rows")
        self.ch.kill()
        st = self.wait_error(svc, "ch", "clickhouse")
        self.assertIn(st["state"], ("retrying", "error"))
        time.sleep(2)
        self.ch.start()
        self.wait_delivered(svc, "ch", 4800)
        self.assertEqual(self.rows(), sorted(self.stored(svc)))
        raw = int(self.ch.query("SELECT count() FROM pod.events"))
        self.assertGreaterEqual(raw, 4800, "FINAL collapses what a retried batch repeated")


class HecTests(HttpOutputCase):
    def hec(self, **kw):
        r = receivers.HecReceiver(os.path.join(self.dir, "hec"), certs(), HEC_TOKEN, **kw)
        self.receivers.append(r)
        return r

    def options(self, hec, ca=None, **over):
        o = {"url": hec.url, "token": "${HEC_TOKEN}", "index": "main",
             "tls": {"ca_file": ca or os.path.join(certs(), "ca.pem")},
             "batch_events": 300, "flush_interval": "100ms", "retry_min": "100ms",
             "retry_max": "1s"}
        o.update(over)
        return o

    def keys(self, hec):
        return [(r["event"].get("guid") or r["event"].get("id")) for r in hec.records()]

    def assert_everything(self, svc, hec, exact=True):
        want = [k for _, k, _ in self.stored(svc)]
        got = self.keys(hec)
        if exact:
            self.assertEqual(got, want, "every stored event once, in id order")
        else:
            self.assertEqual(set(got), set(want), "every stored event at least once")

    def test_acknowledged_delivery_survives_an_indexer_losing_events(self):
        hec = self.hec(ack=True, ack_delay=0.3)
        svc = self.start_with_output("splunk", "splunk_hec",
                                     self.options(hec, ack=True, ack_timeout="2s",
                                                  batch_events=200),
                                     sim_args=("--rate", "300", "--count", "1500"))
        # An indexer dies before writing what it accepted: those acks never come, the
        # cursor has not moved past them, and they are sent again.
        wait_for(lambda: hec.stats()["acks_issued"] >= 3, 30, "a few acknowledged requests")
        lost = 0
        for _ in range(3):
            lost += hec.request("POST", "/_sim/lose_pending")[2]["lost"]
            time.sleep(0.5)
        self.wait_delivered(svc, "splunk", 3000, timeout=120)
        self.assert_everything(svc, hec, exact=False)
        self.assertGreater(lost, 0, "the test lost nothing: it proves nothing")
        types = {r["sourcetype"] for r in hec.records()}
        self.assertEqual(types, {"pps_messagelog", "pps_maillog"})

    def test_kill9_while_forwarding_loses_nothing(self):
        hec = self.hec()
        svc = self.start_with_output("splunk", "splunk_hec", self.options(hec, batch_events=50),
                                     sim_args=("--rate", "200", "--count", "1500"))
        for i in range(4):
            time.sleep(0.7 + 0.4 * i)
            svc.kill9()
            svc.start()
        # Backfill after each unclean start may bring more than the 3000 once more
        # (absorbed by dedup): wait until the store stops growing and all is sent.
        seen = []

        def settled():
            seen.append(svc.count())
            return len(seen) > 50 and seen[-1] == seen[-50] and self.delivered_all(
                svc, "splunk")()
        wait_for(settled, 120, "the store settled and delivered", interval=0.1)
        self.assertGreater(svc.count(), 500)
        self.assert_everything(svc, hec, exact=False)
        got = self.keys(hec)
        self.assertLessEqual(len(got) - len(set(got)), 4 * 50, "duplicates: one batch a kill")

    def test_bad_token_is_shown_and_nothing_lost_after_fixing(self):
        hec = self.hec()
        hec.request("POST", "/_sim/token", value="the-token-splunk-knows")
        svc = self.start_with_output("splunk", "splunk_hec", self.options(hec))
        st = self.wait_error(svc, "splunk", "Invalid token")
        self.assertEqual(st["state"], "error")
        self.assertGreater(st["backlog"], 0)
        hec.request("POST", "/_sim/token", value=HEC_TOKEN)
        self.wait_delivered(svc, "splunk", 3000, timeout=120)
        self.assert_everything(svc, hec)
        # HEC refused every request: nothing can have arrived twice.
        self.assertEqual(self.status_of(svc, "splunk")["duplicates"], 0)

    def test_token_encrypted_for_the_output_decrypts_in_the_service(self):
        hec = self.hec()
        self.start_sim("--rate", "max", "--count", "1500")
        svc = self.start_svc([MESSAGE, MAILLOG], start=False)
        key = os.path.join(svc.cfg, "podstream.key")
        if not os.path.exists(key):
            subprocess.run([PODSTREAM, "keygen", "--key-file", key], check=True,
                           capture_output=True)
        enc = subprocess.run([PODSTREAM, "encrypt", "--no-config", "--key-file", key,
                              "--output", "splunk", "--field", "token"], input=HEC_TOKEN,
                             capture_output=True, text=True)
        self.assertEqual(enc.returncode, 0, enc.stderr)
        self.assertTrue(enc.stdout.startswith("enc:v1:"), enc.stdout)
        self.assertIn("paste it as token: of output splunk", enc.stderr)
        write_outputs(svc, output_yaml("splunk", "splunk_hec",
                                       self.options(hec, token=enc.stdout.strip())))
        svc.start()
        self.wait_delivered(svc, "splunk", 3000, timeout=120)
        self.assert_everything(svc, hec)
        self.assertNotIn(HEC_TOKEN, svc.output())

    def test_busy_and_too_large_are_retried(self):
        hec = self.hec(max_content_length=65536)
        hec.fault(503, count=4, path="/services/collector/event")
        svc = self.start_with_output("splunk", "splunk_hec", self.options(hec))
        self.wait_delivered(svc, "splunk", 3000, timeout=120)
        self.assert_everything(svc, hec, exact=False)
        st = hec.stats()["statuses"]
        self.assertGreaterEqual(st.get("503", 0), 4)
        self.assertGreaterEqual(st.get("413", 0), 1)

    def test_wrong_ca_fails_clearly_then_reload_fixes_it(self):
        hec = self.hec()
        other = os.path.join(self.dir, "other-ca")
        subprocess.run(["bash", os.environ.get("PODSIM_GEN_CERTS", "tests/podsim/gen-certs.sh"),
                        other], check=True, stdout=subprocess.DEVNULL)
        svc = self.start_with_output("splunk", "splunk_hec",
                                     self.options(hec, ca=os.path.join(other, "ca.pem")))
        self.wait_error(svc, "splunk", "SSL certificate")
        self.assertEqual(hec.records(), [])
        self.assertGreater(hec.stats()["tls_failures"], 0)
        write_outputs(svc, output_yaml("splunk", "splunk_hec", self.options(hec)))
        svc.hup()
        self.wait_delivered(svc, "splunk", 3000, timeout=120)
        self.assert_everything(svc, hec)


class SentinelTests(HttpOutputCase):
    def az(self, **kw):
        r = receivers.SentinelReceiver(os.path.join(self.dir, "az"), certs(), "tenant-it",
                                       "client-it", AZ_SECRET, DCR, STREAM, **kw)
        self.receivers.append(r)
        return r

    def options(self, az, **over):
        o = {"endpoint": az.url, "authority": az.url, "dcr_id": DCR, "stream": STREAM,
             "tenant_id": "tenant-it", "client_id": "client-it",
             "client_secret": "${AZ_SECRET}",
             "tls": {"ca_file": os.path.join(certs(), "ca.pem")},
             "batch_events": 2000, "flush_interval": "100ms", "retry_min": "100ms",
             "retry_max": "1s"}
        o.update(over)
        return o

    def test_everything_delivered_under_the_limit_and_throttling_honoured(self):
        az = self.az(token_lifetime=4)
        az.fault(429, count=2, retry_after=1, path="/dataCollectionRules")
        svc = self.start_with_output("sentinel", "sentinel", self.options(az))
        self.wait_delivered(svc, "sentinel", 3000, timeout=120)
        recs = az.records()
        self.assertEqual(sorted((r["DeviceId"], r["EventKey"]) for r in recs),
                         sorted((d, k) for d, k, _ in self.stored(svc)))
        st = az.stats()
        self.assertEqual(st["statuses"].get("429"), 2)
        self.assertNotIn("413", st["statuses"])
        self.assertEqual(st["gzip_requests"], st["statuses"]["204"])

    def test_events_over_the_limit_are_split_not_refused(self):
        az = self.az()
        svc = self.start_with_output("sentinel", "sentinel", self.options(az),
                                     sim_args=("--rate", "max", "--count", "150",
                                               "--big-share", "0.1", "--big-bytes", "1200000"))
        self.wait_delivered(svc, "sentinel", 300, timeout=120)
        recs = az.records()
        self.assertEqual({(r["DeviceId"], r["EventKey"]) for r in recs},
                         {(d, k) for d, k, _ in self.stored(svc)})
        self.assertTrue(any(r["Parts"] > 1 for r in recs), "a large event went in parts")
        self.assertNotIn("413", az.stats()["statuses"])
        st = self.status_of(svc, "sentinel")
        self.assertGreater(st["split"] + st["truncated"], 0)

    def test_bad_secret_is_shown_and_nothing_lost_after_fixing(self):
        az = self.az()
        az.request("POST", "/_sim/secret", value="rotated-in-entra")
        svc = self.start_with_output("sentinel", "sentinel", self.options(az))
        st = self.wait_error(svc, "sentinel", "AADSTS7000215")
        self.assertEqual(st["state"], "error")
        az.request("POST", "/_sim/secret", value=AZ_SECRET)
        self.wait_delivered(svc, "sentinel", 3000, timeout=120)
        self.assertEqual(len(az.records()), 3000)


if __name__ == "__main__":
    unittest.main()
