#!/usr/bin/env python3
"""The systemd notify protocol of `podstream run`, against a real NOTIFY_SOCKET
datagram listener as systemd opens one: READY once the devices run, STATUS lines,
WATCHDOG pings at half of WATCHDOG_USEC, RELOADING/READY around a SIGHUP, STOPPING
on SIGTERM; and no watchdog ping while the writer cannot write the database (held
with BEGIN EXCLUSIVE from here), so systemd would restart a stuck service."""

import os
import socket
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import StreamCase, wait_for  # noqa: E402

MESSAGE = (1, "message", None)


class Listener:
    """A datagram socket at a path; every message kept with its monotonic time."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def close(self):
        self.done = True
        self.thread.join()
        self.sock.close()

    def times(self, line, since=0.0):
        """Times of the messages holding `line` (one KEY=VALUE line), after `since`."""
        with self.lock:
            return [t for t, m in self.messages if line in m.splitlines() and t >= since]

    def find(self, prefix, since=0.0):
        with self.lock:
            return [m for t, m in self.messages if t >= since and
                    any(x.startswith(prefix) for x in m.splitlines())]


class NotifyTests(StreamCase):
    def setUp(self):
        super().setUp()
        self.listener = Listener(os.path.join(self.dir, "notify.sock"))

    def tearDown(self):
        self.listener.close()
        super().tearDown()

    def env(self, watchdog_s):
        return {"NOTIFY_SOCKET": self.listener.path, "WATCHDOG_USEC": str(watchdog_s * 1000000)}

    def test_ready_status_watchdog_reload_stopping(self):
        lst = self.listener
        self.start_sim("--rate", "50")
        svc = self.start_svc([MESSAGE], env=self.env(3))
        wait_for(lambda: lst.times("READY=1"), 20, "READY=1")
        wait_for(lambda: lst.find("STATUS=1 of 1 device(s) live"), 20, "a status line")
        status = lst.find("STATUS=1 of 1 device(s) live")[-1]
        self.assertRegex(status, r"STATUS=1 of 1 device\(s\) live, \d+\.\d events/s\n")
        t0 = time.monotonic()
        wait_for(lambda: len(lst.times("WATCHDOG=1", t0)) >= 4, 10, "watchdog pings")
        pings = lst.times("WATCHDOG=1", t0)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        # at half of WATCHDOG_USEC (3 s), never as late as the interval itself
        self.assertLess(max(gaps), 2.9, gaps)
        self.assertGreater(min(gaps), 1.0, gaps)

        t1 = time.monotonic()
        svc.hup()
        wait_for(lambda: lst.find("RELOADING=1", t1), 20, "RELOADING=1")
        reloading = lst.find("RELOADING=1", t1)[0]
        self.assertRegex(reloading, r"MONOTONIC_USEC=\d+\n")
        t_reload = lst.times("RELOADING=1", t1)[0]
        wait_for(lambda: lst.times("READY=1", t_reload), 20, "READY=1 after the reload")

        t2 = time.monotonic()
        rc, _ = svc.stop()
        self.assertEqual(rc, 0)
        self.assertTrue(lst.times("STOPPING=1", t2), "no STOPPING=1")

    def test_no_watchdog_while_the_writer_is_stalled(self):
        lst = self.listener
        self.start_sim("--rate", "50")
        svc = self.start_svc([MESSAGE], env=self.env(2))
        wait_for(lambda: svc.state(1) == "live", 20, "device live")
        t0 = time.monotonic()
        wait_for(lambda: len(lst.times("WATCHDOG=1", t0)) >= 2, 10, "watchdog pings")

        con = sqlite3.connect(svc.db, timeout=10, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        t_lock = time.monotonic()
        time.sleep(8)
        t_release = time.monotonic()
        con.execute("ROLLBACK")
        con.close()

        # Progress seen at most WATCHDOG_USEC ago allows a ping: the last one comes
        # within 2 s (+ two wake-ups of 0.5 s) of the lock, then none until the writer
        # moves again.
        late = [t - t_lock for t in lst.times("WATCHDOG=1", t_lock + 3.5) if t < t_release]
        self.assertEqual(late, [], "watchdog pings while the writer was stalled")
        wait_for(lambda: lst.times("WATCHDOG=1", t_release), 15, "pings after the release")
        rc, _ = svc.stop()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
