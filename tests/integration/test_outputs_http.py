#!/usr/bin/python3
"""The HTTP outputs (#16) in the running service: podsim -> podstream -> receiver.
ClickHouse is a real clickhouse-server; Splunk HEC and Sentinel are the simulators of
tests/outputs (no Splunk or Azure can run here), which enforce what Splunk and
Microsoft document: status codes, limits, auth, acknowledgements.

Checks: what the receiver holds equals what the SQLite store holds (keys and counts);
a receiver killed, refusing, throttling or busy loses nothing; an auth or TLS failure
shows a clear error in `podstream status` and nothing is lost once it is fixed; no
secret appears in the service's output.

The failure matrix of #16 (FailureMatrix, one implementation for the three outputs):
kill -9 of podstream at random moments while forwarding, the destination crashed and
restarted, the destination down for longer than a retention step, and a size limit
that makes retention drop undelivered events (counted and logged). TLS: a wrong CA and
an expired server certificate, for ClickHouse over HTTPS (ClickHouseTlsTests) and for
the simulators.

Run one class: PODSTREAM=... PODSIM=... /usr/bin/python3 test_outputs_http.py -v HecTests"""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "outputs"))
import receivers  # noqa: E402
from harness import GEN_CERTS, PODSTREAM, certs, wait_for  # noqa: E402
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
                                                                      "1500"), devices=None,
                          settings=None):
        self.start_sim(*sim_args)
        env = {"HEC_TOKEN": HEC_TOKEN, "CH_PW": CH_PASSWORD, "AZ_SECRET": AZ_SECRET}
        svc = self.start_svc(devices or [MESSAGE, MAILLOG], settings, start=False, env=env)
        write_outputs(svc, output_yaml(name, type_name, options))
        return svc.start()

    def stored(self, svc):
        """(device_id, key, ts_us) of every stored event, in id order."""
        return [tuple(r) for r in svc.query("SELECT device_id, key, ts_us FROM events "
                                            "ORDER BY id")]

    def wait_delivered(self, svc, name, expect, timeout=90):
        wait_for(lambda: svc.count() >= expect, timeout, "%d stored events" % expect)
        wait_for(self.delivered_all(svc, name), timeout, "every event delivered")

    def status_of(self, svc, name, quiet=False):
        for o in self.status_json(svc, quiet).get("outputs", []):
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


