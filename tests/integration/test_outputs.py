#!/usr/bin/python3
"""Outputs (#16) against real receivers on 127.0.0.1: the File output (rotation,
retention count, kill -9) and the Syslog output into a real rsyslog over TLS (every
event once, whole, in order per device, a 1 MiB event, rsyslog down for a while,
kill -9 of podstream, TLS failures), and over RELP into rsyslog's imrelp, plain and
TLS (every event once in order, kill -9 of rsyslog mid-stream, a wrong CA).

Run one class: PODSTREAM=... PODSIM=... /usr/bin/python3 test_outputs.py -v FileTests"""

import glob
import json
import os
import signal
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PODSTREAM, StreamCase, free_port, port_open, wait_for  # noqa: E402

MESSAGE = (1, "message", None)
MAILLOG = (2, "maillog", None)


def write_outputs(svc, text):
    """outputs/out.yml of the service's configuration directory."""
    d = os.path.join(svc.cfg, "outputs")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "out.yml.tmp"), "w") as f:
        f.write(text)
    os.replace(os.path.join(d, "out.yml.tmp"), os.path.join(d, "out.yml"))


def output_row(svc, name):
    rows = svc.query("SELECT * FROM outputs WHERE name = ?", (name,))
    return rows[0] if rows else None


def stored_keys(svc):
    """(device_id, key) of every stored event, in id order."""
    return [(r[0], r[1]) for r in svc.query("SELECT device_id, key FROM events ORDER BY id")]


def event_key(ev):
    return ev.get("guid") or ev.get("id")


def read_lines(paths):
    out = []
    for p in paths:
        with open(p) as f:
            for line in f:
                out.append(json.loads(line))
    return out


class OutputCase(StreamCase):
    def status_json(self, svc, quiet=False):
        """status --format json; with `quiet` {} while the database is not there yet."""
        p = subprocess.run([PODSTREAM, "status", "-c", svc.cfg, "--format", "json"],
                           capture_output=True, text=True)
        if quiet and p.returncode != 0:
            return {}
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def validate_errors(self, outputs_yaml):
        """What `podstream validate` says of a configuration with these outputs; it must fail."""
        self.start_sim("--rate", "1")
        svc = self.start_svc([MESSAGE], start=False)
        write_outputs(svc, outputs_yaml)
        p = subprocess.run([PODSTREAM, "validate", "-c", svc.cfg], capture_output=True,
                           text=True)
        self.assertNotEqual(p.returncode, 0)
        return p.stdout + p.stderr

    def delivered_all(self, svc, name):
        def done():
            row = svc.query("SELECT last_id FROM outputs WHERE name = ?", (name,))
            top = svc.query("SELECT max(id) FROM events")[0][0]
            return row and top and row[0][0] >= top
        return done


