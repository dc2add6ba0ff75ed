#!/usr/bin/python3
"""End-to-end ingest benchmark: podsim over loopback wss:// (or ws://) to committed rows.

    tests/bench/bench_stream.py [--events N] [--message-share S] [--build DIR] [--no-raw]
                                [--scheme wss|ws] [--frame-mib M] [--compare OLD_BUILD_DIR]

podsim serves a backlog of N realistic events (--rate max: as fast as the client reads)
to two devices on one token, `message` and `maillog`, in the share S. The service is
the real `podstream run`; the clock stops when the database holds all N events.
--scheme ws serves plain ws:// instead of wss:// (custom endpoints, proxies). Prints:

  - end-to-end events/s and the time for the whole backlog,
  - how much of the machine stayed idle meanwhile (/proc/stat): idle cores while the
    backlog lasts mean one stage waited for another,
  - the service's peak RSS (VmHWM) while it worked through the backlog,
  - CPU time per stored event, per thread group (writer, workers, receivers, the rest)
    and in all, from /proc/<pid>/task/*/stat just before the stop: the figure that
    other load on a shared machine does not distort, beside the machine's load average,
  - the raw batched insert rate of the same schema and event mix (bench_store: the
    store's whole insert path on one thread, 1,000 events per transaction, no network
    and no parsing) and the ratio between the two,
  - the SQLite part of that alone (rows prepared beforehand: what the service's writer
    thread runs while its workers compress and index in parallel), and the ratio,
  - with --compare DIR, the same run with the binaries of another build right after,
    so that "before" and "after" share one machine state,
  - with --frame-mib, what one message of M MiB adds to the peak RSS of a live service
    (podsim's oversize fault: an attachment carried whole, in base64), and what stays
    once it is stored.

It prints figures; it asserts nothing (timing on a shared machine is not a test)."""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def count(db, sql="SELECT count(*) FROM events"):
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def vm_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def vm_hwm_kb(pid):
    return vm_kb(pid, "VmHWM")


def vm_rss_kb(pid):
    return vm_kb(pid, "VmRSS")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_times(pid):
    """(user, system) CPU seconds per thread name of process `pid`, read once."""
    out = {}
    task = "/proc/%d/task" % pid
    for tid in os.listdir(task):
        try:
            with open(os.path.join(task, tid, "stat")) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        user, system = out.get(name, (0.0, 0.0))
        out[name] = (user + int(fields[11]) / CLK_TCK, system + int(fields[12]) / CLK_TCK)
    return out


def machine_ticks():
    """(all, idle, iowait) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3], v[4]


def total_cpu(times):
    """user + system per thread name, from thread_times()."""
    return {name: user + system for name, (user, system) in times.items()}


def thread_cpu(pid):
    """CPU seconds (user + system) per thread name of process `pid`."""
    return total_cpu(thread_times(pid))


def cpu_groups(per_thread):
    """Sums thread CPU into the engine's stages, by thread name prefix."""
    groups = {"writer": 0.0, "workers": 0.0, "receivers": 0.0, "other": 0.0}
    for name, secs in per_thread.items():
        if name.startswith("ps-writer"):
            groups["writer"] += secs
        elif name.startswith("ps-work"):
            groups["workers"] += secs
        elif name.startswith("ps-rx"):
            groups["receivers"] += secs
        else:
            groups["other"] += secs
    return groups


def start_podsim(podsim, work, certs, token, name, args, scheme="wss"):
    """A podsim on a loopback port of its own (ws:// or wss://); returns (process, ports)."""
    pf = os.path.join(work, "ports.json." + name)
    listen = ["--port", "0", "--tls-port", "off"] if scheme == "ws" else \
        ["--port", "off", "--tls-port", "0"]
    proc = subprocess.Popen(
        [podsim] + listen + ["--port-file", pf,
         "--cert", os.path.join(certs, "server.pem"), "--key", os.path.join(certs, "server.key"),
         "--token", "bench:" + token, "-q"] + args)
    for _ in range(100):
        if os.path.exists(pf) and os.path.getsize(pf) > 0:
            break
        time.sleep(0.1)
    with open(pf) as f:
        return proc, json.load(f)