class FailureMatrix:
    """The failures of #16 for an HTTP output, one implementation for the three: kill -9
    of podstream at random moments while forwarding, the destination crashed and
    restarted, the destination down for longer than a retention step, and a size limit
    that makes retention drop what the output has not delivered. Checks: every stored
    event arrives; a copy arrives twice only where a batch may have reached the
    destination before a crash, at most one batch a crash, and each such event is
    counted (`duplicates`); ClickHouse absorbs them (none after FINAL).

    A class mixes this in before HttpOutputCase and supplies NAME and TYPE,
    matrix_options() (the output's options, its destination started), dest_down() (the
    destination crashes) and dest_up() (it comes back), arrived() (the key of every copy
    the destination holds), and absorbed() (ClickHouse: the rows after FINAL; the
    others: None)."""

    NAME = TYPE = None

    def start_matrix(self, sim_args, settings=None, down=False, **over):
        """podsim and the service with the output; the destination down first if `down`."""
        options = self.matrix_options(**over)
        if down:
            self.dest_down()
        return self.start_with_output(self.NAME, self.TYPE, options, sim_args=sim_args,
                                      settings=settings)

    def stored_keys(self, svc):
        return [k for _, k, _ in self.stored(svc)]

    def wait_settled(self, svc, timeout=120):
        """Until the newest stored id has not moved for 5 s (podsim done, backfill after an
        unclean start absorbed) and the output delivered up to it."""
        seen = []

        def settled():
            seen.append(svc.query("SELECT max(id) FROM events")[0][0])
            return len(seen) > 50 and seen[-1] == seen[-50] and self.delivered_all(
                svc, self.NAME)()
        wait_for(settled, timeout, "the store settled and delivered", interval=0.1)

    def wait_failing(self, svc):
        """The output's state once it has seen its destination fail."""
        def failing():
            st = self.status_of(svc, self.NAME, quiet=True)
            return st and st["last_error"] and st["state"] in ("retrying", "error") and st
        return wait_for(failing, 30, "the output failing")

    def assert_everything_arrived(self, svc, max_dups, why):
        """Every stored event at least once; at most `max_dups` copies, each counted."""
        got = self.arrived()
        want = self.stored_keys(svc)
        self.assertEqual(set(got), set(want), "every stored event at least once (%s)" % why)
        dups = len(got) - len(set(got))
        self.assertLessEqual(dups, max_dups, "duplicates: at most one batch a crash (%s)" % why)
        self.assertGreaterEqual(self.status_of(svc, self.NAME)["duplicates"], dups,
                                "every duplicate counted (%s)" % why)
        absorbed = self.absorbed()
        if absorbed is not None:
            self.assertEqual(absorbed, sorted(self.stored(svc)), "none left after FINAL")

    def test_kill9_while_forwarding_loses_nothing(self):
        kills, batch = 4, 50
        seed = int(os.environ.get("PS_TEST_SEED", time.time()))
        rnd = random.Random(seed)
        svc = self.start_matrix(("--rate", "200", "--count", "1500"), batch_events=batch)
        for _ in range(kills):
            time.sleep(rnd.uniform(0.3, 1.8))
            svc.kill9()
            svc.start()
        # Backfill after each unclean start may bring more than the 3000 once more
        # (absorbed by dedup): wait until the store stops growing and all is sent.
        self.wait_settled(svc)
        self.assertGreater(svc.count(), 500)
        self.assert_everything_arrived(svc, kills * batch, "PS_TEST_SEED=%d" % seed)

    def test_destination_restarted_loses_nothing(self):
        batch = 100
        svc = self.start_matrix(("--rate", "300", "--count", "1500"), batch_events=batch)
        wait_for(lambda: len(self.arrived()) >= 300, 30, "some events delivered")
        self.dest_down()
        self.wait_failing(svc)
        time.sleep(1)  # down for a few retries
        self.dest_up()
        self.wait_settled(svc)
        self.assertEqual(svc.count(), 3000)
        self.assert_everything_arrived(svc, batch, "one crash of the destination")

    def test_down_longer_than_a_retention_step_loses_nothing(self):
        # Events three days old under retention_days: 1, the destination down from the
        # start: retention keeps them all; once they are delivered, it takes them.
        begin = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))
        svc = self.start_matrix(("--rate", "max", "--count", "300", "--start", begin),
                                {"retention_days": 1}, down=True)
        wait_for(lambda: svc.count() >= 600, 60, "600 stored")
        self.wait_failing(svc)
        # A retention step ran after the last event was stored: each step deletes the
        # hourly counts of the hours past retention, whatever the outputs hold.
        cutoff_us = int((time.time() - 86400 - 3600) * 1e6)
        wait_for(lambda: svc.query("SELECT count(*) FROM hourly WHERE hour_us < ?",
                                   (cutoff_us,))[0][0] == 0, 40, "a retention step")
        self.assertEqual(svc.count(), 600, "retention deleted undelivered events")
        want = set(self.stored_keys(svc))
        self.dest_up()
        wait_for(self.delivered_all(svc, self.NAME), 90, "every event delivered")
        self.assertEqual(set(self.arrived()), want)
        self.assertEqual(self.status_of(svc, self.NAME)["retention_dropped"], 0)
        # delivered: now retention may take them (it keeps the newest id)
        wait_for(lambda: svc.count() <= 1, 40, "retention after delivery")

    def test_size_limit_drops_undelivered_events_counted_and_logged(self):
        # retention_max_db_size below what the store needs: while the destination is
        # down, retention deletes undelivered events, and each counts for the output.
        svc = self.start_matrix(("--rate", "max", "--count", "500"),
                                {"retention_max_db_size": "64KiB"}, down=True)
        wait_for(lambda: (self.status_of(svc, self.NAME, quiet=True) or {}).get(
            "retention_dropped"), 60, "retention_dropped counted")
        line = re.compile(r"output %s: \d+ events were deleted by retention_max_db_size before "
                          r"it delivered them \(\d+ in all\)" % self.NAME)
        wait_for(lambda: line.search(svc.output()), 30, "the dropped events logged")
        self.dest_up()
        wait_for(lambda: len(self.sim.sent()) >= 1000, 60, "podsim sent everything")
        self.wait_settled(svc)
        sent = {k[1] for k in self.sim.sent()}
        got = set(self.arrived())
        dropped = self.status_of(svc, self.NAME)["retention_dropped"]
        self.assertLessEqual(got, sent)
        self.assertGreater(len(sent - got), 0, "nothing was dropped: the test proves nothing")
        self.assertLessEqual(len(sent - got), dropped,
                             "events neither delivered nor counted as dropped")


