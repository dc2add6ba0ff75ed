#!/usr/bin/python3
"""The fault matrix (issue #11): one scripted scenario per fault, each against podsim
over wss with the real `podstream run` and a real database, built on the integration
helpers (tests/integration/harness.py).

Every scenario is checked the same way:
  lost    events podsim wrote (sent-log) or that exist in its finite timeline, not stored
  dups    rows stored more than once under the store's unique key
  RSS     the service's peak resident set (VmHWM from /proc/PID/status) under a bound
  state   the device state in the counters and in `podstream status --format json`
          at the moments the scenario names (e.g. backoff during a 409 storm, live after)
  log     the log line an admin would look for

Usage:
  fault_matrix.py              every scenario, then the table
  fault_matrix.py --quick      the quick ones (what ctest runs, label `faults`)
  fault_matrix.py --list
  fault_matrix.py NAME...      only these
Environment: PODSTREAM, PODSIM, PODSIM_GEN_CERTS as for the integration tests;
PS_FAULTS_KEEP=1 keeps each scenario's work directory (logs, database)."""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import (PODSTREAM, TOKEN, Podsim, Service, device_yaml,  # noqa: E402
                     wait_for)

MESSAGE = (1, "message", None)
MIB = 1024 * 1024
FRAME_RSS_AFTER_MIB = 100   # a 64 MiB frame left behind would be well over it
FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1")


class Skip(Exception):
    """The machine cannot stage this fault (no mount, no libfaketime)."""


def status_kib(pid, field):
    """A kB field of /proc/PID/status (VmHWM, VmRSS); OSError once the process is gone
    (a process that exited but is not reaped yet has a status without them)."""
    with open("/proc/%d/status" % pid) as f:
        kib = [int(x.split()[1]) for x in f if x.startswith(field + ":")]
    if not kib:
        raise OSError("pid %d has no %s: it has exited" % (pid, field))
    return kib[0]


class RssWatch(threading.Thread):
    """Peak RSS of every podstream process a scenario starts: VmHWM is the kernel's own
    high-water mark, read every 200 ms while the process lives (a restart is a new pid,
    so the peak is the largest of all of them)."""

    def __init__(self, ctx):
        super().__init__(daemon=True)
        self.ctx = ctx
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            svc = self.ctx.svc
            proc = svc.proc if svc else None
            if proc is not None and proc.poll() is None:
                try:
                    self.peak_kib = max(self.peak_kib, status_kib(proc.pid, "VmHWM"))
                except OSError:
                    pass
            self.done.wait(0.2)


