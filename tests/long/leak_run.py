#!/usr/bin/python3
"""Ten minutes of streaming under LeakSanitizer (issue #11, "Evidence"): the ASan build
of `podstream run` against podsim, with the faults that exercise the freeing paths
along the way (resets, a silent server, a 409, a reload, a restarted device, malformed
and oversize frames), then SIGTERM. LeakSanitizer checks the heap at exit; the run
passes when it reports nothing and the service exits 0.

  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPS_SANITIZE=ON
  cmake --build build-asan --target podstream podsim
  PODSTREAM=build-asan/service/podstream PODSIM=build-asan/tests/podsim/podsim \\
  PODSIM_GEN_CERTS=tests/podsim/gen-certs.sh \\
      nice /usr/bin/python3 tests/long/leak_run.py --minutes 10

The service makes itself undumpable (no core dumps of secrets), which also keeps
LeakSanitizer from inspecting its threads; PODSTREAM_ALLOW_CORE_DUMPS=1, the documented
debug switch, lifts that for this run only. Not part of ctest."""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from longlib import finish  # noqa: E402
from harness import TOKEN, Podsim, Service, device_yaml, wait_for  # noqa: E402

# The positive control: a library that leaks 77 bytes at load time. If LeakSanitizer
# does not report them under the same command and settings, a clean run proves nothing.
CANARY_C = """#include <stdlib.h>
void *ps_leak_canary_keep;
__attribute__((constructor)) static void ps_leak_canary(void)
{
    ps_leak_canary_keep = malloc(77);
    ps_leak_canary_keep = NULL;
}
"""

LEAK_SUMMARY = re.compile(r"SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked in (\d+) "
                          r"allocation\(s\)")


def canary(work, sim, env):
    """Runs the service for a few seconds with the leaking library preloaded; returns
    whether LeakSanitizer reported exactly its 77 bytes."""
    src = os.path.join(work, "canary.c")
    lib = os.path.join(work, "canary.so")
    with open(src, "w") as f:
        f.write(CANARY_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-O0", "-o", lib, src], check=True)
    cenv = dict(env)
    cenv["LD_PRELOAD"] = lib
    # libasan must otherwise come first in the library list
    cenv["ASAN_OPTIONS"] += ":verify_asan_link_order=0"
    cdir = os.path.join(work, "canary")
    os.makedirs(cdir)
    svc = Service(cdir, device_yaml(sim.endpoint, [(9, "audit", None)]), {"log_level": "info"},
                  cenv)
    svc.start()
    time.sleep(4)
    svc.stop(timeout=30)
    m = LEAK_SUMMARY.search(svc.output())
    return bool(m) and m.group(1) == "77" and m.group(2) == "1"


def main():
    ap = argparse.ArgumentParser(description="streaming under LeakSanitizer")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=100, help="events/s per type")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ps-leak-")
    sim = Podsim(work, "--rate", str(a.rate), "--archive-stale", "1s")
    devices = [(1, "message", None), (2, "maillog", {"workers": 2})]
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
           "PODSTREAM_ALLOW_CORE_DUMPS": "1"}
    svc = Service(work, device_yaml(sim.endpoint, devices), {"log_level": "info"}, env)
    faults = [
        ("TCP reset", lambda: sim.control("/fault/drop")),
        ("malformed JSON", lambda: sim.control("/fault/badjson")),
        ("invalid UTF-8", lambda: sim.control("/fault/utf8")),
        ("silent server", lambda: sim.control("/fault/idle", secs=8, pongs=0)),
        ("5 MiB frame", lambda: sim.control("/fault/oversize", bytes=5 << 20)),
        ("reset holding the slot (409)", lambda: sim.control("/fault/drop", hold=3)),
        ("reload: device 2 restarted", lambda: (svc.write_devices(device_yaml(
            sim.endpoint, [(1, "message", None), (2, "maillog", {"workers": 3})])), svc.hup())),
        ("reload: back", lambda: (svc.write_devices(device_yaml(sim.endpoint, devices)),
                                  svc.hup())),
        ("protocol violation", lambda: sim.control("/fault/frame", kind="rsv")),
    ]
    t0 = time.monotonic()
    ok = False
    try:
        if not canary(work, sim, env):
            print("leak_run: FAIL: LeakSanitizer did not report the planted 77-byte leak; "
                  "is this the -DPS_SANITIZE=ON build?")
            return 1
        print("leak_run: LeakSanitizer reports a planted 77-byte leak under the same "
              "command: it is watching", flush=True)
        t0 = time.monotonic()
        svc.start()
        wait_for(lambda: svc.count() > 100, 60, "the first events under ASan")
        end = t0 + a.minutes * 60
        i = 0
        while time.monotonic() < end:
            time.sleep(min(20.0, max(0.0, end - time.monotonic())))
            if time.monotonic() >= end or svc.proc.poll() is not None:
                break
            name, fn = faults[i % len(faults)]
            fn()
            i += 1
            print("leak_run: %4.0f s: %s; %d events stored" % (time.monotonic() - t0, name,
                                                              svc.count()), flush=True)
        rc, took = svc.stop(timeout=30)
        out = svc.output()
        m = LEAK_SUMMARY.search(out)
        leaked = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        broken = "LeakSanitizer has encountered a fatal error" in out
        errors = len(re.findall(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:", out))
        print("leak_run: %.1f minutes, %d faults, %d events stored, exit %d (stop %.1f s)"
              % ((time.monotonic() - t0) / 60, i, svc.count(), rc, took))
        print("leak_run: LeakSanitizer: %d byte(s) leaked in %d allocation(s)%s; "
              "other sanitizer reports: %d" % (leaked[0], leaked[1],
                                               " (LSan could not run!)" if broken else "",
                                               errors - (1 if m else 0)))
        ok = rc == 0 and not m and not broken and errors == 0 and TOKEN not in out
        if not ok:
            print("leak_run: the service's output is in %s" % svc.logs[-1])
    finally:
        status = finish("leak_run", svc, sim, work, a.keep, ok, "PASS: 0 leaks")
    return status


if __name__ == "__main__":
    sys.exit(main())