class SimFailureMatrix(FailureMatrix):
    """The matrix against a simulator, made by new_dest() with the options: it crashes
    with kill -9 and comes back on its port, and keeps every copy it is sent (as Splunk
    and Log Analytics do)."""

    def matrix_options(self, **over):
        self.dest = self.new_dest()
        return self.options(self.dest, **over)

    def dest_down(self):
        self.dest.kill()

    def dest_up(self):
        self.dest.start()

    def absorbed(self):
        return None

    def tls_refused_then_fixed(self, certdir, reason):
        """The simulator serves the certificate of `certdir` and the output trusts its CA:
        a clear error naming the output, state error, nothing sent. Then the simulator
        gets the test CA's certificate, the output that CA, a reload: every event once."""
        options = self.matrix_options(tls={"ca_file": os.path.join(certdir, "ca.pem")})
        self.dest.kill()
        self.dest.use_certs(certdir)
        self.dest.start()
        svc = self.start_with_output(self.NAME, self.TYPE, options,
                                     sim_args=("--rate", "max", "--count", "300"))
        wait_for(lambda: svc.count() >= 600, 60, "600 stored")
        st = self.wait_error(svc, self.NAME, reason)
        self.assertEqual((st["state"], st["delivered"]), ("error", 0))
        self.assertRegex(svc.output(), r"warn +output %s: [a-z ]+: SSL certificate problem: %s"
                         % (self.NAME, re.escape(reason)))
        self.assertEqual(self.arrived(), [])
        self.dest.kill()
        self.dest.use_certs(certs())
        self.dest.start()
        write_outputs(svc, output_yaml(self.NAME, self.TYPE, self.options(self.dest)))
        svc.hup()
        self.wait_delivered(svc, self.NAME, 600)
        self.assertEqual(sorted(self.arrived()), sorted(self.stored_keys(svc)))
        self.assertEqual(self.status_of(svc, self.NAME)["duplicates"], 0)

    def test_expired_certificate_is_an_error_until_renewed(self):
        # A CA and server certificate made three days ago, valid for one.
        expired = os.path.join(self.dir, "expired")
        subprocess.run(["faketime", "-3 days", "bash", GEN_CERTS, expired, "1"], check=True,
                       stdout=subprocess.DEVNULL)
        self.tls_refused_then_fixed(expired, "certificate has expired")


@unittest.skipUnless(os.path.exists(receivers.CLICKHOUSE), "clickhouse-server not installed")
class ClickHouseTests(FailureMatrix, HttpOutputCase):
    NAME, TYPE = "ch", "clickhouse"

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

    def matrix_options(self, **over):
        return self.options(**over)

    def dest_down(self):
        self.ch.kill()

    def dest_up(self):
        self.ch.start()

    def arrived(self):
        if self.ch.query("SELECT count() FROM system.tables WHERE database = 'pod' AND "
                         "name = 'events'").strip() != "1":
            return []
        return [r["key"] for r in self.ch.rows("SELECT key FROM pod.events")]

    def absorbed(self):
        return self.rows()

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