class Ctx:
    """One scenario's world: a work directory, podsim, the service, what is expected."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="ps-fault-%s-" % name)
        self.sim = None
        self.svc = None
        self.expect = None          # keys that must be stored; default: the sent-log
        self.allowed_missing = 0    # events accounted for elsewhere (the quarantine)
        self.states = []            # (moment, expected, counters state, status state)
        self.failures = []
        self.notes = []
        self.mounts = []
        self.rss = RssWatch(self)
        self.rss.start()

    # ---- parts -----------------------------------------------------------------

    def start_sim(self, *args):
        self.sim = Podsim(self.dir, *args)
        return self.sim

    def make_svc(self, devices=(MESSAGE,), settings=None, env=None):
        self.svc = Service(self.dir, device_yaml(self.sim.endpoint, list(devices)), settings,
                           env)
        return self.svc

    def start_svc(self, devices=(MESSAGE,), settings=None, env=None):
        return self.make_svc(devices, settings, env).start()

    def mount_tmpfs(self, path, size):
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs",
                            path], capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("cannot mount a tmpfs here (%s)" % r.stderr.strip())
        self.mounts.append(path)

    def resize_tmpfs(self, path, size):
        subprocess.run(["mount", "-o", "remount,size=%s" % size, path], check=True)

    # ---- checks ----------------------------------------------------------------

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
        return ok

    def status(self):
        """`podstream status --format json` as an admin runs it: (exit code, device 1's
        state or None, its last error)."""
        r = subprocess.run([PODSTREAM, "status", "--db", self.svc.db, "--format", "json"],
                           capture_output=True, text=True, timeout=30)
        try:
            devs = json.loads(r.stdout).get("devices", [])
        except ValueError:
            devs = []
        dev = next((d for d in devs if d.get("id") == 1), None)
        return (r.returncode, dev["state"] if dev else None,
                dev.get("last_error") if dev else None)

    def expect_state(self, moment, expected, timeout=20, also=()):
        """The device reaches `expected` (or a state in `also`) in the counters, and
        `status` says the same."""
        ok = (expected,) + tuple(also)
        seen = {}

        def agree():
            # counters and `status` read a second apart may straddle a state change
            # (backoff -> connecting): both must say the same, at the same moment
            seen["got"] = self.svc.state(1)
            seen["rc"], seen["st"], _ = self.status()
            return seen["got"] in ok and seen["st"] == seen["got"]
        try:
            wait_for(agree, timeout, "state %s (%s)" % (expected, moment), 0.2)
        except AssertionError:
            pass
        got, rc, st = seen["got"], seen["rc"], seen["st"]
        self.states.append((moment, expected, got, st))
        self.check(got in ok and st == got,
                   "%s: expected state %s, counters say %s, status says %s (exit %d)"
                   % (moment, expected, got, st, rc))
        return rc

    def wait_all(self, n, timeout=90, types=("message",)):
        """Waits until the finite timeline exists whole and n events are stored; the
        timeline becomes what must be stored (with what the sent-log adds)."""
        def done():
            tl = set()
            for t in types:
                tl |= self.sim.timeline(t)
            self.expect = tl
            return len(tl) >= n and self.svc.count() >= n
        try:
            wait_for(done, timeout, "all %d events stored" % n, 0.5)
        except AssertionError as e:
            self.failures.append(str(e))

    def close(self, keep=False):
        self.rss.done.set()
        if self.svc and self.svc.proc and self.svc.proc.poll() is None:
            self.svc.proc.kill()
            self.svc.proc.wait()
        if self.sim:
            self.sim.stop()
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


SCENARIOS = []


def scenario(name, fault, quick, rss_mib, log):
    """Registers a scenario: the fault it stages, whether ctest runs it, its RSS bound
    in MiB and the log line (a substring of the service's output) it must produce."""
    def reg(fn):
        SCENARIOS.append({"name": name, "fault": fault, "quick": quick, "rss_mib": rss_mib,
                          "log": log, "fn": fn})
        return fn
    return reg


def stop_ok(ctx, what="stop"):
    rc, took = ctx.svc.stop()
    ctx.check(rc == 0, "%s: exit status %s" % (what, rc))
    ctx.check(took < 5.0, "%s took %.1f s (5 s promised)" % (what, took))
    return rc


# ---- the network ------------------------------------------------------------------

@scenario("tcp-reset", "TCP reset in the middle of a frame", True, 150, "reconnecting")
def tcp_reset(ctx):
    # One frame in ten is 200 KB, so the reset lands inside a frame most of the time.
    sim = ctx.start_sim("--rate", "200", "--count", "2000", "--archive-stale", "1s",
                        "--big-share", "0.1", "--big-bytes", "200000")
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 300, 30, "300 stored events")
    ctx.check(bool(sim.control("/fault/drop")["affected"]), "the drop hit no session")
    wait_for(lambda: (svc.counters(1) or {}).get("reconnects", 0) >= 1, 20, "a reconnect")
    ctx.expect_state("after the reset", "live")
    ctx.wait_all(2000)
    stop_ok(ctx)


@scenario("silent-server", "a server that stops sending and answering pings", True, 120,
          "no frame or pong for 3 s")
def silent_server(ctx):
    sim = ctx.start_sim("--rate", "100", "--count", "1500", "--archive-stale", "1s")
    svc = ctx.start_svc()
    ctx.expect_state("before", "live")
    sim.control("/fault/idle", secs=30, pongs=0)
    wait_for(lambda: svc.counters(1)["reconnects"] >= 1, 20, "a reconnect")
    ctx.expect_state("after the watchdog", "live")
    ctx.wait_all(1500)
    stop_ok(ctx)