class FileTests(OutputCase):
    def file_files(self, base):
        """Rotated files oldest first, then the current one."""
        rotated = sorted(glob.glob(base + ".*"), key=lambda p: -int(p.rsplit(".", 1)[1]))
        return rotated + ([base] if os.path.exists(base) else [])

    def test_rotation_retention_and_every_event_once_in_order(self):
        out = os.path.join(self.dir, "out", "events.jsonl")
        metrics = os.path.join(self.dir, "metrics.prom")
        self.start_sim("--rate", "max", "--count", "2000")
        svc = self.start_svc([MESSAGE, MAILLOG], {"metrics_file": metrics}, start=False)
        write_outputs(svc, "outputs:\n"
                           "  - name: jsonl\n"
                           "    type: file\n"
                           "    path: %s\n"
                           "    rotate_size: 256KiB\n"
                           "    keep: 1000\n"
                           "    batch_events: 300\n"
                           "    flush_interval: 100ms\n" % out)
        svc.start()
        wait_for(lambda: svc.count() >= 4000, 60, "4000 stored events")
        wait_for(self.delivered_all(svc, "jsonl"), 30, "all delivered")
        rc, took = svc.stop()
        self.assertEqual(rc, 0)
        self.assertLess(took, 5.0)
        files = self.file_files(out)
        self.assertGreater(len(files), 3, "rotated by size")
        for p in files:
            self.assertLessEqual(os.path.getsize(p), 256 * 1024)
            self.assertEqual(oct(os.stat(p).st_mode & 0o777), "0o640")
        lines = read_lines(files)
        got = [event_key(e) for e in lines]
        want = [k for _, k in stored_keys(svc)]
        self.assertEqual(got, want, "every stored event once, in id order")
        row = output_row(svc, "jsonl")
        self.assertIsNotNone(row)
        st = self.status_json(svc)["outputs"][0]
        self.assertEqual(st["name"], "jsonl")
        self.assertEqual(st["delivered"], 4000)
        self.assertEqual(st["backlog"], 0)
        self.assertIsNotNone(st["last_delivery"])
        with open(metrics) as f:
            prom = f.read()
        self.assertIn('podstream_output_delivered_events_total{output="jsonl",type="file"} 4000\n',
                      prom)
        self.assertIn('podstream_output_backlog_events{output="jsonl",type="file"} 0\n', prom)
        self.assertIn('podstream_output_state{output="jsonl",type="file",state="stopped"} 1\n',
                      prom)

    def test_keep_deletes_the_oldest_files(self):
        out = os.path.join(self.dir, "out", "events.jsonl")
        self.start_sim("--rate", "max", "--count", "3000")
        svc = self.start_svc([MESSAGE], start=False)
        write_outputs(svc, "- name: jsonl\n  type: file\n  path: %s\n"
                           "  rotate_size: 64KiB\n  keep: 2\n  batch_events: 100\n" % out)
        svc.start()
        wait_for(lambda: svc.count() >= 3000, 60, "3000 stored")
        wait_for(self.delivered_all(svc, "jsonl"), 30, "all delivered")
        svc.stop()
        self.assertEqual(sorted(os.path.basename(p) for p in glob.glob(out + "*")),
                         ["events.jsonl", "events.jsonl.1", "events.jsonl.2"])
        # what is left is the newest stretch, in order, with no gap
        got = [event_key(e) for e in read_lines(self.file_files(out))]
        want = [k for _, k in stored_keys(svc)]
        self.assertEqual(got, want[len(want) - len(got):])

    def test_kill9_while_writing_loses_nothing(self):
        out = os.path.join(self.dir, "out", "events.jsonl")
        self.start_sim("--rate", "400")
        svc = self.start_svc([MESSAGE, MAILLOG], start=False)
        write_outputs(svc, "- name: jsonl\n  type: file\n  path: %s\n  batch_events: 50\n"
                           "  flush_interval: 50ms\n" % out)
        svc.start()
        for i in range(5):
            time.sleep(1.0 + 0.3 * i)
            svc.kill9()
            svc.start()
        time.sleep(2)
        svc.stop()
        svc.start()
        wait_for(self.delivered_all(svc, "jsonl"), 30, "all delivered after the restarts")
        svc.stop()
        got = [event_key(e) for e in read_lines(self.file_files(out))]
        want = [k for _, k in stored_keys(svc)]
        self.assertTrue(set(want) <= set(got), "%d stored events never written" %
                        len(set(want) - set(got)))
        # duplicates only from a batch written but not committed before a kill, and
        # each counted: every event written twice was counted as a possible duplicate
        dups = len(got) - len(set(got))
        self.assertLessEqual(dups, 5 * 50)
        self.assertGreaterEqual(output_row(svc, "jsonl")[13], dups)

    def test_retention_waits_for_an_output_that_is_down(self):
        # Events three days old under retention_days: 1. While the output cannot write
        # (its directory is a file), retention keeps them; once it delivers, they go.
        blocker = os.path.join(self.dir, "blocked")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        begin = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))
        self.start_sim("--rate", "max", "--count", "300", "--start", begin)
        svc = self.start_svc([MESSAGE], {"retention_days": 1}, start=False)
        out = os.path.join(blocker, "events.jsonl")
        write_outputs(svc, "- {name: jsonl, type: file, path: %s, retry_min: 100ms, "
                           "retry_max: 500ms}\n" % out)
        svc.start()
        wait_for(lambda: svc.count() >= 300, 30, "300 stored")
        st = wait_for(lambda: (self.status_json(svc, quiet=True).get("outputs") or [{}])[0]
                      .get("last_error"), 20, "the output's error")
        self.assertIn(out, st)
        time.sleep(3)  # retention steps run meanwhile
        self.assertEqual(svc.count(), 300, "retention deleted undelivered events")
        good = os.path.join(self.dir, "out", "events.jsonl")
        write_outputs(svc, "- {name: jsonl, type: file, path: %s}\n" % good)
        svc.hup()
        wait_for(lambda: os.path.exists(good) and len(read_lines([good])) >= 300, 30,
                 "all 300 written")
        # delivered: now retention may take them (it keeps the newest id)
        wait_for(lambda: svc.count() <= 1, 30, "retention after delivery")
        svc.stop()
        self.assertEqual(len(set(event_key(e) for e in read_lines([good]))), 300)

    def test_devices_types_and_pipelines_of_an_output(self):
        # The output takes device 1 only, drops outbound mail and marks the rest; the
        # stored events are not changed by its pipelines.
        out = os.path.join(self.dir, "out", "events.jsonl")
        self.start_sim("--rate", "max", "--count", "1000")
        svc = self.start_svc([MESSAGE, MAILLOG], start=False)
        os.makedirs(os.path.join(svc.cfg, "pipelines"))
        with open(os.path.join(svc.cfg, "pipelines", "p.yml"), "w") as f:
            f.write("pipelines:\n"
                    "  - name: drop_outbound\n"
                    "    processors:\n"
                    "      - drop:\n"
                    "          if: \"filter.routeDirection == 'outbound'\"\n"
                    "      - set: {field: forwarded_by, value: podstream}\n")
        write_outputs(svc, "- name: jsonl\n  type: file\n  path: %s\n"
                           "  devices: [it-message-1]\n  types: [message]\n"
                           "  pipelines: [drop_outbound]\n" % out)
        svc.start()
        wait_for(lambda: svc.count() >= 2000, 60, "2000 stored")
        wait_for(self.delivered_all(svc, "jsonl"), 30, "all delivered")
        svc.stop()
        lines = read_lines([out])
        inbound = svc.query("SELECT key FROM events WHERE device_id = 1 AND "
                            "(direction IS NULL OR direction <> 'outbound') ORDER BY id")
        self.assertEqual([event_key(e) for e in lines], [k for (k,) in inbound])
        self.assertTrue(all(e["forwarded_by"] == "podstream" for e in lines))
        self.assertGreater(output_row(svc, "jsonl")[10], 0, "dropped counted")
        self.assertEqual(svc.query("SELECT count(*) FROM events WHERE device_id = 1"), [(1000,)])
        raw = subprocess.run([PODSTREAM, "query", "-c", svc.cfg, "--format", "json",
                              "--limit", "1"], capture_output=True, text=True).stdout
        self.assertNotIn("forwarded_by", raw, "the stored event is not changed")

    def test_invalid_output_is_refused_with_file_line_and_field(self):
        text = self.validate_errors("outputs:\n"
                                    "  - name: a\n"
                                    "    type: fiel\n"
                                    "  - name: b\n"
                                    "    type: file\n"
                                    "    path: /tmp/x\n"
                                    "    devices: [nosuch]\n"
                                    "    rotate_sise: 1MiB\n")
        self.assertIn('outputs/out.yml:3:11: error: outputs[0].type: unknown output type '
                      '"fiel" (did you mean "file"?)', text)
        self.assertIn('outputs/out.yml:7:15: error: outputs[1].devices[0]: no device has the '
                      'name or id "nosuch"', text)
        self.assertIn('outputs/out.yml:8:5: error: outputs[1].rotate_sise: unknown key '
                      '"rotate_sise" (did you mean "rotate_size"?)', text)


