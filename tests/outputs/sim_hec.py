#!/usr/bin/python3
"""A Splunk HTTP Event Collector simulator for podstream's tests: no Splunk can run here,
so this enforces what Splunk documents for HEC (Splunk Enterprise "Format events for HTTP
Event Collector" and "HTTP Event Collector REST API"), and records every event it indexed,
one JSON line each, in --record.

  POST /services/collector/event   Authorization: Splunk <token>
      body: JSON event objects, concatenated (whitespace between them allowed), each
      with a non-blank "event"; optional time, host, source, sourcetype, index, fields.
      With --ack: a channel (X-Splunk-Request-Channel header or ?channel=, a GUID) is
      required, and the answer carries an ackId (per channel, from 0).
  POST /services/collector/ack     {"acks": [ids]} -> {"acks": {"id": bool}}; an ackId is
      true once its events are indexed, --ack-delay seconds after they were accepted.

Answers, as HEC gives them ({"text": ..., "code": N}):
  200 code 0 Success; 401 code 2 Token is required, code 3 Invalid authorization;
  403 code 4 Invalid token; 400 code 5 No data, 6 Invalid data format
  (+ invalid-event-number), 7 Incorrect index, 10 Data channel is missing, 11 Invalid data
  channel, 12 Event field is required, 13 Event field cannot be blank, 14 ACK is disabled;
  413 when Content-Length exceeds --max-content-length; 503 code 9 Server is busy
  (injected). A rejected request indexes nothing of its body.

Control (not HEC): GET /_sim/stats; POST /_sim/fault?status=503&count=N[&retry_after=S]
[&path=/services/collector/event]; POST /_sim/lose_pending (events accepted but not yet
indexed are lost, as when an indexer dies: their ackIds stay false for good);
POST /_sim/token?value=T (the token the server accepts from now on)."""

import json
import re
import sys
import threading
import time

import simlib

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def hec(status, text, code, **extra):
    body = {"text": text, "code": code}
    body.update(extra)
    return status, body


class HecSim(simlib.Sim):
    def __init__(self, args):
        super().__init__(args.record)
        self.token = args.token
        self.indexes = set(args.indexes.split(","))
        self.ack = args.ack
        self.ack_delay = args.ack_delay
        self.max_content_length = args.max_content_length
        self.next_ack = {}  # channel -> next ackId
        self.pending = []  # [(due monotonic, channel, ackId, events)]
        self.indexed = set()  # (channel, ackId)
        self.stats.update({"acks_issued": 0, "lost": 0})
        threading.Thread(target=self._indexer, daemon=True).start()

    def _indexer(self):
        while True:
            time.sleep(0.05)
            now = time.monotonic()
            with self.lock:
                due = [p for p in self.pending if p[0] <= now]
                self.pending = [p for p in self.pending if p[0] > now]
            for _, channel, ack_id, events in due:
                self.accept(events)
                with self.lock:
                    self.indexed.add((channel, ack_id))

    def control(self, handler, path, query):
        if path == "/_sim/lose_pending":
            with self.lock:
                lost = sum(len(p[3]) for p in self.pending)
                self.pending = []
                self.stats["lost"] += lost
            handler.send_json(200, {"lost": lost})
            return True
        if path == "/_sim/token":
            self.token = query["value"]
            handler.send_json(200, {"ok": True})
            return True
        return super().control(handler, path, query)

    def auth(self, header):
        if not header:
            return hec(401, "Token is required", 2)
        parts = header.split(None, 1)
        if len(parts) != 2 or parts[0] != "Splunk":
            return hec(401, "Invalid authorization", 3)
        if parts[1].strip() != self.token:
            return hec(403, "Invalid token", 4)
        return None

    def parse(self, body):
        """(events, None) or (None, (status, answer))."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None, hec(400, "Invalid data format", 6, **{"invalid-event-number": 0})
        dec = json.JSONDecoder()
        events = []
        pos = 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                break
            n = len(events)
            try:
                obj, pos = dec.raw_decode(text, pos)
            except ValueError:
                return None, hec(400, "Invalid data format", 6, **{"invalid-event-number": n})
            if not isinstance(obj, dict):
                return None, hec(400, "Invalid data format", 6, **{"invalid-event-number": n})
            if "event" not in obj:
                return None, hec(400, "Event field is required", 12,
                                 **{"invalid-event-number": n})
            if obj["event"] in ("", None):
                return None, hec(400, "Event field cannot be blank", 13,
                                 **{"invalid-event-number": n})
            if obj.get("index", "main") not in self.indexes:
                return None, hec(400, "Incorrect index", 7, **{"invalid-event-number": n})
            events.append(obj)
        if not events:
            return None, hec(400, "No data", 5)
        return events, None


class HecHandler(simlib.Handler):
    def fault_body(self, status):
        if status == 503:
            return {"text": "Server is busy", "code": 9}
        return super().fault_body(status)

    def channel(self, query):
        ch = self.headers.get("X-Splunk-Request-Channel") or query.get("channel")
        if not ch:
            return None, hec(400, "Data channel is missing", 10)
        if not GUID.match(ch):
            return None, hec(400, "Invalid data channel", 11)
        return ch, None

    def api_post(self, path, query):
        sim = self.sim
        if path not in ("/services/collector/event", "/services/collector/event/1.0",
                        "/services/collector/ack"):
            self.read_body(None)
            self.send_json(404, {"text": "The requested URL was not found on this server.",
                                 "code": 404})
            return
        body = self.read_body(sim.max_content_length)
        if body is None:
            return
        err = sim.auth(self.headers.get("Authorization"))
        if err:
            self.send_json(*err)
            return
        if path == "/services/collector/ack":
            self.ack_query(query, body)
            return
        ch = None
        if sim.ack:
            ch, err = self.channel(query)
            if err:
                self.send_json(*err)
                return
        events, err = sim.parse(body)
        if err:
            self.send_json(*err)
            return
        if not sim.ack:
            sim.accept(events)
            self.send_json(200, {"text": "Success", "code": 0})
            return
        with sim.lock:
            ack_id = sim.next_ack.get(ch, 0)
            sim.next_ack[ch] = ack_id + 1
            sim.pending.append((time.monotonic() + sim.ack_delay, ch, ack_id, events))
            sim.stats["acks_issued"] += 1
        self.send_json(200, {"text": "Success", "code": 0, "ackId": ack_id})

    def ack_query(self, query, body):
        sim = self.sim
        if not sim.ack:
            self.send_json(*hec(400, "ACK is disabled", 14))
            return
        ch, err = self.channel(query)
        if err:
            self.send_json(*err)
            return
        try:
            ids = json.loads(body)["acks"]
            ids = [int(i) for i in ids]
        except (ValueError, KeyError, TypeError):
            self.send_json(*hec(400, "Invalid data format", 6))
            return
        with sim.lock:
            acks = {str(i): (ch, i) in sim.indexed for i in ids}
        self.send_json(200, {"acks": acks})


def main():
    p = simlib.arg_parser("Splunk HEC simulator (tests only)")
    p.add_argument("--token", required=True, help="the HEC token accepted")
    p.add_argument("--indexes", default="main", help="indexes the token may write, comma-separated")
    p.add_argument("--ack", action="store_true", help="indexer acknowledgement on")
    p.add_argument("--ack-delay", type=float, default=0.5,
                   help="seconds from acceptance to indexed (ack true)")
    p.add_argument("--max-content-length", type=int, default=1000000,
                   help="largest request body accepted, bytes (413 above)")
    args = p.parse_args()
    simlib.serve(args, HecHandler, HecSim(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
