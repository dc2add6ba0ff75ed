"""Real parts for the streaming integration tests: podsim over wss with its test CA,
the podstream binary in its own process, a real SQLite file, tinyproxy.

Nothing here fakes the thing under test: the service is the installed binary, the
peer is podsim speaking RFC 6455 over TLS, and the checks read the database file the
service wrote, comparing it with podsim's sent-log and timeline."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.request
from datetime import datetime

PODSTREAM = os.environ.get("PODSTREAM", "build/service/podstream")
PODSIM = os.environ.get("PODSIM", "build/tests/podsim/podsim")
GEN_CERTS = os.environ.get("PODSIM_GEN_CERTS", "tests/podsim/gen-certs.sh")
TOKEN = "it-token-5a1e7c0ffee"  # what podsim accepts; must never appear in any output
CLUSTER = "it_cluster_hosted"

# Service timing scaled down so that faults resolve in seconds; the defaults
# (30 s / 90 s / 1 s..5 min) are covered by the schema tests and the slow test.
FAST_TIMING = {
    "keepalive": "1s",
    "dead_after": "3s",
    "backoff_initial": "100ms",
    "backoff_max": "1s",
    "unauthorised_retry": "1s",
    "connect_timeout": "5s",
    "archive_delay": "2s",
}

_certs = None


def certs():
    """One test CA and server certificate per test process, made fresh."""
    global _certs
    if _certs is None:
        d = tempfile.mkdtemp(prefix="ps-it-certs-")
        subprocess.run(["bash", GEN_CERTS, d], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        _certs = d
    return _certs


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    """True when something accepts connections on 127.0.0.1:port."""
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def stop_process(proc, timeout=10):
    """Asks proc to end (SIGTERM), and kills it when it has not within timeout s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ts_to_us(text):
    """ISO 8601 with a numeric offset, as POD sends it, to UTC microseconds."""
    dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(dt.timestamp()) * 1000000 + dt.microsecond


def natural_key(type_name, key, ts_text):
    # message: guid; maillog: id + ts (see docs/pod-log-api.md)
    if type_name == "message":
        return ("message", key)
    return (type_name, key, ts_to_us(ts_text))