RSYSLOG_CONF = """\
global(workDirectory="{dir}/work" maxMessageSize="{max}"
       DefaultNetstreamDriver="ossl"
       DefaultNetstreamDriverCAFile="{certs}/ca.pem"
       DefaultNetstreamDriverCertFile="{certs}/server.pem"
       DefaultNetstreamDriverKeyFile="{certs}/server.key")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1"
       StreamDriver.AuthMode="anon" MaxFrameSize="{frame}")
input(type="imtcp" port="{port}")
template(name="perdev" type="string" string="{dir}/out/%HOSTNAME%.log")
template(name="msgonly" type="string" string="%msg%\\n")
action(type="omfile" dynaFile="perdev" template="msgonly")
"""

# imrelp answers a message once it has submitted it; with a direct main queue that
# is after omfile wrote it, so a kill -9 of rsyslog loses nothing it acknowledged.
RSYSLOG_RELP_CONF = """\
global(workDirectory="{dir}/work" maxMessageSize="{max}")
main_queue(queue.type="Direct")
module(load="imrelp" tls.tlslib="openssl")
input(type="imrelp" port="{port}" maxDataSize="{max}"{tls})
template(name="perdev" type="string" string="{dir}/out/%HOSTNAME%.log")
template(name="msgonly" type="string" string="%msg%\\n")
action(type="omfile" dynaFile="perdev" template="msgonly")
"""
RELP_TLS = (' tls="on" tls.caCert="{certs}/ca.pem" tls.myCert="{certs}/server.pem"'
            ' tls.myPrivKey="{certs}/server.key"')