@scenario("409-storm", "409 on every connect for 6 s (a held session slot)", True, 120,
          "token already in use by another session (HTTP 409)")
def storm_409(ctx):
    sim = ctx.start_sim("--rate", "100", "--count", "1500", "--archive-stale", "1s")
    ctx.start_svc()
    ctx.expect_state("before", "live")
    sim.control("/fault/drop", hold=6)
    ctx.expect_state("during the storm", "backoff", timeout=5)
    wait_for(lambda: sim.stats()["responses"]["409"] >= 3, 15, "three 409s")
    ctx.notes.append("%d x 409" % sim.stats()["responses"]["409"])
    ctx.expect_state("after the storm", "live")
    ctx.wait_all(1500)
    stop_ok(ctx)


@scenario("401-clears", "401 (revoked token) that later clears", True, 120,
          "unauthorised (HTTP 401)")
def unauthorised(ctx):
    sim = ctx.start_sim("--rate", "100", "--count", "1500", "--archive-stale", "1s")
    sim.control("/token/revoke", token=TOKEN)
    ctx.start_svc()
    ctx.expect_state("while refused", "unauthorised")
    wait_for(lambda: sim.stats()["responses"]["401"] >= 2, 10, "401 retries")
    sim.control("/token/restore", token=TOKEN)
    ctx.expect_state("once restored", "live")
    ctx.wait_all(1500)
    stop_ok(ctx)


def _outage(ctx, rate, hours):
    """An outage of `hours`: stream a little, stop, move podsim's clock on and age the
    resume state the same, start again. Returns the events the backfill must bring."""
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - hours * 3600))
    sim = ctx.start_sim("--rate", str(rate), "--start", start, "--archive-stale", "1s")
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 4, 20, "a few live events")
    stop_ok(ctx, "first stop")
    sim.control("/clock/advance", secs=hours * 3600)
    healthy = svc.resume(1)[1]
    con = sqlite3.connect(svc.db)
    con.execute("UPDATE resume SET last_healthy_us = ? WHERE device_id = 1",
                (healthy - hours * 3600 * 1000000,))
    con.commit()
    con.close()
    svc.start()
    return sim, svc


def _archive_cut(ctx, cut):
    """A two-hour outage is backfilled; each archive session is cut by `cut(session)`
    once it has sent 500 events, twice (the backfill and the first retry or repair)."""
    sim, svc = _outage(ctx, 2, 2)
    cut_ids = set()
    deadline = time.monotonic() + 60
    while len(cut_ids) < 2 and time.monotonic() < deadline:
        for s in sim.control("/sessions", method="GET"):
            if (s.get("mode") == "archive" and s["id"] not in cut_ids
                    and s.get("events", 0) > 500):
                cut(sim, s["id"])
                cut_ids.add(s["id"])
        time.sleep(0.05)
    ctx.notes.append("%d archive session(s) cut early" % len(cut_ids))
    ctx.check(len(cut_ids) >= 1, "no archive session was caught open")
    expect = sim.timeline("message")
    try:
        wait_for(lambda: svc.count() >= len(expect), 90, "the outage backfilled", 0.5)
    except AssertionError as e:
        ctx.failures.append(str(e))
    ctx.expect = expect
    # podsim's archive keeps serving what becomes 1 s old: a window that ends in the
    # future may stay open (backfill) until its hour is over, as a real one may.
    ctx.expect_state("after the backfill", "live", also=("backfill",))
    stop_ok(ctx)


@scenario("archive-early-reset", "archive sessions reset (TCP) before their window ends",
          False, 200, "reconnecting")
def archive_early_reset(ctx):
    _archive_cut(ctx, lambda sim, sid: sim.control("/fault/drop", session=sid))


@scenario("archive-early-close", "archive sessions closed normally (1000) before their "
          "window ends", False, 200, "archive window complete")
def archive_early_close(ctx):
    _archive_cut(ctx, lambda sim, sid: sim.control("/fault/close", session=sid, code=1000))