class Podsim:
    def __init__(self, workdir, *args, tls=True):
        self.workdir = workdir
        self.sent_log = os.path.join(workdir, "sent.log")
        port_file = os.path.join(workdir, "podsim.ports")
        # Every event from podsim's start is due to the service: no history before it,
        # and the first live session starts at the beginning of the timeline.
        cmd = [PODSIM, "--history", "0", "--initial-backlog", "1h",
               "--port", "0" if not tls else "off", "--control-port", "0",
               "--port-file", port_file, "--token", "%s:%s" % (CLUSTER, TOKEN),
               "--sent-log", self.sent_log, "-q"]
        if tls:
            c = certs()
            cmd += ["--tls-port", "0", "--cert", os.path.join(c, "server.pem"),
                    "--key", os.path.join(c, "server.key")]
        cmd += list(args)
        self.log_path = os.path.join(workdir, "podsim.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        ports = wait_for(lambda: self._ports(port_file), 10, "podsim to listen")
        self.ctl = ports["control"]
        self.port = ports["wss"] if tls else ports["ws"]
        self.scheme = "wss" if tls else "ws"

    @staticmethod
    def _ports(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    @property
    def endpoint(self):
        return "%s://127.0.0.1:%d/v1/stream" % (self.scheme, self.port)

    def control(self, path, method="POST", **params):
        q = "&".join("%s=%s" % (k, v) for k, v in params.items())
        url = "http://127.0.0.1:%d%s%s" % (self.ctl, path, "?" + q if q else "")
        req = urllib.request.Request(url, method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    def stats(self):
        return self.control("/stats", method="GET")

    def sent(self):
        """The set of natural keys podsim wrote, from its sent-log."""
        keys = set()
        try:
            with open(self.sent_log) as f:
                for line in f:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) == 3:
                        keys.add(natural_key(*parts))
        except FileNotFoundError:
            pass
        return keys

    def timeline(self, type_name, frm=None, to=None):
        params = {"cid": CLUSTER, "type": type_name}
        if frm:
            params["from"] = frm
        if to:
            params["to"] = to
        q = "&".join("%s=%s" % kv for kv in params.items())
        url = "http://127.0.0.1:%d/timeline/keys?%s" % (self.ctl, q)
        with urllib.request.urlopen(url, timeout=30) as r:
            keys = set()
            for line in r.read().decode().splitlines():
                parts = line.split("\t")
                if len(parts) == 3:
                    keys.add(natural_key(*parts))
            return keys

    def stop(self):
        stop_process(self.proc)
        self.log.close()


class Service:
    """`podstream run` on a config directory of its own."""

    def __init__(self, workdir, devices, settings=None, env=None):
        self.workdir = workdir
        self.cfg = os.path.join(workdir, "cfg")
        self.db = os.path.join(workdir, "state", "podstream.db")
        os.makedirs(os.path.join(self.cfg, "devices"), exist_ok=True)
        self.settings = dict(FAST_TIMING)
        self.settings.update({"database": self.db, "tls_ca_file": os.path.join(certs(), "ca.pem"),
                              "log_level": "debug"})
        if settings:
            self.settings.update(settings)
        self.env = dict(os.environ)
        self.env["POD_TOKEN"] = TOKEN
        if env:
            self.env.update(env)
        self.write_config(devices)
        self.proc = None
        self.runs = 0
        self.logs = []

    def write_config(self, devices, settings=None):
        if settings is not None:
            self.settings = settings
        with open(os.path.join(self.cfg, "podstream.yml.tmp"), "w") as f:
            for k, v in self.settings.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))
        os.replace(os.path.join(self.cfg, "podstream.yml.tmp"),
                   os.path.join(self.cfg, "podstream.yml"))
        self.write_devices(devices)

    def write_devices(self, devices):
        path = os.path.join(self.cfg, "devices", "pod.yml")
        with open(path + ".tmp", "w") as f:
            f.write(devices)
        os.replace(path + ".tmp", path)

    def start(self):
        self.runs += 1
        log = os.path.join(self.workdir, "run%d.log" % self.runs)
        self.logs.append(log)
        self.log = open(log, "w")
        self.proc = subprocess.Popen([PODSTREAM, "run", "-c", self.cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env)
        return self

    def stop(self, timeout=5.0):
        """SIGTERM; returns the seconds it took to exit."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout + 10)
        finally:
            self.log.close()
        took = time.monotonic() - t0
        return rc, took

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def output(self):
        text = ""
        for p in self.logs:
            with open(p, errors="replace") as f:
                text += f.read()
        return text

    # ---- database (read-only, as an admin would) -----------------------------

    def query(self, sql, args=()):
        if not os.path.exists(self.db):
            return []
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            con.close()

    def stored(self):
        """Natural keys of stored events, and the number of rows."""
        rows = self.query("SELECT type, key, ts_us FROM events")
        names = {0: "message", 1: "maillog", 2: "audit"}
        keys = set()
        for t, k, ts in rows:
            keys.add(("message", k) if t == 0 else (names[t], k, ts))
        return keys, len(rows)

    def count(self):
        r = self.query("SELECT count(*) FROM events")
        return r[0][0] if r else 0

    def counters(self, device_id):
        rows = self.query("SELECT * FROM counters WHERE device_id = ?", (device_id,))
        if not rows:
            return None
        cols = [r[1] for r in self.query("PRAGMA table_info(counters)")]
        return dict(zip(cols, rows[0]))

    def state(self, device_id):
        c = self.counters(device_id)
        if not c:
            return None
        names = ["stopped", "connecting", "live", "backfill", "backoff", "unauthorised", "error"]
        return names[c["state"]]

    def resume(self, device_id):
        rows = self.query("SELECT last_event_ts_us, last_healthy_us, clean_shutdown FROM resume "
                          "WHERE device_id = ?", (device_id,))
        return rows[0] if rows else None


def device_yaml(endpoint, devices):
    """devices: [(id, type, extra-properties-dict)] in the Director file shape."""
    out = ["devices:"]
    for dev_id, type_name, extra in devices:
        out += ["  - id: %d" % dev_id,
                "    name: it-%s-%d" % (type_name, dev_id),
                "    type: proofpoint",
                "    properties:",
                "      endpoint: %s" % endpoint,
                "      cluster: %s" % CLUSTER,
                '      token: "${POD_TOKEN}"',
                "      type: %s" % type_name]
        for k, v in (extra or {}).items():
            out.append("      %s: %s" % (k, json.dumps(v)))
    return "\n".join(out) + "\n"


class StreamCase(unittest.TestCase):
    """Each test gets a work directory, a podsim and a service; both are stopped and
    the service's whole output is checked for the token afterwards."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ps-it-")
        self.sim = None
        self.svc = None

    def tearDown(self):
        if self.svc and self.svc.proc and self.svc.proc.poll() is None:
            self.svc.proc.kill()
            self.svc.proc.wait()
        if self.sim:
            self.sim.stop()
        if self.svc:
            out = self.svc.output()
            self.assertNotIn(TOKEN, out, "the token appeared in the service's output")
            for line in out.splitlines():
                if "[device" in line and "device " not in line:
                    self.fail("malformed device tag: " + line)

    def start_sim(self, *args, **kw):
        self.sim = Podsim(self.dir, *args, **kw)
        return self.sim

    def start_svc(self, devices, settings=None, env=None, start=True):
        self.svc = Service(self.dir, device_yaml(self.sim.endpoint, devices), settings, env)
        return self.svc.start() if start else self.svc

    def two_hour_outage(self, *sim_args, start=True):
        """podsim's clock starts two hours back; the service (one message device)
        streams a little, stops, the clock jumps two hours and the resume state says
        the last healthy session was two hours ago: exactly what a two-hour outage
        leaves behind. Returns the simulator and the service, started again unless
        `start` is false."""
        begin = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))
        sim = self.start_sim("--rate", "2", "--start", begin, "--archive-stale", "1s",
                             *sim_args)
        svc = self.start_svc([(1, "message", None)])
        wait_for(lambda: svc.count() >= 4, 20, "a few live events")
        svc.stop()
        sim.control("/clock/advance", secs=7200)
        healthy = svc.resume(1)[1]
        con = sqlite3.connect(svc.db)
        con.execute("UPDATE resume SET last_healthy_us = ? WHERE device_id = 1",
                    (healthy - 7200 * 1000000,))
        con.commit()
        con.close()
        if start:
            svc.start()
        return sim, svc

    def assert_complete(self, expect=None):
        """Every event podsim wrote is stored once: no loss, no duplicate rows."""
        stored, rows = self.svc.stored()
        self.assertEqual(rows, len(stored), "duplicate rows in the database")
        expect = self.sim.sent() if expect is None else expect
        missing = expect - stored
        self.assertFalse(missing, "%d events lost, e.g. %s" % (len(missing),
                                                              sorted(missing)[:3]))
        return stored