class Rsyslog:
    """rsyslogd -n with its own configuration: imtcp over TLS (ossl) with the test CA's
    server certificate, or with `relp` imrelp (over TLS when `tls`); one file per
    device (HOSTNAME) holding each message."""

    def __init__(self, workdir, certs_dir, max_bytes=4 * 1024 * 1024, relp=False, tls=True):
        self.dir = os.path.join(workdir, "rsyslog")
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "out"), exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        conf = RSYSLOG_RELP_CONF if relp else RSYSLOG_CONF
        with open(self.conf, "w") as f:
            f.write(conf.format(dir=self.dir, certs=certs_dir, port=self.port, max=max_bytes,
                                frame=max_bytes + 4096,
                                tls=RELP_TLS.format(certs=certs_dir) if tls else ""))
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "a")
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", self.conf, "-i",
                                      os.path.join(self.dir, "rsyslogd.pid")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port), 10, "rsyslog listening")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()
        self.proc = None

    def kill9(self):
        """kill -9, as a crash would."""
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()
        self.proc = None

    def messages(self, device_name):
        """The JSON events of one device, in the order rsyslog wrote them."""
        path = os.path.join(self.dir, "out", device_name + ".log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


def syslog_yaml(port, ca, extra="", max_size="4MiB", transport=None):
    """The `siem` output; `ca` None: no tls mapping."""
    return ("outputs:\n"
            "  - name: siem\n"
            "    type: syslog\n"
            "    host: 127.0.0.1\n"
            "    port: %d\n"
            "    max_message_size: %s\n"
            "    batch_events: 200\n"
            "    flush_interval: 100ms\n"
            "    retry_min: 100ms\n"
            "    retry_max: 1s\n" % (port, max_size) +
            ("    transport: %s\n" % transport if transport else "") +
            ("    tls:\n"
             "      ca_file: %s\n" % ca if ca else "")) + extra


class SyslogCase(OutputCase):
    """rsyslog as self.rs, stopped at the end; the checks of what it received."""

    def setUp(self):
        super().setUp()
        self.rs = None

    def tearDown(self):
        if self.rs:
            self.rs.stop()
        super().tearDown()

    def certs(self):
        from harness import certs
        return certs()

    def assert_all_arrived_dups_counted(self, svc):
        """Every stored event arrived, and status counts at least the duplicates rsyslog got."""
        self.assert_all_arrived(svc, self.rs, allow_dups=True)
        got = [event_key(e) for n in ("it-message-1", "it-maillog-2")
               for e in self.rs.messages(n)]
        self.assertGreaterEqual(self.status_json(svc)["outputs"][0]["duplicates"],
                                len(got) - len(set(got)), "every duplicate counted")

    def wait_rsyslog_wrote(self, n):
        """Until rsyslog has written n messages of the two devices. TCP has no
        acknowledgement of its own: a test that stops rsyslog right after podstream
        delivered lets it write first (RelpTests covers a receiver that goes away)."""
        wait_for(lambda: sum(len(self.rs.messages(d))
                             for d in ("it-message-1", "it-maillog-2")) >= n,
                 30, "rsyslog wrote all %d" % n)

    def assert_all_arrived(self, svc, rs, allow_dups=False):
        """Every stored event arrived, whole, in id order per device."""
        names = {1: "it-message-1", 2: "it-maillog-2"}
        rows = svc.query("SELECT device_id, key FROM events ORDER BY id")
        for dev, name in names.items():
            want = [k for d, k in rows if d == dev]
            got = []
            for e in rs.messages(name):
                # the parts of a split event are one event, each part carrying its key
                part = e.get("podstreamPart", {}).get("index", 1)
                if part == 1:
                    got.append(event_key(e))
            if not want:
                continue
            if allow_dups:
                self.assertEqual(set(got), set(want), "device %d: lost or foreign events" % dev)
                # in order: the first arrival of each key follows id order
                firsts = []
                for k in got:
                    if k not in firsts:
                        firsts.append(k)
                self.assertEqual(firsts, want)
            else:
                self.assertEqual(got, want, "device %d: every event once, in order" % dev)

    def start_all(self, sim_args, ca=None, max_size="4MiB", relp=False, tls=True,
                  rs_max=4 * 1024 * 1024):
        self.rs = Rsyslog(self.dir, self.certs(), max_bytes=rs_max, relp=relp, tls=tls)
        self.start_sim(*sim_args)
        svc = self.start_svc([MESSAGE, MAILLOG], start=False)
        ca = (ca or os.path.join(self.certs(), "ca.pem")) if tls else None
        write_outputs(svc, syslog_yaml(self.rs.port, ca, max_size=max_size,
                                       transport="relp" if relp else None))
        svc.start()
        return svc

    def big_event_sent(self, svc, size):
        """podsim sends one message event of `size` bytes (padding in msgParts)."""
        wait_for(lambda: svc.state(1) == "live", 20, "live")
        self.sim.control("/fault/oversize", bytes=size)
        wait_for(lambda: (svc.query("SELECT max(raw_len) FROM events")[0][0] or 0) >= size, 30,
                 "the big event stored")

    def check_oversized(self, relp):
        # podsim's oversized events carry their bulk in one msgParts part (message) or
        # in one field (maillog): the message event is split by msgParts and its big
        # part truncated; the maillog event is truncated. The split itself is
        # unit-tested with several parts (test_output_oversize).
        # over RELP, imrelp's maxDataSize (and rsyslog's maxMessageSize) is that size too
        svc = self.start_all(("--rate", "20", "--count", "100"), max_size="256KiB", relp=relp,
                             rs_max=256 * 1024 if relp else 4 * 1024 * 1024)
        self.big_event_sent(svc, 700 * 1024)
        wait_for(lambda: svc.count() >= 200, 30, "all 200 events")
        wait_for(self.delivered_all(svc, "siem"), 30, "all delivered")
        svc.stop()
        self.rs.stop()
        self.assert_all_arrived(svc, self.rs)
        big = svc.query("SELECT key FROM events WHERE device_id = 1 AND raw_len > 500000")
        self.assertEqual(len(big), 1)
        parts = [e for e in self.rs.messages("it-message-1") if e.get("guid") == big[0][0]]
        st = self.status_json(svc)["outputs"][0]
        if len(parts) == 1:
            # podsim made it with its bulk as the only part: nothing to split by
            self.assertNotIn("podstreamPart", parts[0])
            self.assertEqual(st["split"], 0)
        else:
            self.assertEqual([p["podstreamPart"] for p in parts],
                             [{"index": i + 1, "count": len(parts)} for i in range(len(parts))])
            self.assertTrue(all(len(p["msgParts"]) == 1 for p in parts))
            self.assertTrue(all(p["envelope"] == parts[0]["envelope"] for p in parts),
                            "each part carries the shared keys")
            self.assertEqual(st["split"], 1)
        cut = [p for p in parts if p.get("podstreamTruncated")]
        self.assertEqual(len(cut), 1)
        self.assertGreaterEqual(cut[0]["podstreamOriginalBytes"], 700 * 1024)
        for name in ("it-message-1", "it-maillog-2"):
            for e in self.rs.messages(name):
                self.assertLessEqual(len(json.dumps(e, separators=(",", ":"))), 256 * 1024)
        self.assertGreaterEqual(st["truncated"], 2)  # the big part, and the maillog event

    def check_kill9_of_podstream(self, relp):
        svc = self.start_all(("--rate", "300", "--count", "1500", "--archive-stale", "1s"),
                             relp=relp)
        for i in range(4):
            time.sleep(0.8 + 0.4 * i)
            svc.kill9()
            svc.start()
        wait_for(lambda: svc.count() >= 3000, 90, "all 3000 events")
        wait_for(self.delivered_all(svc, "siem"), 60, "all delivered")
        svc.stop()
        self.rs.stop()
        self.assert_all_arrived_dups_counted(svc)

    def refused(self, svc):
        """The first output once it is in state error with a last error, else None."""
        o = self.status_json(svc, quiet=True).get("outputs")
        return o and o[0]["state"] == "error" and o[0]["last_error"] and o[0]


class SyslogTests(SyslogCase):
    def test_every_event_once_whole_in_order_over_tls(self):
        svc = self.start_all(("--rate", "max", "--count", "1500"))
        wait_for(lambda: svc.count() >= 3000, 60, "3000 stored")
        wait_for(self.delivered_all(svc, "siem"), 30, "all delivered")
        rc, took = svc.stop()
        self.assertEqual(rc, 0)
        self.assertLess(took, 5.0)
        self.rs.stop()
        self.assert_all_arrived(svc, self.rs)
        st = self.status_json(svc)["outputs"][0]
        self.assertEqual((st["name"], st["type"], st["delivered"]), ("siem", "syslog", 3000))


    def test_plain_tcp_and_udp_receivers(self):
        # Legacy receivers: octet-counted frames over plain TCP, one datagram each over
        # UDP; both with the same RFC 5424 header.
        import socket
        import threading
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # no datagram lost
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(0.2)
        got = {"tcp": b"", "udp": []}
        done = threading.Event()

        def tcp_reader():
            c, _ = tcp.accept()
            c.settimeout(0.2)
            while not done.is_set():
                try:
                    b = c.recv(1 << 16)
                except socket.timeout:
                    continue
                if not b:
                    break
                got["tcp"] += b
            c.close()

        def udp_reader():
            while not done.is_set():
                try:
                    got["udp"].append(udp.recv(1 << 16))
                except socket.timeout:
                    continue
        threads = [threading.Thread(target=tcp_reader), threading.Thread(target=udp_reader)]
        for t in threads:
            t.start()
        try:
            self.start_sim("--rate", "max", "--count", "200")
            svc = self.start_svc([MAILLOG], start=False)
            write_outputs(svc, "- {name: t, type: syslog, transport: tcp, host: 127.0.0.1, "
                               "port: %d}\n"
                               "- {name: u, type: syslog, transport: udp, host: 127.0.0.1, "
                               "port: %d, batch_events: 20, flush_interval: 20ms}\n"
                               % (tcp.getsockname()[1], udp.getsockname()[1]))
            svc.start()
            wait_for(lambda: svc.count() >= 200, 30, "200 stored")
            wait_for(self.delivered_all(svc, "t"), 30, "tcp delivered")
            wait_for(self.delivered_all(svc, "u"), 30, "udp delivered")
            wait_for(lambda: len(got["udp"]) >= 200, 10, "200 datagrams")
            svc.stop()
        finally:
            done.set()
            for t in threads:
                t.join()
            tcp.close()
            udp.close()
        frames, buf = [], got["tcp"]
        while buf:
            n, _, rest = buf.partition(b" ")
            frames.append(rest[:int(n)])
            buf = rest[int(n):]
        want = [k for (k,) in svc.query("SELECT key FROM events ORDER BY id")]
        for msgs in (frames, got["udp"]):
            self.assertEqual(len(msgs), 200)
            keys = []
            for m in msgs:
                self.assertTrue(m.startswith(b"<134>1 "), m[:40])
                head, _, body = m.partition(b"] ")
                self.assertIn(b" it-maillog-2 podstream - maillog [podstream@32473 ", head)
                keys.append(json.loads(body)["id"])
            self.assertEqual(keys, want)

    def test_1_mib_event_arrives_whole(self):
        svc = self.start_all(("--rate", "20", "--count", "200"))
        self.big_event_sent(svc, 1024 * 1024)
        wait_for(lambda: svc.count() >= 400, 30, "all 400 events")
        wait_for(self.delivered_all(svc, "siem"), 30, "all delivered")
        svc.stop()
        self.rs.stop()
        self.assert_all_arrived(svc, self.rs)
        sizes = [len(json.dumps(e)) for e in self.rs.messages("it-message-1")]
        self.assertGreaterEqual(max(sizes), 1024 * 1024)
        self.assertFalse(any("podstreamPart" in e or "podstreamTruncated" in e
                             for e in self.rs.messages("it-message-1")))

    def test_oversized_events_are_split_or_truncated_marked_and_counted(self):
        self.check_oversized(relp=False)

    def test_rsyslog_down_for_a_while_loses_nothing(self):
        svc = self.start_all(("--rate", "100", "--count", "2000"))
        wait_for(lambda: svc.count() >= 300, 30, "some events")
        self.rs.stop()
        time.sleep(3)
        self.assertIn(self.status_json(svc)["outputs"][0]["state"], ("retrying", "sending"))
        self.rs.start()
        wait_for(lambda: svc.count() >= 4000, 90, "all 4000 events")
        wait_for(self.delivered_all(svc, "siem"), 60, "all delivered after the restart")
        svc.stop()
        self.rs.stop()
        self.assert_all_arrived_dups_counted(svc)

    def test_kill9_of_podstream_while_forwarding_loses_nothing(self):
        self.check_kill9_of_podstream(relp=False)

    def test_rsyslog_down_longer_than_a_retention_step_loses_nothing(self):
        # Events three days old under retention_days: 1, rsyslog down from the start:
        # retention keeps them all; once they are delivered, it takes them.
        self.rs = Rsyslog(self.dir, self.certs())
        self.rs.stop()
        begin = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))
        self.start_sim("--rate", "max", "--count", "300", "--start", begin)
        svc = self.start_svc([MESSAGE, MAILLOG], {"retention_days": 1}, start=False)
        write_outputs(svc, syslog_yaml(self.rs.port, os.path.join(self.certs(), "ca.pem")))
        svc.start()
        wait_for(lambda: svc.count() >= 600, 60, "600 stored")
        wait_for(lambda: (self.status_json(svc, quiet=True).get("outputs") or [{}])[0]
                 .get("last_error"), 30, "the output's error")
        # A retention step ran after the last event was stored: each step deletes the
        # hourly counts of the hours past retention, whatever the outputs hold.
        cutoff_us = int((time.time() - 86400 - 3600) * 1e6)
        wait_for(lambda: svc.query("SELECT count(*) FROM hourly WHERE hour_us < ?",
                                   (cutoff_us,))[0][0] == 0, 40, "a retention step")
        self.assertEqual(svc.count(), 600, "retention deleted undelivered events")
        self.rs.start()
        wait_for(self.delivered_all(svc, "siem"), 90, "every event delivered")
        self.wait_rsyslog_wrote(600)
        self.assert_all_arrived(svc, self.rs)
        self.assertEqual(self.status_json(svc)["outputs"][0]["retention_dropped"], 0)
        # delivered: now retention may take them (it keeps the newest id)
        wait_for(lambda: svc.count() <= 1, 40, "retention after delivery")
        svc.stop()
        self.rs.stop()

    def tls_failure_then_fixed(self, bad_ca, reason):
        svc = self.start_all(("--rate", "50", "--count", "300"), ca=bad_ca)
        wait_for(lambda: svc.count() >= 50, 30, "some events")

        st = wait_for(lambda: self.refused(svc), 20, "the output in state error")
        self.assertIn(reason, st["last_error"])
        self.assertIn("does not verify", st["last_error"])
        self.assertEqual(st["delivered"], 0)
        self.assertIn("output siem: TLS: the certificate of 127.0.0.1 does not verify",
                      svc.output())
        write_outputs(svc, syslog_yaml(self.rs.port, os.path.join(self.certs(), "ca.pem")))
        svc.hup()
        wait_for(lambda: svc.count() >= 600, 60, "all 600 events")
        wait_for(self.delivered_all(svc, "siem"), 60, "all delivered once the CA is right")
        svc.stop()
        self.rs.stop()
        self.assert_all_arrived(svc, self.rs)

    def test_wrong_ca_is_a_clear_error_and_nothing_is_lost_after_the_fix(self):
        other = os.path.join(self.dir, "other-ca")
        subprocess.run(["bash", os.environ["PODSIM_GEN_CERTS"], other], check=True,
                       stdout=subprocess.DEVNULL)
        self.tls_failure_then_fixed(os.path.join(other, "ca.pem"),
                                    "self-signed certificate in certificate chain")

    def test_expired_certificate_is_a_clear_error_and_nothing_is_lost_after_renewal(self):
        # A CA and server certificate made three days ago, valid for one.
        expired = os.path.join(self.dir, "expired")
        subprocess.run(["faketime", "-3 days", "bash", os.environ["PODSIM_GEN_CERTS"], expired,
                        "1"], check=True, stdout=subprocess.DEVNULL)
        self.rs = Rsyslog(self.dir, expired)
        self.start_sim("--rate", "50", "--count", "100")
        svc = self.start_svc([MESSAGE, MAILLOG], start=False)
        write_outputs(svc, syslog_yaml(self.rs.port, os.path.join(expired, "ca.pem")))
        svc.start()

        st = wait_for(lambda: self.refused(svc), 20, "the output in state error")
        self.assertIn("certificate has expired", st["last_error"])
        # nothing was acknowledged: the cursor did not move
        self.assertEqual(output_row(svc, "siem")[3], 0)

        # The receiver's admin renews its certificate and CA in place, and podstream's
        # admin reloads: everything stored so far, and after, arrives once.
        self.rs.stop()
        for name in ("ca.pem", "server.pem", "server.key"):
            shutil.copyfile(os.path.join(self.certs(), name), os.path.join(expired, name))
        self.rs.start()
        svc.hup()
        wait_for(lambda: svc.count() >= 200, 60, "all 200 events")
        wait_for(self.delivered_all(svc, "siem"), 60, "all delivered after the renewal")
        self.wait_rsyslog_wrote(200)
        svc.stop()
        self.rs.stop()
        self.assert_all_arrived(svc, self.rs)