@scenario("clock-jump", "the host clock jumps 2 h forward, then 90 min back (libfaketime)",
          True, 120, None)
def clock_jump(ctx):
    lib = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
    if not lib:
        raise Skip("libfaketime is not installed (apt-get install faketime)")
    rc = os.path.join(ctx.dir, "faketime.rc")
    with open(rc, "w") as f:
        f.write("+0\n")
    # Only the wall clock moves: the monotonic clock, which every wait uses, does not
    # jump on a real host either, nor do the times of files already written (without
    # NO_FAKE_STAT libfaketime shifts them, and the configuration watcher reloads).
    env = {"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": rc, "FAKETIME_CACHE_DURATION": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "NO_FAKE_STAT": "1"}
    sim = ctx.start_sim("--rate", "100", "--count", "2500", "--archive-stale", "1s")
    svc = ctx.start_svc(env=env)
    wait_for(lambda: svc.count() >= 300, 30, "300 stored events")
    with open(rc, "w") as f:
        f.write("+2h\n")
    time.sleep(4)
    ctx.check(bool(sim.control("/fault/drop")["affected"]), "the drop hit no session")
    wait_for(lambda: svc.counters(1)["reconnects"] >= 1, 20, "a reconnect 2 h ahead")
    ctx.expect_state("2 h ahead", "live")
    with open(rc, "w") as f:
        # Back, but not behind the real time: the test certificate is minutes old, and
        # a host clock before its notBefore makes every TLS handshake fail (as it
        # would with a real certificate and a clock that far back).
        f.write("+30m\n")
    time.sleep(4)
    sim.control("/fault/drop")
    wait_for(lambda: svc.counters(1)["reconnects"] >= 2, 20, "a reconnect 90 min back")
    ctx.expect_state("90 min back", "live")
    ctx.wait_all(2500)
    stop_ok(ctx)


# ---- the stream's content -------------------------------------------------------

@scenario("duplicates", "the server sends 20% of events twice", True, 120, None)
def duplicates(ctx):
    ctx.start_sim("--rate", "200", "--count", "2000", "--dup-rate", "0.2")
    svc = ctx.start_svc()
    ctx.wait_all(2000)
    ctx.expect_state("while streaming", "live")
    stop_ok(ctx)
    d = svc.counters(1)["duplicates"]
    ctx.notes.append("%d duplicates counted" % d)
    ctx.check(d > 100, "duplicates counter is %d" % d)


@scenario("ts-disorder", "ts out of order (30% up to 2 min late), and a reset", True, 120,
          "reconnecting")
def ts_disorder(ctx):
    sim = ctx.start_sim("--rate", "200", "--count", "2000", "--disorder", "0.3",
                        "--disorder-max", "120s", "--archive-stale", "1s")
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 600, 30, "600 stored events")
    sim.control("/fault/drop")
    ctx.wait_all(2000)
    ctx.expect_state("after the reset", "live")
    stop_ok(ctx)


def _frame(ctx, pad, stored):
    sim = ctx.start_sim("--rate", "20", "--count", "150", "--archive-stale", "1s")
    svc = ctx.start_svc()
    ctx.expect_state("before", "live")
    sim.control("/fault/oversize", bytes=pad)
    if stored:
        wait_for(lambda: (svc.query("SELECT max(raw_len) FROM events")[0][0] or 0) >= pad, 60,
                 "the big event stored")
    else:
        wait_for(lambda: svc.query("SELECT count(*) FROM quarantine")[0][0] >= 1, 60,
                 "the big event quarantined")
        ctx.allowed_missing = 1
        reason = svc.query("SELECT reason FROM quarantine")[0][0]
        ctx.check("exceeds max_frame_size" in reason, "quarantine reason: " + reason)
    ctx.wait_all(150 - ctx.allowed_missing)
    ctx.expect_state("after the frame", "live")
    # The frame's copies passed through three threads' heaps: the writer gives them
    # back once the queue drains, so the process is small again, not only its peak.
    def rss_mib():
        return status_kib(svc.proc.pid, "VmRSS") / 1024.0
    try:
        wait_for(lambda: rss_mib() < FRAME_RSS_AFTER_MIB, 10,
                 "RSS back under %d MiB after the frame" % FRAME_RSS_AFTER_MIB)
    except AssertionError:
        ctx.failures.append("RSS %.0f MiB 10 s after the frame, over %d MiB"
                            % (rss_mib(), FRAME_RSS_AFTER_MIB))
    ctx.notes.append("RSS after the frame: %.0f MiB" % rss_mib())
    stop_ok(ctx)


