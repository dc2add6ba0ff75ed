"""What the long runs share: the integration harness on the path, and the end of a run."""

import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))


def finish(name, svc, sim, work, keep, ok, passed="PASS"):
    """Stops what still runs, keeps the work directory of a failed (or --keep) run, prints
    the verdict; returns the exit status."""
    if svc.proc and svc.proc.poll() is None:
        svc.proc.kill()
        svc.proc.wait()
    sim.stop()
    if keep or not ok:
        print("%s: work directory %s" % (name, work))
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("%s: %s" % (name, passed if ok else "FAIL"))
    return 0 if ok else 1
