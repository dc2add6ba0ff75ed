#!/usr/bin/python3
"""Outputs (#16) against real receivers on 127.0.0.1: the File output (rotation,
retention count, kill -9) and the Syslog output into a real rsyslog over TLS (every
event once, whole, in order per device, a 1 MiB event, rsyslog down for a while,
kill -9 of podstream, TLS failures).

Run one class: PODSTREAM=... PODSIM=... /usr/bin/python3 test_outputs.py -v FileTests"""

import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PODSTREAM, StreamCase, free_port, wait_for  # noqa: E402

MESSAGE = (1, "message", None)
MAILLOG = (2, "maillog", None)


def write_outputs(svc, text):
    """outputs/out.yml of the service's configuration directory."""
    d = os.path.join(svc.cfg, "outputs")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "out.yml.tmp"), "w") as f:
        f.write(text)
    os.replace(os.path.join(d, "out.yml.tmp"), os.path.join(d, "out.yml"))


def output_row(svc, name):
    rows = svc.query("SELECT * FROM outputs WHERE name = ?", (name,))
    return rows[0] if rows else None


def stored_keys(svc):
    """(device_id, key) of every stored event, in id order."""
    return [(r[0], r[1]) for r in svc.query("SELECT device_id, key FROM events ORDER BY id")]


def event_key(ev):
    return ev.get("guid") or ev.get("id")


def read_lines(paths):
    out = []
    for p in paths:
        with open(p) as f:
            for line in f:
                out.append(json.loads(line))
    return out


class OutputCase(StreamCase):
    def status_json(self, svc):
        p = subprocess.run([PODSTREAM, "status", "-c", svc.cfg, "--format", "json"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def delivered_all(self, svc, name):
        def done():
            row = svc.query("SELECT last_id FROM outputs WHERE name = ?", (name,))
            top = svc.query("SELECT max(id) FROM events")[0][0]
            return row and top and row[0][0] >= top
        return done


class FileTests(OutputCase):
    def file_files(self, base):
        """Rotated files oldest first, then the current one."""
        rotated = sorted(glob.glob(base + ".*"), key=lambda p: -int(p.rsplit(".", 1)[1]))
        return rotated + ([base] if os.path.exists(base) else [])

    def test_rotation_retention_and_every_event_once_in_order(self):
        out = os.path.join(self.dir, "out", "events.jsonl")
        self.start_sim("--rate", "max", "--count", "2000")
        svc = self.start_svc([MESSAGE, MAILLOG], start=False)
        write_outputs(svc, "outputs:\n"
                           "  - name: jsonl\n"
                           "    type: file\n"
                           "    path: %s\n"
                           "    rotate_size: 256KiB\n"
                           "    keep: 1000\n"
                           "    batch_events: 300\n"
                           "    flush_interval: 100ms\n" % out)
        svc.start()
        wait_for(lambda: svc.count() >= 4000, 60, "4000 stored events")
        wait_for(self.delivered_all(svc, "jsonl"), 30, "all delivered")
        rc, took = svc.stop()
        self.assertEqual(rc, 0)
        self.assertLess(took, 5.0)
        files = self.file_files(out)
        self.assertGreater(len(files), 3, "rotated by size")
        for p in files:
            self.assertLessEqual(os.path.getsize(p), 256 * 1024)
            self.assertEqual(oct(os.stat(p).st_mode & 0o777), "0o640")
        lines = read_lines(files)
        got = [event_key(e) for e in lines]
        want = [k for _, k in stored_keys(svc)]
        self.assertEqual(got, want, "every stored event once, in id order")
        row = output_row(svc, "jsonl")
        self.assertIsNotNone(row)
        st = self.status_json(svc)["outputs"][0]
        self.assertEqual(st["name"], "jsonl")
        self.assertEqual(st["delivered"], 4000)
        self.assertEqual(st["backlog"], 0)
        self.assertIsNotNone(st["last_delivery"])

    def test_keep_deletes_the_oldest_files(self):
        out = os.path.join(self.dir, "out", "events.jsonl")
        self.start_sim("--rate", "max", "--count", "3000")
        svc = self.start_svc([MESSAGE], start=False)
        write_outputs(svc, "- name: jsonl\n  type: file\n  path: %s\n"
                           "  rotate_size: 64KiB\n  keep: 2\n  batch_events: 100\n" % out)
        svc.start()
        wait_for(lambda: svc.count() >= 3000, 60, "3000 stored")
        wait_for(self.delivered_all(svc, "jsonl"), 30, "all delivered")
        svc.stop()
        self.assertEqual(sorted(os.path.basename(p) for p in glob.glob(out + "*")),
                         ["events.jsonl", "events.jsonl.1", "events.jsonl.2"])
        # what is left is the newest stretch, in order, with no gap
        got = [event_key(e) for e in read_lines(self.file_files(out))]
        want = [k for _, k in stored_keys(svc)]
        self.assertEqual(got, want[len(want) - len(got):])

    def test_kill9_while_writing_loses_nothing(self):
        out = os.path.join(self.dir, "out", "events.jsonl")
        self.start_sim("--rate", "400")
        svc = self.start_svc([MESSAGE, MAILLOG], start=False)
        write_outputs(svc, "- name: jsonl\n  type: file\n  path: %s\n  batch_events: 50\n"
                           "  flush_interval: 50ms\n" % out)
        svc.start()
        for i in range(5):
            time.sleep(1.0 + 0.3 * i)
            svc.kill9()
            svc.start()
        time.sleep(2)
        svc.stop()
        svc.start()
        wait_for(self.delivered_all(svc, "jsonl"), 30, "all delivered after the restarts")
        svc.stop()
        got = [event_key(e) for e in read_lines(self.file_files(out))]
        want = [k for _, k in stored_keys(svc)]
        self.assertTrue(set(want) <= set(got), "%d stored events never written" %
                        len(set(want) - set(got)))
        # duplicates only from a batch written but not committed before a kill
        self.assertLess(len(got) - len(set(got)), 5 * 100 + 1)

    def test_invalid_output_is_refused_with_file_line_and_field(self):
        self.start_sim("--rate", "1")
        svc = self.start_svc([MESSAGE], start=False)
        write_outputs(svc, "outputs:\n"
                           "  - name: a\n"
                           "    type: fiel\n"
                           "  - name: b\n"
                           "    type: file\n"
                           "    path: /tmp/x\n"
                           "    devices: [nosuch]\n"
                           "    rotate_sise: 1MiB\n")
        p = subprocess.run([PODSTREAM, "validate", "-c", svc.cfg], capture_output=True,
                           text=True)
        self.assertNotEqual(p.returncode, 0)
        text = p.stdout + p.stderr
        self.assertIn('outputs/out.yml:3:11: error: outputs[0].type: unknown output type '
                      '"fiel" (did you mean "file"?)', text)
        self.assertIn('outputs/out.yml:7:15: error: outputs[1].devices[0]: no device has the '
                      'name or id "nosuch"', text)
        self.assertIn('outputs/out.yml:8:5: error: outputs[1].rotate_sise: unknown key '
                      '"rotate_sise" (did you mean "rotate_size"?)', text)


if __name__ == "__main__":
    unittest.main()
