#!/usr/bin/python3
"""Forwarding benchmark (#16): what an enabled output costs ingest, and how fast each
output forwards while ingest runs.

    tests/bench/bench_outputs.py [--events N] [--build DIR]
                                 [--outputs none,clickhouse,splunk_hec,splunk_hec_ack,sentinel]

For each case, podsim serves a backlog of N events (half message, half maillog, --rate
max) to a real `podstream run` with that one output enabled (`none`: no output), and
its receiver on 127.0.0.1: a real clickhouse-server, or the Splunk HEC / Sentinel
simulators of tests/outputs (Python: their own speed caps what those cases can show).
Prints per case:

  - ingest: events/s until the database holds all N (compare with `none`: the
    issue's target is an ingest loss of at most 10%),
  - forwarding: events/s from the start until the output's cursor reached the last
    event, and its backlog at the moment ingest finished,
  - CPU time per event of the service, from /proc/<pid>/task/*/stat (the figure that
    other load on a shared machine does not distort): all threads, and the output's
    runner thread (ps-out-*) alone; and the receiver's CPU per event.

It prints figures; it asserts nothing (timing on a shared machine is not a test)."""

import argparse
import os
import shutil
import signal
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
CASES = ("none", "clickhouse", "splunk_hec", "splunk_hec_ack", "sentinel")


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
    return None, None


def delivered_to(db):
    return count(db, "SELECT coalesce(max(last_id), 0) FROM outputs")


def run_case(case, args, podstream, podsim):
    work = tempfile.mkdtemp(prefix="bench-outputs-")
    procs, recv = [], None
    n_msg = args.events // 2
    try:
        certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(SRC, "tests", "podsim", "gen-certs.sh"), certs],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        devices = []
        for kind, n in (("message", n_msg), ("maillog", args.events - n_msg)):
            sim, ports = start_podsim(podsim, work, certs, TOKEN, kind,
                                      ["--control-port", "off", "--rate", "max", "--count",
                                       str(n), "--history", "0", "--initial-backlog", "1h"])
            procs.append(sim)
            devices.append((kind, ports["wss"]))
        cfg = os.path.join(work, "cfg")
        db = os.path.join(work, "state", "podstream.db")
        write_config(cfg, db, certs, devices)
        recv, lines = receiver_for(case, work, certs)
        if lines:
            os.makedirs(os.path.join(cfg, "outputs"))
            with open(os.path.join(cfg, "outputs", "bench.yml"), "w") as f:
                f.write("outputs:\n  - name: bench\n" +
                        "".join("    %s\n" % line for line in lines))
        t0 = time.monotonic()
        svc = subprocess.Popen([podstream, "run", "-c", cfg], env=dict(os.environ,
                                                                       BENCH_TOKEN=TOKEN))
        procs.append(svc)
        ingest_s = forward_s = None
        backlog = 0
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            n = count(db)
            if ingest_s is None and n >= args.events:
                ingest_s = time.monotonic() - t0
                top = count(db, "SELECT max(id) FROM events")
                backlog = n - count(db, "SELECT count(*) FROM events WHERE id <= %d"
                                    % delivered_to(db)) if lines else 0
            if ingest_s is not None and (not lines or delivered_to(db) >= top):
                forward_s = time.monotonic() - t0
                break
            if svc.poll() is not None:
                sys.exit("bench_outputs: the service exited early (%d)" % svc.returncode)
            time.sleep(0.1)
        cpu = thread_cpu(svc.pid)
        recv_cpu = 0.0
        if recv is not None and recv.proc.poll() is None:
            recv_cpu = sum(thread_cpu(recv.proc.pid).values())
        svc.send_signal(signal.SIGTERM)
        svc.wait(30)
        if ingest_s is None or forward_s is None:
            print("%-15s did not finish within %d s" % (case, args.timeout))
            return None
        us = lambda secs: secs * 1e6 / args.events
        out_cpu = sum(v for k, v in cpu.items() if k.startswith("ps-out"))
        return {"case": case, "ingest": args.events / ingest_s,
                "forward": args.events / forward_s if lines else None, "backlog": backlog,
                "cpu": us(sum(cpu.values())), "out_cpu": us(out_cpu),
                "recv_cpu": us(recv_cpu)}
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--outputs", default=",".join(CASES))
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    podstream = os.path.join(args.build, "service", "podstream")
    podsim = os.path.join(args.build, "tests", "podsim", "podsim")
    results = []
    for case in args.outputs.split(","):
        r = run_case(case, args, podstream, podsim)
        if r:
            results.append(r)
    base = next((r["ingest"] for r in results if r["case"] == "none"), None)
    print("%d events (half message, half maillog), load average %.2f" %
          (args.events, os.getloadavg()[0]))
    print("%-15s %12s %8s %12s %9s %9s %9s %9s" % (
        "output", "ingest ev/s", "vs none", "forward ev/s", "backlog", "cpu us/ev",
        "out us/ev", "recv us/ev"))
    for r in results:
        print("%-15s %12.0f %8s %12s %9d %9.1f %9.1f %9.1f" % (
            r["case"], r["ingest"],
            "%+.0f%%" % (100.0 * (r["ingest"] / base - 1)) if base else "-",
            "%.0f" % r["forward"] if r["forward"] else "-", r["backlog"], r["cpu"],
            r["out_cpu"], r["recv_cpu"]))


if __name__ == "__main__":
    main()
