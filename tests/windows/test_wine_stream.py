"""podstream.exe under wine64 against podsim on Linux, over wss with a test CA.

The service is the cross-built Windows binary (installer/windows/build.sh) run through
installer/windows/wine-run.sh; podsim is the Linux build's. Events are checked with
`podstream.exe query`, the way an admin on Windows would look at them. The service is
killed hard once (SIGKILL to the wine process: no drain, no clean shutdown record) and
started again: every event podsim wrote must end up stored exactly once.

Run by installer/windows/test-wine.sh with PODSTREAM_EXE, WINE_RUN and PODSIM set."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("PODSIM", os.path.join(ROOT, "build/tests/podsim/podsim"))
os.environ.setdefault("PODSIM_GEN_CERTS", os.path.join(ROOT, "tests/podsim/gen-certs.sh"))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
import harness  # noqa: E402  (Podsim, the test CA, wait_for, device_yaml)

EXE = os.environ.get("PODSTREAM_EXE", os.path.join(ROOT, "build-win/service/podstream.exe"))
WINE_RUN = os.environ.get("WINE_RUN", os.path.join(ROOT, "installer/windows/wine-run.sh"))


def winpath(path):
    """A Linux path as the Windows program sees it: wine maps Z: to /."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


class WineService:
    """`podstream.exe run` under wine on a configuration directory of its own."""

    def __init__(self, workdir, endpoint):
        self.workdir = workdir
        self.cfg = os.path.join(workdir, "cfg")
        os.makedirs(os.path.join(self.cfg, "devices"))
        os.makedirs(os.path.join(workdir, "state"))
        settings = dict(harness.FAST_TIMING)
        settings.update({"database": winpath(os.path.join(workdir, "state", "podstream.db")),
                         "tls_ca_file": winpath(os.path.join(harness.certs(), "ca.pem")),
                         "log_level": "debug"})
        with open(os.path.join(self.cfg, "podstream.yml"), "w") as f:
            for k, v in settings.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))
        with open(os.path.join(self.cfg, "devices", "pod.yml"), "w") as f:
            f.write(harness.device_yaml(endpoint, [(1, "message", None)]))
        self.env = dict(os.environ, POD_TOKEN=harness.TOKEN)
        self.proc = None
        self.logs = []

    def start(self):
        log = os.path.join(self.workdir, "run%d.log" % (len(self.logs) + 1))
        self.logs.append(log)
        with open(log, "w") as out:
            # wine-run.sh execs wine64, and wine64 keeps its pid: self.proc.pid is the
            # Linux process of podstream.exe itself.
            self.proc = subprocess.Popen([WINE_RUN, EXE, "run", "-c", self.cfg], stdout=out,
                                         stderr=subprocess.STDOUT, env=self.env)

    def kill9(self):
        """SIGKILL; returns the exit status (-9 when it was podstream.exe that died)."""
        os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(30)

    def stored(self):
        """(guids, rows) of the stored message events, read by `podstream.exe query`."""
        r = subprocess.run([WINE_RUN, EXE, "query", "-c", self.cfg, "--type", "message",
                            "--format", "json", "--limit", "0"], env=self.env,
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            return None, r.stderr.strip()
        guids = [json.loads(line)["guid"] for line in r.stdout.splitlines() if line.strip()]
        return set(guids), len(guids)

    def output(self):
        text = ""
        for p in self.logs:
            with open(p, errors="replace") as f:
                text += f.read()
        return text


class WineStreamTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ps-wine-")
        # --archive-stale 1s: the event in flight at the kill comes back from the archive
        # within the test (podsim's default archive serves only events 30 min old).
        self.sim = harness.Podsim(self.dir, "--rate", "20", "--archive-stale", "1s")
        self.svc = WineService(self.dir, self.sim.endpoint)

    def tearDown(self):
        if self.svc.proc and self.svc.proc.poll() is None:
            self.svc.kill9()
        self.sim.stop()
        out = self.svc.output()
        self.assertNotIn(harness.TOKEN, out, "the token appeared in the service's output")
        if os.environ.get("PS_KEEP_TMP"):
            print("kept %s (service logs run*.log, podsim.log)" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def sent(self):
        return {k[1] for k in self.sim.sent() if k[0] == "message"}

    def wait_stored(self, want, timeout, what):
        """Polls `podstream.exe query` until every guid of `want` is stored."""
        last = ["nothing yet"]

        def done():
            got, rows = self.svc.stored()
            if got is None:
                last[0] = "query failed: %s" % rows
                return False
            last[0] = "%d of %d missing, e.g. %s" % (len(want - got), len(want),
                                                    sorted(want - got)[:3])
            return want <= got and (got, rows)
        try:
            return harness.wait_for(done, timeout, what, interval=1)
        except AssertionError:
            print(self.svc.output()[-3000:])
            raise AssertionError("%s: %s" % (what, last[0]))

    def test_stream_kill_restart_nothing_lost(self):
        svc = self.svc
        svc.start()
        harness.wait_for(lambda: len(self.sent()) >= 40, 60, "podsim to send 40 events")
        self.wait_stored(set(list(self.sent())[:40]), 90, "the first events stored")
        # Hard kill while events keep coming: what was in flight is not acknowledged,
        # so the service must fetch it again after the restart.
        self.assertEqual(svc.kill9(), -signal.SIGKILL)
        before, _ = svc.stored()
        time.sleep(2)
        svc.start()
        # Enough after the restart that the second run has to stream, not only resume.
        target = len(self.sent()) + 100
        harness.wait_for(lambda: len(self.sent()) >= target, 60, "podsim to send 100 more")
        want = self.sent()
        got, rows = self.wait_stored(want, 120, "every event podsim sent stored")
        self.assertEqual(rows, len(got), "duplicate rows in the database")
        self.assertGreater(len(got - before), 0, "nothing stored after the restart")
        svc.kill9()
        print("wine stream: %d events sent, %d stored (%d before the kill -9), nothing lost"
              % (len(want), rows, len(before)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
