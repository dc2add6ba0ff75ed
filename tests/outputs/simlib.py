"""What the HTTP receivers' simulators (sim_hec.py, sim_sentinel.py) share: an HTTPS
server on 127.0.0.1 with a test CA's certificate, a record of what was accepted, and a
control path for the test (/_sim/..., not part of any real API) to inject faults and
read figures.

The TLS handshake happens in the request's own thread, so a client that rejects the
certificate (wrong CA) is counted as a TLS failure and never holds up other clients."""

import argparse
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sim:
    """State shared by the handler threads: faults, counters, the record file."""

    def __init__(self, record_path):
        self.lock = threading.Lock()
        self.record_path = record_path
        self.record = open(record_path, "a", encoding="utf-8") if record_path else None
        self.faults = []  # [(path prefix, status, count left, retry_after, body)]
        self.stats = {"requests": 0, "accepted": 0, "tls_failures": 0, "statuses": {}}
        self.delay_s = 0.0

    def take_fault(self, path):
        """The next injected fault for this path, if any (each one counts down)."""
        with self.lock:
            for i, (prefix, status, left, retry_after, body) in enumerate(self.faults):
                if path.startswith(prefix):
                    if left <= 1:
                        del self.faults[i]
                    else:
                        self.faults[i] = (prefix, status, left - 1, retry_after, body)
                    return status, retry_after, body
        return None

    def count_status(self, status):
        with self.lock:
            self.stats["requests"] += 1
            key = str(status)
            self.stats["statuses"][key] = self.stats["statuses"].get(key, 0) + 1

    def accept(self, items):
        """Records accepted items, one JSON line each, flushed before the answer."""
        with self.lock:
            self.stats["accepted"] += len(items)
            if self.record:
                for it in items:
                    self.record.write(json.dumps(it, separators=(",", ":")) + "\n")
                self.record.flush()

    def control(self, handler, path, query):
        """/_sim/fault?status=503&count=2&retry_after=1&path=/x, /_sim/stats,
        /_sim/delay?ms=N (each API answer waits that long). Returns True if handled."""
        if path == "/_sim/stats":
            with self.lock:
                handler.send_json(200, self.stats)
            return True
        if path == "/_sim/fault":
            fault = (query.get("path", "/"), int(query["status"]), int(query.get("count", "1")),
                     query.get("retry_after"), query.get("body"))
            with self.lock:
                self.faults.append(fault)
            handler.send_json(200, {"ok": True})
            return True
        if path == "/_sim/delay":
            self.delay_s = int(query.get("ms", "0")) / 1000.0
            handler.send_json(200, {"ok": True})
            return True
        return False


class Handler(BaseHTTPRequestHandler):
    """Base handler: body reading, JSON answers, the control path, fault injection.
    Subclasses implement api_post(path, query, body)."""

    protocol_version = "HTTP/1.1"
    sim = None  # set by serve()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if os.environ.get("SIM_VERBOSE"):
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    def send_json(self, status, obj, headers=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)
        if self.path.startswith("/_sim/"):
            return
        self.sim.count_status(status)

    def read_body(self, limit):
        """The request body, or None after answering 413 when Content-Length exceeds
        `limit` (the body is read and dropped first, so the client sees the answer)."""
        length = int(self.headers.get("Content-Length") or 0)
        if limit is not None and length > limit:
            left = length
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            self.too_large(length, limit)
            return None
        return self.rfile.read(length) if length else b""

    def too_large(self, length, limit):
        self.send_json(413, {"text": "Content-Length of %d too large (maximum is %d)" %
                             (length, limit)})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if not self.sim.control(self, url.path, query):
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if self.sim.control(self, url.path, query):
            return
        if self.sim.delay_s:
            time.sleep(self.sim.delay_s)
        fault = self.sim.take_fault(url.path)
        if fault:
            status, retry_after, body = fault
            self.read_body(None)
            headers = {"Retry-After": retry_after} if retry_after else {}
            self.send_json(status, json.loads(body) if body else self.fault_body(status),
                           headers)
            return
        self.api_post(url.path, query)

    def fault_body(self, status):
        return {"text": "injected fault", "code": status}

    def api_post(self, path, query):
        raise NotImplementedError


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, handler, ctx, sim):
        super().__init__(addr, handler)
        self.ctx = ctx
        self.sim = sim

    def finish_request(self, request, client_address):
        try:
            request = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self.sim.lock:
                self.sim.stats["tls_failures"] += 1
            request.close()
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        # A client closing mid-request (killed, timed out) is normal here.
        pass


def arg_parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--port-file", help="write {\"port\": N} here once listening")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="its private key (PEM)")
    p.add_argument("--record", help="append what is accepted here, one JSON line each")
    return p


def serve(args, handler_cls, sim):
    handler_cls.sim = sim
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    httpd = TlsServer(("127.0.0.1", args.port), handler_cls, ctx, sim)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"port": httpd.server_address[1]}, f)
        os.replace(tmp, args.port_file)
    try:
        httpd.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