def write_config(cfg, db, certs, devices, scheme="wss"):
    """podstream.yml and one device file; devices is a list of (kind, port)."""
    os.makedirs(os.path.join(cfg, "devices"), exist_ok=True)
    with open(os.path.join(cfg, "podstream.yml"), "w") as f:
        f.write("database: %s\ntls_ca_file: %s\nlog_level: warn\n"
                % (db, os.path.join(certs, "ca.pem")))
    with open(os.path.join(cfg, "devices", "bench.yml"), "w") as f:
        f.write("devices:\n")
        for i, (kind, port) in enumerate(devices, 1):
            f.write("  - {id: %d, name: bench-%s, type: proofpoint, properties: "
                    "{endpoint: '%s://127.0.0.1:%d/v1/stream', cluster: bench, "
                    "token: '${BENCH_TOKEN}', type: %s, workers: 2}}\n"
                    % (i, kind, scheme, port, kind))


def frame_cost(podstream, podsim, work, certs, token, mib, procs):
    """Peak RSS of a live service before and after one message of `mib` MiB."""
    sim, ports = start_podsim(podsim, work, certs, token, "frame",
                              ["--control-port", "0", "--rate", "20", "--count", "100",
                               "--history", "0", "--initial-backlog", "1h"])
    procs.append(sim)
    cfg = os.path.join(work, "cfg-frame")
    db = os.path.join(work, "state-frame", "podstream.db")
    write_config(cfg, db, certs, [("message", ports["wss"])])
    svc = subprocess.Popen([podstream, "run", "-c", cfg],
                           env=dict(os.environ, BENCH_TOKEN=token))
    procs.append(svc)
    while count(db) < 40:
        if svc.poll() is not None:
            sys.exit("bench_stream: the service exited early (%d)" % svc.returncode)
        time.sleep(0.2)
    before = vm_hwm_kb(svc.pid)
    req = urllib.request.Request("http://127.0.0.1:%d/fault/oversize?bytes=%d"
                                 % (ports["control"], mib << 20), method="POST")
    urllib.request.urlopen(req, timeout=10).read()
    while count(db, "SELECT count(*) FROM events WHERE raw_len >= %d" % (mib << 20)) < 1:
        if svc.poll() is not None:
            sys.exit("bench_stream: the service exited early (%d)" % svc.returncode)
        time.sleep(0.2)
    time.sleep(1.0)  # the writer trims the heap once the batch is gone
    after, now = vm_hwm_kb(svc.pid), vm_rss_kb(svc.pid)
    svc.send_signal(signal.SIGTERM)
    svc.wait(30)
    print("one %d MiB message: peak RSS %.1f MB -> %.1f MB (+%.1f MB, %.1f x the message); "
          "%.1f MB once stored" % (mib, before / 1024.0, after / 1024.0, (after - before) / 1024.0,
                                   (after - before) / 1024.0 / mib, now / 1024.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--message-share", type=float, default=0.33)
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--no-raw", action="store_true", help="skip the raw insert comparison")
    ap.add_argument("--compare", metavar="OLD_BUILD",
                    help="then run the same benchmark with another build's binaries")
    ap.add_argument("--scheme", choices=("wss", "ws"), default="wss",
                    help="the transport between podsim and the service (default wss)")
    ap.add_argument("--frame-mib", type=int, default=0,
                    help="also measure what one message of this many MiB costs in memory")
    args = ap.parse_args()

    builds = [args.build] + ([args.compare] if args.compare else [])
    for b in builds:
        print("== build %s (load average before: %s)"
              % (b, " ".join(open("/proc/loadavg").read().split()[:3])))
        run_once(args, b)
        sys.stdout.flush()


def run_once(args, build):
    podstream = os.path.join(build, "service", "podstream")
    podsim = os.path.join(build, "tests", "podsim", "podsim")
    bench_store = os.path.join(build, "tests", "bench", "bench_store")
    n_msg = int(args.events * args.message_share)
    n_log = args.events - n_msg

    work = tempfile.mkdtemp(prefix="bench-stream-")
    procs = []
    try:
        certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(SRC, "tests", "podsim", "gen-certs.sh"), certs],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        token = "bench-token-0123456789"
        # Two podsims, so each stream ends at its own count.
        devices = []
        for kind, n in (("message", n_msg), ("maillog", n_log)):
            sim, ports = start_podsim(podsim, work, certs, token, kind,
                                      ["--control-port", "off", "--rate", "max", "--count",
                                       str(n), "--history", "0", "--initial-backlog", "1h"],
                                      args.scheme)
            procs.append(sim)
            devices.append((kind, ports[args.scheme]))
        cfg = os.path.join(work, "cfg")
        db = os.path.join(work, "state", "podstream.db")
        write_config(cfg, db, certs, devices, args.scheme)
        env = dict(os.environ, BENCH_TOKEN=token)
        t0 = time.monotonic()
        ticks0 = machine_ticks()
        svc = subprocess.Popen([podstream, "run", "-c", cfg], env=env)
        procs.append(svc)
        peak = 0
        while True:
            n = count(db)
            peak = max(peak, vm_hwm_kb(svc.pid))
            if n >= args.events:
                break
            if svc.poll() is not None:
                sys.exit("bench_stream: the service exited early (%d)" % svc.returncode)
            time.sleep(0.25)
        took = time.monotonic() - t0
        ticks = [b - a for a, b in zip(ticks0, machine_ticks())]
        peak = max(peak, vm_hwm_kb(svc.pid))
        times = thread_times(svc.pid)
        cpu = cpu_groups(total_cpu(times))
        sys_cpu = cpu_groups({name: system for name, (_, system) in times.items()})
        sim_cpu = sum(sum(thread_cpu(p.pid).values()) for p in procs[:2])
        svc.send_signal(signal.SIGTERM)
        svc.wait(30)
        e2e = args.events / took
        print("end-to-end: %d events (%.0f%% message) in %.1f s = %.0f events/s "
              "(podsim over loopback %s:// to committed rows)"
              % (args.events, args.message_share * 100, took, e2e, args.scheme))
        # Idle cores mean a stage waited for another, not for the machine.
        print("machine idle during the run: %.0f%% of %d cores (waiting for I/O: %.0f%%)"
              % (100.0 * ticks[1] / max(ticks[0], 1), os.cpu_count(),
                 100.0 * ticks[2] / max(ticks[0], 1)))
        print("peak RSS of podstream run: %.1f MB" % (peak / 1024.0))
        us = lambda secs: secs * 1e6 / args.events
        print("CPU per stored event: %.1f us in all (writer %.1f, workers %.1f, receivers %.1f, "
              "other %.1f); podsim %.1f us" % (us(sum(cpu.values())), us(cpu["writer"]),
                                               us(cpu["workers"]), us(cpu["receivers"]),
                                               us(cpu["other"]), us(sim_cpu)))
        # The kernel's part differs most between machines (syscalls, TLS over loopback).
        print("  of which in the kernel: %.1f us (writer %.1f, workers %.1f, receivers %.1f)"
              % (us(sum(sys_cpu.values())), us(sys_cpu["writer"]), us(sys_cpu["workers"]),
                 us(sys_cpu["receivers"])))
        if not args.no_raw:
            out = subprocess.run([bench_store, "-n", str(args.events), "-m",
                                  str(args.message_share), "-d", os.path.join(work, "raw.db"),
                                  "-p", podstream], capture_output=True, text=True,
                                 check=True).stdout
            m = re.search(r"raw insert rate:\s*([\d.]+)\s*events/s", out)
            w = re.search(r"SQLite alone [^:]*:\s*([\d.]+)\s*events/s", out)
            if m and w:
                raw, sql = float(m.group(1)), float(w.group(1))
                print("raw batched insert of the same schema: %.0f events/s" % raw)
                print("end-to-end / raw: %.0f%%" % (100.0 * e2e / raw))
                print("SQLite alone, rows prepared beforehand: %.0f events/s (end-to-end: %.0f%%)"
                      % (sql, 100.0 * e2e / sql))
            else:
                print("bench_store printed no raw insert rate:\n" + out)
        if args.frame_mib > 0:
            frame_cost(podstream, podsim, work, certs, token, args.frame_mib, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