@scenario("frame-64mib", "one 64 MiB frame (just under max_frame_size, 64 MiB)", True, 700,
          None)
def frame_64(ctx):
    _frame(ctx, 64 * MIB - 16 * 1024, True)


@scenario("frame-over-max", "one frame just over max_frame_size (64 MiB + ~2 KB)", True, 500,
          "exceeds max_frame_size")
def frame_over(ctx):
    _frame(ctx, 64 * MIB, False)


# ---- the disk ----------------------------------------------------------------------

def _full_disk(ctx, size="6m"):
    """The state directory (database and spool) on a small tmpfs, filled by a ballast
    file so the stream runs into ENOSPC within seconds."""
    state = os.path.join(ctx.dir, "state")
    ctx.mount_tmpfs(state, size)
    return state


def _fill(state, leave_kib):
    """A ballast file that leaves about leave_kib free (the service writes meanwhile,
    so the disk may fill before the ballast is whole: that is the point)."""
    st = os.statvfs(state)
    want = max(0, st.f_bavail * st.f_frsize - leave_kib * 1024)
    ballast = os.path.join(state, "ballast")
    chunk = b"\0" * MIB
    with open(ballast, "wb", buffering=0) as f:
        try:
            while want > 0:
                want -= f.write(chunk[:min(want, len(chunk))])
        except OSError:
            pass
    return ballast


@scenario("disk-full", "the disk holding database and spool fills, then frees", True, 150,
          "database or disk is full")
def disk_full(ctx):
    ctx.start_sim("--rate", "200", "--count", "3000", "--archive-stale", "1s")
    state = _full_disk(ctx, "64m")
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 200, 30, "200 stored events")
    ballast = _fill(state, 256)
    wait_for(lambda: "database or disk is full" in svc.output()
             or "No space left" in svc.output(), 30, "the disk to fill")
    n = svc.count()
    time.sleep(3)
    ctx.notes.append("stored %d while full" % (svc.count() - n))
    os.unlink(ballast)
    ctx.wait_all(3000)
    ctx.expect_state("after freeing", "live")
    stop_ok(ctx)


@scenario("db-and-spool-unwritable", "disk full (database and spool fail together), "
          "SIGTERM while full, restart", False, 150,
          "could be neither stored nor spooled")
def db_spool_unwritable(ctx):
    ctx.start_sim("--rate", "300", "--count", "6000", "--archive-stale", "1s")
    state = _full_disk(ctx, "64m")
    # resume_policy auto (the default): the promise. With live-only, what was lost at
    # such a stop stays lost (docs/reliability.md).
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 300, 30, "300 stored events")
    ballast = _fill(state, 128)
    wait_for(lambda: "database or disk is full" in svc.output(), 30, "the disk to fill")
    time.sleep(2)
    # The counters live in the database that cannot be written: `status` tells it from
    # their age and the database lock the service still holds (after 15 s).
    def not_writing():
        r = subprocess.run([PODSTREAM, "status", "--db", svc.db, "--format", "json"],
                           capture_output=True, text=True, timeout=30)
        try:
            service = json.loads(r.stdout).get("service", {})
        except ValueError:
            return False
        return service.get("running") is True and service.get("writing") is False
    shown = True
    try:
        wait_for(not_writing, 30, "status to say the service cannot write", interval=1)
    except AssertionError:
        shown = False
    ctx.states.append(("while full", "running, not writing", svc.state(1),
                       "running, not writing" if shown else "(not shown)"))
    ctx.check(shown, "status while full does not say the service cannot write the database")
    rc, took = svc.stop()
    ctx.notes.append("stop while full: exit %d in %.1f s" % (rc, took))
    ctx.check(rc != 0, "a stop that kept events neither committed nor spooled exited 0")
    ctx.check(took < 5.0, "the stop while full took %.1f s" % took)
    clean = (svc.resume(1) or (0, 0, None))[2]
    ctx.check(clean == 0, "clean_shutdown = %r after a lossy stop" % clean)
    os.unlink(ballast)
    svc.start()
    ctx.wait_all(6000, timeout=120)
    ctx.expect_state("after the restart", "live")
    stop_ok(ctx)


