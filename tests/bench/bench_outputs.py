#!/usr/bin/python3
"""Forwarding benchmark (#16): what an enabled output costs ingest, and how fast each
output forwards while ingest runs.

    tests/bench/bench_outputs.py [--events N] [--build DIR] [--podstream BINARY]
                                 [--outputs file,clickhouse,splunk_hec,splunk_hec_ack,sentinel]
                                 [--nice-receiver N|idle] [--repeat N] [--compare BINARY]

For each output, podsim serves a backlog of N events (half message, half maillog,
--rate max) to a real `podstream run` twice, back to back: first with no output (the
baseline of that pair), then with that one output enabled and its receiver on
127.0.0.1: a real clickhouse-server, or the Splunk HEC / Sentinel simulators of
tests/outputs (Python); the file output has no receiver. With --nice-receiver the
output runs a third time with its receiver at that nice value, or with `idle` under
SCHED_IDLE (every thread of it), so that it takes only the CPU the service leaves: on
a small machine the receiver otherwise competes with ingest for the same cores, which
a production receiver on its own machine does not. With --repeat the
whole sequence runs N times and the medians follow the table: one pair's loss is within
the noise of a shared machine, the median of several is the figure to quote. With
--compare each pair runs with both binaries in turn (before and after a change).

Prints per run:
  - ingest ev/s: until the database holds all N, and the loss against the `none` run
    just before it (the issue's target: at most 10%);
  - ingest CPU per event: every service thread but the output's, at the moment ingest
    finished, from /proc/<pid>/task/*/stat (user + system; other load on a shared
    machine does not distort it the way it distorts rates);
  - out us/ev: the output's runner thread (ps-out-*) by the time it delivered the last
    event, and `cpu-bound loss`: the ingest loss the CPU figures imply when the service
    has its cores to itself and ingest is CPU-bound (1 - none / (ingest + output));
  - forwarding ev/s from the start until the output's cursor reached the last event,
    and the backlog when ingest finished;
  - the receiver's and podsim's CPU per event, which are not the service's cost (in
    production both run elsewhere) but share this machine's cores with it.
And the load average (1 min) before and after.

It prints figures; it asserts nothing (timing on a shared machine is not a test)."""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "outputs"))
import receivers  # noqa: E402
from bench_stream import count, start_podsim, thread_cpu, write_config  # noqa: E402

TOKEN = "bench-token-0123456789"
HEC_TOKEN = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
DCR = "dcr-0123456789abcdef0123456789abcdef"
OUTPUTS = ("file", "clickhouse", "splunk_hec", "splunk_hec_ack", "sentinel")


def receiver_for(case, work, certs):
    """(receiver or None, the output's YAML mapping lines)."""
    ca = os.path.join(certs, "ca.pem")
    common = ["batch_events: 2000", "flush_interval: 200ms"]
    if case == "clickhouse":
        r = receivers.ClickHouse(os.path.join(work, "ch")).start()
        return r, ["type: clickhouse", "url: " + r.url, "create_table: true",
                   "user: " + r.user, "password: " + r.password] + common
    if case.startswith("splunk_hec"):
        ack = case.endswith("_ack")
        r = receivers.HecReceiver(os.path.join(work, "hec"), certs, HEC_TOKEN, ack=ack,
                                  ack_delay=0.2, max_content_length=4000000)
        return r, ["type: splunk_hec", "url: " + r.url, "token: " + HEC_TOKEN,
                   "max_content_length: 4MB", "ack: %s" % ("true" if ack else "false"),
                   "tls: {ca_file: %s}" % ca] + common
    if case == "sentinel":
        r = receivers.SentinelReceiver(os.path.join(work, "az"), certs, "t", "c", "s", DCR,
                                       "Custom-ProofpointPOD")
        return r, ["type: sentinel", "endpoint: " + r.url, "authority: " + r.url,
                   "tenant_id: t", "client_id: c", "client_secret: s", "dcr_id: " + DCR,
                   "tls: {ca_file: %s}" % ca] + common
    if case == "file":
        # No receiver: what the output alone costs ingest.
        os.makedirs(os.path.join(work, "out"))
        return None, ["type: file", "path: " + os.path.join(work, "out", "events.jsonl"),
                      "rotate_size: 64MiB", "keep: 2"] + common
    return None, None