class RelpTests(SyslogCase):
    """transport: relp into rsyslog's imrelp: each message acknowledged by rsyslog."""

    def test_every_event_once_in_order_over_relp_tls(self):
        svc = self.start_all(("--rate", "max", "--count", "1500"), relp=True)
        wait_for(lambda: svc.count() >= 3000, 60, "3000 stored")
        wait_for(self.delivered_all(svc, "siem"), 30, "all delivered")
        self.assertIn("output siem: connected to 127.0.0.1:%d over RELP (librelp)" % self.rs.port,
                      svc.output())
        rc, took = svc.stop()
        self.assertEqual(rc, 0)
        self.assertLess(took, 5.0)
        self.rs.stop()
        self.assert_all_arrived(svc, self.rs)
        st = self.status_json(svc)["outputs"][0]
        self.assertEqual((st["delivered"], st["duplicates"]), (3000, 0))

    def test_kill9_of_rsyslog_mid_stream_loses_nothing(self):
        # Plain TCP counts a batch once rsyslog's kernel has the bytes, so a crash of
        # rsyslog can lose what it had read but not written; RELP commits only what
        # rsyslog answered, and sends the rest again to the restarted rsyslog.
        svc = self.start_all(("--rate", "1500", "--count", "6000"), relp=True, tls=False)
        def cursor():
            row = output_row(svc, "siem")
            return row[3] if row else 0
        last = 0
        for i in range(3):
            wait_for(lambda: cursor() > last, 30, "delivering")
            # Stopped first, rsyslog's kernel still takes (and TCP-acknowledges) a
            # batch that rsyslog never reads: what plain TCP would count as delivered.
            self.rs.proc.send_signal(signal.SIGSTOP)
            time.sleep(0.5 + 0.2 * i)
            self.rs.kill9()
            time.sleep(0.5)
            self.rs.start()
            last = cursor()
        wait_for(lambda: svc.count() >= 12000, 90, "all 12000 events")
        wait_for(self.delivered_all(svc, "siem"), 60, "all delivered after the restarts")
        svc.stop()
        self.rs.stop()
        self.assert_all_arrived_dups_counted(svc)
        # the unanswered batches went again, counted as possible duplicates
        self.assertGreater(self.status_json(svc)["outputs"][0]["duplicates"], 0)

    def test_wrong_ca_fails_clearly(self):
        other = os.path.join(self.dir, "other-ca")
        subprocess.run(["bash", os.environ["PODSIM_GEN_CERTS"], other], check=True,
                       stdout=subprocess.DEVNULL)
        svc = self.start_all(("--rate", "50", "--count", "100"), relp=True,
                             ca=os.path.join(other, "ca.pem"))
        st = wait_for(lambda: self.refused(svc), 20, "the output in state error")
        self.assertIn("does not verify: self-signed certificate in certificate chain",
                      st["last_error"])
        self.assertEqual(st["delivered"], 0)
        svc.stop()
        self.assertEqual(output_row(svc, "siem")[3], 0)

    def test_kill9_of_podstream_while_forwarding_loses_nothing(self):
        self.check_kill9_of_podstream(relp=True)

    def test_oversized_events_are_split_or_truncated_as_over_tcp(self):
        self.check_oversized(relp=True)

    def test_invalid_transport_is_refused_with_file_line_and_field(self):
        text = self.validate_errors("outputs:\n"
                                    "  - name: siem\n"
                                    "    type: syslog\n"
                                    "    host: 127.0.0.1\n"
                                    "    transport: rlep\n")
        self.assertIn('outputs/out.yml:5:16: error: outputs[0].transport:', text)
        self.assertIn('"relp"', text)


if __name__ == "__main__":
    unittest.main()