@scenario("db-locked-stop", "another program holds the database's write lock, then SIGTERM",
          False, 150, "stopped, not cleanly")
def db_locked_stop(ctx):
    ctx.start_sim("--rate", "200", "--count", "3000", "--archive-stale", "1s")
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 300, 30, "300 stored events")
    locker = sqlite3.connect(svc.db, timeout=10, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        wait_for(lambda: "cannot commit" in svc.output(), 30, "the writer to meet the lock")
        # Everything received is in the spool: a bounded stop, exit 0, not clean.
        rc, took = svc.stop()
        ctx.notes.append("stop while locked: exit %d in %.1f s" % (rc, took))
        ctx.check(rc == 0, "exit status %d with everything in the spool" % rc)
        ctx.check(took < 5.0, "the stop while locked took %.1f s" % took)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    clean = (svc.resume(1) or (0, 0, None))[2]
    ctx.check(clean == 0, "clean_shutdown = %r although the spool kept events" % clean)
    svc.start()
    ctx.wait_all(3000)
    ctx.expect_state("after the restart", "live")
    stop_ok(ctx)


@scenario("db-deleted", "the database file deleted while running", False, 150,
          "was removed while the service ran")
def db_deleted(ctx):
    ctx.start_sim("--rate", "200", "--count", "4000", "--archive-stale", "1s")
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 1000, 30, "1000 stored events")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(svc.db + suffix)
        except FileNotFoundError:
            pass
    # It must notice by itself: stop writing into a file nobody can see, exit 1.
    try:
        wait_for(lambda: svc.proc.poll() is not None, 10, "the service to stop by itself")
        svc.log.close()
        ctx.notes.append("service exited %d by itself" % svc.proc.returncode)
        ctx.check(svc.proc.returncode == 1, "exit status %d" % svc.proc.returncode)
    except AssertionError as e:
        ctx.failures.append(str(e))
        svc.stop()
    svc.start()
    ctx.wait_all(4000, timeout=120)
    ctx.expect_state("after the restart", "live")
    stop_ok(ctx)


@scenario("long-reader", "a reader holds a snapshot while 300 events/s stream, until the "
          "WAL is past 4 MiB",
          False, 200, "cannot be checkpointed: a reader blocks checkpoints")