def renice(pid, value):
    """Every thread of `pid` (nice is per thread on Linux; threads started later
    inherit it from the thread that starts them). "idle": SCHED_IDLE, which a
    waking thread of normal policy preempts at once, where at nice 19 it may wait
    for the running thread's slice to end."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            if value == "idle":
                os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
            else:
                os.setpriority(os.PRIO_PROCESS, int(tid), int(value))
        except OSError:
            pass


def delivered_to(db):
    return count(db, "SELECT coalesce(max(last_id), 0) FROM outputs")


def proc_cpu(procs):
    total = 0.0
    for p in procs:
        if p is not None and p.poll() is None:
            total += sum(thread_cpu(p.pid).values())
    return total


def split_cpu(per_thread):
    """(ingest: every thread but the output's, the output's runner)."""
    out = sum(v for k, v in per_thread.items() if k.startswith("ps-out"))
    return sum(per_thread.values()) - out, out


def start_sims(args, podsim, work, certs):
    n_msg = args.events // 2
    sims, devices = [], []
    for kind, n in (("message", n_msg), ("maillog", args.events - n_msg)):
        sim, ports = start_podsim(podsim, work, certs, TOKEN, kind,
                                  ["--control-port", "off", "--rate", "max", "--count",
                                   str(n), "--history", "0", "--initial-backlog", "1h"])
        sims.append(sim)
        devices.append((kind, ports["wss"]))
    return sims, devices


def wait_done(args, svc, db, forwarding):
    """(ingest s, forward s, backlog, CPU per thread at ingest end, and at forward end),
    or None on timeout."""
    t0 = time.monotonic()
    ingest_s, at_ingest, backlog, top = None, None, 0, 0
    while time.monotonic() < t0 + args.timeout:
        n = count(db)
        if ingest_s is None and n >= args.events:
            ingest_s = time.monotonic() - t0
            at_ingest = thread_cpu(svc.pid)
            top = count(db, "SELECT max(id) FROM events")
            if forwarding:
                backlog = n - count(db, "SELECT count(*) FROM events WHERE id <= %d"
                                    % delivered_to(db))
        if ingest_s is not None and (not forwarding or delivered_to(db) >= top):
            return ingest_s, time.monotonic() - t0, backlog, at_ingest, thread_cpu(svc.pid)
        if svc.poll() is not None:
            sys.exit("bench_outputs: the service exited early (%d)" % svc.returncode)
        time.sleep(0.1)
    return None


def run_case(case, nice, args, podstream, podsim):
    """One run: `case` is an output or "none"; the receiver at `nice` (None: as is)."""
    work = tempfile.mkdtemp(prefix="bench-outputs-")
    procs, recv = [], None
    try:
        certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(SRC, "tests", "podsim", "gen-certs.sh"), certs],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sims, devices = start_sims(args, podsim, work, certs)
        procs += sims
        cfg = os.path.join(work, "cfg")
        db = os.path.join(work, "state", "podstream.db")
        write_config(cfg, db, certs, devices)
        recv, lines = receiver_for(case, work, certs)
        if recv is not None and nice is not None:
            renice(recv.proc.pid, nice)
        if lines:
            os.makedirs(os.path.join(cfg, "outputs"))
            with open(os.path.join(cfg, "outputs", "bench.yml"), "w") as f:
                f.write("outputs:\n  - name: bench\n" +
                        "".join("    %s\n" % line for line in lines))
        recv_proc = recv.proc if recv is not None else None
        recv0, sims0 = proc_cpu([recv_proc]), proc_cpu(sims)
        svc = subprocess.Popen([podstream, "run", "-c", cfg], env=dict(os.environ,
                                                                       BENCH_TOKEN=TOKEN))
        procs.append(svc)
        done = wait_done(args, svc, db, bool(lines))
        recv_cpu, sims_cpu = proc_cpu([recv_proc]) - recv0, proc_cpu(sims) - sims0
        svc.send_signal(signal.SIGTERM)
        svc.wait(30)
        if done is None:
            print("%-15s did not finish within %d s" % (case, args.timeout))
            return None
        ingest_s, forward_s, backlog, at_ingest, at_end = done
        us = lambda secs: secs * 1e6 / args.events
        return {"case": case, "nice": nice, "bin": podstream, "ingest": args.events / ingest_s,
                "forward": args.events / forward_s if lines else None, "backlog": backlog,
                "ingest_cpu": us(split_cpu(at_ingest)[0]), "out_cpu": us(split_cpu(at_end)[1]),
                "recv_cpu": us(recv_cpu), "sim_cpu": us(sims_cpu)}
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if recv is not None:
            recv.stop()
        shutil.rmtree(work, ignore_errors=True)


def show(rows, binaries):
    if len(binaries) > 1:
        print("  ".join("%s = %s" % (chr(65 + i), b) for i, b in enumerate(binaries)))
    print("%-15s %5s %10s %7s %9s %9s %9s %9s %10s %8s %9s" % (
        "output", "nice", "ingest/s", "loss", "ingest", "out", "cpu-bound", "forward/s",
        "backlog", "recv", "podsim"))
    print("%-15s %5s %10s %7s %9s %9s %9s %9s %10s %8s %9s" % (
        "", "recv", "", "vs none", "us/ev", "us/ev", "loss", "", "", "us/ev", "us/ev"))
    for r, base in rows:
        loss = lambda v, b: "%+.1f%%" % (100.0 * (v / b - 1)) if b else "-"
        bound = "-"
        if base and r["case"] != "none":
            bound = loss(base["ingest_cpu"], r["ingest_cpu"] + r["out_cpu"])
        name = r["case"] if len(binaries) < 2 else "%s:%s" % (
            chr(65 + binaries.index(r["bin"])), r["case"])
        print("%-15s %5s %10.0f %7s %9.1f %9s %9s %9s %10s %8s %9.1f" % (
            name, "-" if r["nice"] is None else r["nice"], r["ingest"],
            loss(r["ingest"], base["ingest"]) if base else "-", r["ingest_cpu"],
            "%.1f" % r["out_cpu"] if r["case"] != "none" else "-", bound,
            "%.0f" % r["forward"] if r["forward"] else "-",
            r["backlog"] if r["case"] != "none" else "-",
            "%.1f" % r["recv_cpu"] if r["case"] != "none" else "-", r["sim_cpu"]))


def show_medians(rows):
    """Per output and receiver nice: the median of the pairs' losses, and of the CPU."""
    groups = {}
    for r, base in rows:
        if base:
            groups.setdefault((r["bin"], r["case"], r["nice"]), []).append((r, base))
    print("medians over the repeats (loss: each run against the `none` run just before it)")
    print("%-15s %5s %5s %9s %9s %9s %9s  %s" % ("output", "nice", "runs", "loss", "ingest",
                                                 "none", "out", "binary"))
    for (binary, case, nice), pairs in groups.items():
        med = lambda v: statistics.median(v)
        print("%-15s %5s %5d %+8.1f%% %9.1f %9.1f %9.1f  %s" % (
            case, "-" if nice is None else nice, len(pairs),
            med([100.0 * (r["ingest"] / b["ingest"] - 1) for r, b in pairs]),
            med([r["ingest_cpu"] for r, _ in pairs]), med([b["ingest_cpu"] for _, b in pairs]),
            med([r["out_cpu"] for r, _ in pairs]), binary))
    print("ingest, none: ingest CPU us/event with the output and in the `none` run before it; "
          "out: the output thread's us/event")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--podstream", help="the service binary (default: BUILD/service/podstream)")
    ap.add_argument("--outputs", default=",".join(OUTPUTS))
    ap.add_argument("--nice-receiver", metavar="N",
                    help="also run each output with its receiver at nice N "
                         "(or `idle`: SCHED_IDLE)")
    ap.add_argument("--compare", metavar="BINARY",
                    help="another service binary, run in turn with the first (before/after)")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="run every pair N times, in turn, and print the medians")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    podstream = args.podstream or os.path.join(args.build, "service", "podstream")
    podsim = os.path.join(args.build, "tests", "podsim", "podsim")
    load0 = os.getloadavg()[0]
    rows = []
    # In turn rather than each output N times in a row, so that a change in the
    # machine's load falls on every output alike.
    binaries = [podstream] + ([args.compare] if args.compare else [])
    for _ in range(args.repeat):
        for case in [c for c in args.outputs.split(",") if c and c != "none"]:
            for binary in binaries:
                base = run_case("none", None, args, binary, podsim)
                if base:
                    rows.append((base, None))
                receiver = case != "file"
                for nice in [None] + ([args.nice_receiver] if args.nice_receiver is not None
                                      and receiver else []):
                    r = run_case(case, nice, args, binary, podsim)
                    if r:
                        rows.append((r, base))
    print("%d events (half message, half maillog), %s; load average %.2f before, %.2f after"
          % (args.events, " and ".join(binaries), load0, os.getloadavg()[0]))
    show(rows, binaries)
    if args.repeat > 1 or args.compare:
        show_medians(rows)
    print("recv and podsim: the receiver's and the POD simulator's CPU, not the service's "
          "(in production they run elsewhere), taken from the same cores.")


if __name__ == "__main__":
    main()