@unittest.skipUnless(os.path.exists(receivers.CLICKHOUSE), "clickhouse-server not installed")
class ClickHouseTlsTests(HttpOutputCase):
    """ClickHouse over HTTPS (its https_port with a test CA's server certificate): a
    certificate that does not verify is a clear error naming the output, in state error,
    with nothing sent; once fixed, every event arrives once."""

    def start_ch(self, tls_dir):
        self.ch = receivers.ClickHouse(os.path.join(self.dir, "ch"), password=CH_PASSWORD,
                                       tls_dir=tls_dir)
        self.receivers.append(self.ch)
        return self.ch.start()

    def yaml(self, ca):
        return output_yaml("ch", "clickhouse", {
            "url": self.ch.url, "user": self.ch.user, "password": "${CH_PW}",
            "create_table": True, "database": "pod", "table": "events",
            "batch_events": 200, "flush_interval": "100ms", "retry_min": "100ms",
            "retry_max": "1s", "tls": {"ca_file": ca}})

    def start_refused(self, ca, reason):
        """The service with the output trusting `ca`; returns it once the output shows
        `reason` in state error with nothing delivered."""
        self.start_sim("--rate", "max", "--count", "300")
        svc = self.start_svc([MESSAGE, MAILLOG], start=False, env={"CH_PW": CH_PASSWORD})
        write_outputs(svc, self.yaml(ca))
        svc.start()
        wait_for(lambda: svc.count() >= 600, 60, "600 stored")
        st = self.wait_error(svc, "ch", reason)
        self.assertEqual(st["state"], "error")
        self.assertEqual((st["delivered"], st["backlog"]), (0, 600))
        self.assertRegex(svc.output(), r"warn +output ch: clickhouse [a-z ]+: SSL certificate "
                                        r"problem: " + re.escape(reason))
        self.assertEqual(self.ch.query("SELECT count() FROM system.tables WHERE database = "
                                       "'pod'").strip(), "0", "nothing reached the server")
        return svc

    def assert_once(self, svc):
        """Every stored event in the table once, without FINAL: nothing was sent twice."""
        self.wait_delivered(svc, "ch", 600)
        raw = sorted((int(r["device_id"]), r["key"], int(r["ts_us"])) for r in self.ch.rows(
            "SELECT device_id, key, ts_us FROM pod.events"))
        self.assertEqual(raw, sorted(self.stored(svc)))
        self.assertEqual(self.status_of(svc, "ch")["duplicates"], 0)

    def test_https_with_the_ca_delivers_and_a_wrong_ca_is_fixed_by_a_reload(self):
        self.start_ch(certs())
        other = os.path.join(self.dir, "other-ca")
        subprocess.run(["bash", GEN_CERTS, other], check=True, stdout=subprocess.DEVNULL)
        svc = self.start_refused(os.path.join(other, "ca.pem"),
                                 "unable to get local issuer certificate")
        write_outputs(svc, self.yaml(os.path.join(certs(), "ca.pem")))
        svc.hup()
        self.assert_once(svc)

    def test_expired_server_certificate_then_renewed(self):
        # A CA and server certificate made three days ago, valid for one.
        expired = os.path.join(self.dir, "expired")
        subprocess.run(["faketime", "-3 days", "bash", GEN_CERTS, expired, "1"], check=True,
                       stdout=subprocess.DEVNULL)
        self.start_ch(expired)
        svc = self.start_refused(os.path.join(expired, "ca.pem"), "certificate has expired")
        # The admin renews the server's certificate (a new CA too) and the output's CA.
        self.ch.stop()
        self.ch.tls_dir = certs()
        self.ch.start()
        write_outputs(svc, self.yaml(os.path.join(certs(), "ca.pem")))
        svc.hup()
        self.assert_once(svc)


class HecTests(SimFailureMatrix, HttpOutputCase):
    NAME, TYPE = "splunk", "splunk_hec"

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

    def new_dest(self):
        return self.hec()

    def arrived(self):
        return self.keys(self.dest)

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
        st = self.wait_error(svc, "splunk", "SSL certificate")
        self.assertEqual(st["state"], "error")
        self.assertEqual(hec.records(), [])
        self.assertGreater(hec.stats()["tls_failures"], 0)
        write_outputs(svc, output_yaml("splunk", "splunk_hec", self.options(hec)))
        svc.hup()
        self.wait_delivered(svc, "splunk", 3000, timeout=120)
        self.assert_everything(svc, hec)


class SentinelTests(SimFailureMatrix, HttpOutputCase):
    NAME, TYPE = "sentinel", "sentinel"

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

    def new_dest(self):
        return self.az()

    def arrived(self):
        return [r["EventKey"] for r in self.dest.records()]

    def test_wrong_ca_fails_clearly_then_reload_fixes_it(self):
        other = os.path.join(self.dir, "other-ca")
        subprocess.run(["bash", GEN_CERTS, other], check=True, stdout=subprocess.DEVNULL)
        # The simulator keeps the test CA's certificate; the output trusts another CA.
        shutil.copy(os.path.join(certs(), "server.pem"), other)
        shutil.copy(os.path.join(certs(), "server.key"), other)
        self.tls_refused_then_fixed(other, "unable to get local issuer certificate")

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
