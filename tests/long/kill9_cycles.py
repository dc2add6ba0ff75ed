#!/usr/bin/python3
"""kill -9 cycles against the sent-log (issue #11, "Evidence"): start `podstream run`
against podsim, kill it with SIGKILL at a random moment, start it again, N times; then
let it catch up and compare the database with podsim's sent-log and timeline.

Prints the lost and duplicate counts and the time taken; exits 1 when anything was lost
or stored twice. Not part of ctest (a run of 100 cycles takes about four minutes):

  PODSTREAM=build/service/podstream PODSIM=build/tests/podsim/podsim \\
  PODSIM_GEN_CERTS=tests/podsim/gen-certs.sh \\
      nice /usr/bin/python3 tests/long/kill9_cycles.py --cycles 100

--seed repeats a run's kill moments."""

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from longlib import finish  # noqa: E402
from harness import Podsim, Service, device_yaml, wait_for  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="kill -9 cycles against the sent-log")
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--rate", type=int, default=250, help="events/s per type (message, maillog)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--min-up", type=float, default=0.3, help="shortest run before a kill, s")
    ap.add_argument("--max-up", type=float, default=1.8, help="longest run before a kill, s")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    # A finite timeline a little longer than the cycles: the last kills happen while
    # the stream still flows, and the end is a fixed set to compare with.
    count = int(a.rate * (a.cycles * (a.min_up + a.max_up) / 2 * 1.2 + 10))
    work = tempfile.mkdtemp(prefix="ps-kill9-")
    sim = Podsim(work, "--rate", str(a.rate), "--count", str(count), "--archive-stale", "1s")
    devices = [(1, "message", None), (2, "maillog", {"workers": 2})]
    svc = Service(work, device_yaml(sim.endpoint, devices))
    t0 = time.monotonic()
    ok = False
    try:
        for i in range(a.cycles):
            svc.start()
            time.sleep(rnd.uniform(a.min_up, a.max_up))
            svc.kill9()
            if (i + 1) % 10 == 0:
                print("kill9_cycles: %d kills, %d events stored so far" % (i + 1, svc.count()),
                      flush=True)
        t_kills = time.monotonic() - t0
        svc.start()
        expect = set()

        def caught_up():
            nonlocal expect
            expect = sim.timeline("message") | sim.timeline("maillog")
            return len(expect) == 2 * count and svc.count() >= 2 * count
        try:
            wait_for(caught_up, 300, "all %d events" % (2 * count), 1.0)
        except AssertionError as e:
            print("kill9_cycles: %s" % e)
        rc, took = svc.stop()
        stored, rows = svc.stored()
        sent = sim.sent()
        lost_sent = len(sent - stored)
        lost_all = len((sent | expect) - stored)
        dups = rows - len(stored)
        with open(sim.sent_log) as f:
            sent_lines = sum(1 for _ in f)
        total = time.monotonic() - t0
        unclean = svc.output().count("did not stop cleanly")
        print("kill9_cycles: seed %d, %d kill -9 cycles (%.0f s), %d events in the timeline "
              "(%d/s per type, message + maillog)" % (seed, a.cycles, t_kills, 2 * count, a.rate))
        print("kill9_cycles: podsim wrote %d distinct events in %d sent-log lines (each "
              "unclean start backfills from the archive hour before its newest stored event, "
              "so most were sent several times)" % (len(sent), sent_lines))
        print("kill9_cycles: stored %d rows, %d distinct; unclean starts noticed: %d; final "
              "stop: exit %d in %.1f s" % (rows, len(stored), unclean, rc, took))
        print("kill9_cycles: lost %d (of the sent-log), %d (of sent-log + timeline); "
              "duplicates %d; %.0f s in all" % (lost_sent, lost_all, dups, total))
        ok = lost_all == 0 and dups == 0 and rc == 0
    finally:
        status = finish("kill9_cycles", svc, sim, work, a.keep, ok)
    return status


if __name__ == "__main__":
    sys.exit(main())
