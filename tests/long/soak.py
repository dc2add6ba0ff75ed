#!/usr/bin/python3
"""An accelerated soak (issue #11, "Evidence"): 24 hours of a busy tenant, run as fast as
the machine allows on podsim's simulated clock, with the service's RSS sampled every
second and drawn as a PNG.

A busy tenant here: 10 message and 10 maillog events per second, 20 events/s in all,
1,728,000 events a day. podsim starts its clock 24 h back and runs it --speed times
faster than real time, so the day arrives in 86400/speed seconds; the service reads it
live, as it would read POD (what it cannot keep up with waits in TCP, which the RSS
shows). At the end the database is compared with podsim's timeline and sent-log.

  PODSTREAM=build/service/podstream PODSIM=build/tests/podsim/podsim \\
  PODSIM_GEN_CERTS=tests/podsim/gen-certs.sh \\
      nice /usr/bin/python3 tests/long/soak.py --out /tmp/soak

Writes OUT/soak-rss.csv (seconds, RSS MiB, events stored) and OUT/soak-rss.png; the PNG
needs python3-matplotlib (apt-get install python3-matplotlib). Not part of ctest."""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from longlib import finish  # noqa: E402
from harness import Podsim, Service, device_yaml  # noqa: E402

DAY = 86400


def proc_kib(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def draw(csv_rows, total, hours, path, title):
    """RSS on the left axis; on the right, how much of the day is done: events stored
    and simulated time, each as a share of the whole (they run together while the
    service keeps up)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [r[0] for r in csv_rows]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    ax.plot(t, [r[1] for r in csv_rows], color="tab:blue", label="RSS of podstream (MiB)")
    ax.set_xlabel("wall-clock seconds since start")
    ax.set_ylabel("RSS (MiB)", color="tab:blue")
    ax.set_ylim(bottom=0, top=max(64, max(r[1] for r in csv_rows) * 1.2))
    ax2 = ax.twinx()
    ax2.plot(t, [100.0 * r[2] / total for r in csv_rows], color="tab:orange",
             label="events stored (%% of %d)" % total)
    ax2.plot(t, [100.0 * r[3] / (hours * 3600) for r in csv_rows], color="tab:green",
             linestyle="--", label="simulated time (%% of %g h)" % hours)
    ax2.set_ylabel("% of the simulated day")
    ax2.set_ylim(0, 105)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="lower right")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def replot(csv_path, png, hours):
    """Draws the PNG again from a run's CSV (--replot)."""
    with open(csv_path) as f:
        next(f)
        rows = [tuple(float(x) for x in line.split(",")) for line in f if line.strip()]
    total = max(r[2] for r in rows)
    draw(rows, total, hours, png, "podstream RSS, %g h of a busy tenant in %.0f s"
         % (hours, rows[-1][0]))


def main():
    ap = argparse.ArgumentParser(description="accelerated 24 h soak with an RSS graph")
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    ap.add_argument("--rate", type=float, default=10.0,
                    help="events per simulated second per type (message and maillog)")
    ap.add_argument("--speed", type=float, default=600.0,
                    help="simulated seconds per real second")
    ap.add_argument("--out", default=".", help="directory for the CSV and the PNG")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--replot", metavar="CSV", help="only draw OUT/soak-rss.png from CSV")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.replot:
        replot(a.replot, os.path.join(a.out, "soak-rss.png"), a.hours)
        return 0
    per_type = int(a.rate * a.hours * 3600)
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - a.hours * 3600))
    work = tempfile.mkdtemp(prefix="ps-soak-")
    sim = Podsim(work, "--rate", str(a.rate), "--count", str(per_type), "--start", start,
                 "--speed", str(a.speed), "--archive-stale", "1s")
    devices = [(1, "message", None), (2, "maillog", {"workers": 2})]
    # info, not the harness's debug: a day of debug lines is only noise here
    svc = Service(work, device_yaml(sim.endpoint, devices), {"log_level": "info"})
    rows = []
    ok = False
    t0 = time.monotonic()
    try:
        svc.start()
        sim_t0 = sim.control("/clock", method="GET")["now_us"]
        total = 2 * per_type
        while True:
            time.sleep(1.0)
            el = time.monotonic() - t0
            n = svc.count()
            sim_s = (sim.control("/clock", method="GET")["now_us"] - sim_t0) / 1e6
            rss = proc_kib(svc.proc.pid, "VmRSS") / 1024.0
            rows.append((round(el, 1), round(rss, 1), n, round(min(sim_s, a.hours * 3600), 0)))
            if len(rows) % 30 == 0:
                print("soak: %5.0f s: %d of %d events stored, RSS %.0f MiB, simulated %.1f h"
                      % (el, n, total, rss, sim_s / 3600), flush=True)
            if n >= total or svc.proc.poll() is not None:
                break
            if el > 4 * a.hours * 3600 / a.speed + 600:
                print("soak: giving up: the service fell too far behind")
                break
        hwm = proc_kib(svc.proc.pid, "VmHWM") / 1024.0
        rc, took = svc.stop()
        elapsed = time.monotonic() - t0
        expect = sim.timeline("message") | sim.timeline("maillog")
        stored, nrows = svc.stored()
        lost = len((expect | sim.sent()) - stored)
        dups = nrows - len(stored)
        with open(os.path.join(a.out, "soak-rss.csv"), "w") as f:
            f.write("seconds,rss_mib,events_stored,simulated_seconds\n")
            for r in rows:
                f.write("%s,%s,%s,%s\n" % r)
        rss_vals = [r[1] for r in rows if r[1] > 0]
        tail = rss_vals[len(rss_vals) // 2:] or [0]
        print("soak: %.0f simulated hours of %g events/s (message + maillog, %d events) in "
              "%.0f s of wall time (%.0fx)" % (a.hours, 2 * a.rate, total, elapsed,
                                               a.hours * 3600 / elapsed))
        print("soak: RSS: peak %.1f MiB (VmHWM), median of the second half %.1f MiB, last "
              "%.1f MiB; database %.0f MB" % (hwm, sorted(tail)[len(tail) // 2],
                                             rss_vals[-1] if rss_vals else 0,
                                             os.path.getsize(svc.db) / 1e6))
        print("soak: stored %d, lost %d, duplicates %d; stop: exit %d in %.1f s"
              % (len(stored), lost, dups, rc, took))
        try:
            png = os.path.join(a.out, "soak-rss.png")
            draw(rows, total, a.hours, png, "podstream RSS, %g h of %g events/s in %.0f s (%s)"
                 % (a.hours, 2 * a.rate, elapsed, time.strftime("%Y-%m-%d")))
            print("soak: wrote %s" % png)
        except ImportError:
            print("soak: no PNG: apt-get install python3-matplotlib")
        ok = lost == 0 and dups == 0 and rc == 0
    finally:
        status = finish("soak", svc, sim, work, a.keep, ok)
    return status


if __name__ == "__main__":
    sys.exit(main())