def long_reader(ctx):
    ctx.start_sim("--rate", "300", "--count", "9000", "--archive-stale", "1s")
    svc = ctx.start_svc(env={"PODSTREAM_WAL_WARN_BYTES": str(4 * MIB)})
    wait_for(lambda: svc.count() >= 300, 30, "300 stored events")
    reader = sqlite3.connect("file:%s?mode=ro" % svc.db, uri=True, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()
    wal = svc.db + "-wal"
    try:
        wait_for(lambda: os.path.getsize(wal) > 4 * MIB, 40, "the WAL past 4 MiB")
        time.sleep(3)
        peak = os.path.getsize(wal)
        ctx.notes.append("WAL %.1f MiB behind the reader" % (peak / MIB))
        r = subprocess.run([PODSTREAM, "status", "--db", svc.db], capture_output=True,
                           text=True)
        ctx.check("WAL" in r.stdout, "`podstream status` does not mention the WAL")
    finally:
        reader.execute("COMMIT")
        reader.close()
    try:
        wait_for(lambda: os.path.getsize(wal) < MIB, 20, "the WAL truncated", 0.5)
    except AssertionError as e:
        ctx.failures.append(str(e))
    ctx.wait_all(9000, timeout=60)
    ctx.expect_state("after the reader", "live")
    stop_ok(ctx)


def _corrupt_index(db):
    """Garbage over every page of the index on the events' unique key: the next insert
    walks it and SQLite reports the database malformed."""
    con = sqlite3.connect(db)
    psize = con.execute("PRAGMA page_size").fetchone()[0]
    idx = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                      "tbl_name = 'events'")]
    pages = []
    for name in idx:
        pages += [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = ?", (name,))]
    con.close()
    with open(db, "r+b") as f:
        for p in pages:
            f.seek((p - 1) * psize)
            f.write(os.urandom(psize))
    return len(pages)


@scenario("corrupt-page", "index pages overwritten with garbage, then a start", False, 150,
          "podstream repair")
def corrupt_page(ctx):
    ctx.start_sim("--rate", "200", "--count", "4000", "--archive-stale", "1s")
    svc = ctx.start_svc()
    wait_for(lambda: svc.count() >= 1000, 30, "1000 stored events")
    svc.kill9()
    # checkpoint the WAL into the file first, as a crash some time later would leave it
    con = sqlite3.connect(svc.db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    ctx.notes.append("%d pages overwritten" % _corrupt_index(svc.db))
    svc.start()
    # The start after an unclean stop checks the database: it must refuse this one.
    try:
        wait_for(lambda: svc.proc.poll() is not None, 15, "the start to be refused")
        svc.log.close()
        code = svc.proc.returncode
        ctx.states.append(("damaged", "exited 5", "exited %d" % code, "exited %d" % code))
        ctx.check(code == 5, "exit status %d on a damaged database" % code)
    except AssertionError as e:
        rc, st, _ = ctx.status()
        ctx.states.append(("damaged", "exited 5", svc.state(1), st))
        ctx.failures.append("%s; status says %s (exit %d)" % (e, st, rc))
        svc.stop()
    r = subprocess.run([PODSTREAM, "repair", "-c", svc.cfg], capture_output=True, text=True,
                       env=svc.env, timeout=120)
    ctx.notes.append("repair exit %d" % r.returncode)
    ctx.check(r.returncode == 0, "podstream repair: exit %d: %s" % (r.returncode,
                                                                    (r.stdout + r.stderr)[-300:]))
    svc.start()
    ctx.wait_all(4000, timeout=120)
    ctx.expect_state("after the repair", "live")
    stop_ok(ctx)


# ---- the configuration ---------------------------------------------------------------

@scenario("empty-yml-reload", "podstream.yml emptied, then SIGHUP", True, 120,
          "podstream.yml: error: empty")
def empty_yml(ctx):
    sim = ctx.start_sim("--rate", "100", "--count", "1500", "--archive-stale", "1s")
    svc = ctx.start_svc()
    ctx.expect_state("before", "live")
    lives = sim.stats()["sessions"]["live"]
    main = os.path.join(svc.cfg, "podstream.yml")
    with open(main) as f:
        good = f.read()
    open(main, "w").close()
    svc.hup()
    wait_for(lambda: "new configuration rejected" in svc.output(), 20, "the rejection")
    ctx.expect_state("after the empty reload", "live")
    ctx.check(sim.stats()["sessions"]["live"] == lives, "the device reconnected")
    with open(main, "w") as f:
        f.write(good)
    ctx.wait_all(1500)
    stop_ok(ctx)


# ---- the runner --------------------------------------------------------------------------

def run_one(sc):
    ctx = Ctx(sc["name"])
    row = {"scenario": sc["name"], "lost": "-", "dups": "-", "rss": "-", "state": "-",
           "log": "-", "result": "FAIL", "why": []}
    t0 = time.monotonic()
    try:
        sc["fn"](ctx)
    except Skip as e:
        row["result"] = "SKIP"
        row["why"] = [str(e)]
        ctx.close()
        return row
    except AssertionError as e:
        ctx.failures.append(str(e))
    except Exception as e:  # a broken scenario is a failure, with its trace
        ctx.failures.append("%s: %s" % (type(e).__name__, e))
        traceback.print_exc()
    finally:
        if ctx.svc and ctx.svc.proc and ctx.svc.proc.poll() is None:
            ctx.svc.proc.kill()
            ctx.svc.proc.wait()
        ctx.rss.done.set()
        ctx.rss.join(1)
    try:
        evaluate(ctx, sc, row)
    except Exception as e:
        ctx.failures.append("evaluation: %s: %s" % (type(e).__name__, e))
    row["secs"] = time.monotonic() - t0
    row["why"] = ctx.failures + ["note: " + n for n in ctx.notes]
    row["result"] = "PASS" if not ctx.failures else "FAIL"
    # a failed scenario keeps its logs and database for whoever looks next
    keep = bool(os.environ.get("PS_FAULTS_KEEP") or ctx.failures)
    if keep:
        row["why"].append("work directory: " + ctx.dir)
    ctx.close(keep)
    return row


def evaluate(ctx, sc, row):
    svc, sim = ctx.svc, ctx.sim
    if svc is None or sim is None:
        return
    stored, rows = svc.stored()
    expect = (ctx.expect or set()) | sim.sent()
    lost = len(expect - stored) - ctx.allowed_missing
    dups = rows - len(stored)
    row["lost"], row["dups"] = lost, dups
    ctx.check(lost <= 0, "%d events lost, e.g. %s" % (lost, sorted(expect - stored)[:2]))
    ctx.check(dups == 0, "%d duplicate rows" % dups)
    peak = ctx.rss.peak_kib / 1024.0
    row["rss"] = "%.0f/%d" % (peak, sc["rss_mib"])
    ctx.check(0 < peak <= sc["rss_mib"], "peak RSS %.0f MiB over the %d MiB bound"
              % (peak, sc["rss_mib"]))
    row["state"] = ",".join("%s" % (s[2] if s[2] == s[3] else "%s/%s" % (s[2], s[3]))
                            for s in ctx.states) or "-"
    out = svc.output()
    ctx.check(TOKEN not in out, "the token appeared in the service's output")
    if sc["log"] is None:
        row["log"] = "n/a"
    else:
        found = sc["log"] in out
        row["log"] = "yes" if found else "NO"
        ctx.check(found, "log line %r not found" % sc["log"])


def print_table(rows, out=sys.stdout):
    cols = [("scenario", 24), ("lost", 5), ("dups", 5), ("peak RSS MiB", 13), ("state", 30),
            ("log line", 8), ("result", 6), ("secs", 5)]
    print("  ".join(c.ljust(w) for c, w in cols), file=out)
    for r in rows:
        vals = [r["scenario"], str(r["lost"]), str(r["dups"]), r["rss"], r["state"], r["log"],
                r["result"], "%.0f" % r.get("secs", 0)]
        print("  ".join(str(v).ljust(w) for v, (_, w) in zip(vals, cols)), file=out)
    for r in rows:
        for w in r["why"]:
            print("%s: %s" % (r["scenario"], w), file=out)
    n = {k: sum(1 for r in rows if r["result"] == k) for k in ("PASS", "FAIL", "SKIP")}
    print("%d passed, %d failed, %d skipped" % (n["PASS"], n["FAIL"], n["SKIP"]), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--quick", action="store_true", help="only the scenarios ctest runs")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args()
    if a.list:
        for s in SCENARIOS:
            print("%-24s %-6s %s" % (s["name"], "quick" if s["quick"] else "", s["fault"]))
        return 0
    todo = [s for s in SCENARIOS if (not a.quick or s["quick"])
            and (not a.names or s["name"] in a.names)]
    unknown = set(a.names) - {s["name"] for s in SCENARIOS}
    if unknown:
        print("fault_matrix: unknown scenario(s): %s" % ", ".join(sorted(unknown)))
        return 2
    rows = []
    for s in todo:
        print("== %s: %s" % (s["name"], s["fault"]), flush=True)
        rows.append(run_one(s))
        print("   %s in %.0f s" % (rows[-1]["result"], rows[-1].get("secs", 0)), flush=True)
    print()
    print_table(rows)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if any(r["result"] == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
