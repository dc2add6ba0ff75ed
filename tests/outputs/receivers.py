"""The receivers the HTTP outputs' tests deliver to, each started on 127.0.0.1 on free
ports in a directory of its own and stopped by the test: the Splunk HEC and Sentinel
simulators of this folder (over TLS with a test CA) and a real clickhouse-server.

Usage from a test:
    hec = HecReceiver(workdir, certdir, token="...", ack=True)
    hec.request("POST", "/_sim/fault", status=503, count=2)
    hec.records()   # every event it indexed, in order
    hec.stop()
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
CLICKHOUSE = shutil.which("clickhouse-server") or "/usr/bin/clickhouse-server"
CLICKHOUSE_CONFIG = "/etc/clickhouse-server/config.xml"


# The integration tests' waiting and port helpers, one copy for both test trees.
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import free_port, stop_process, wait_for as wait_until  # noqa: E402,F401


class _Sim:
    """One simulator process: its port, its record file, its control path."""

    script = None

    def __init__(self, workdir, certdir, args):
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        self.ca = os.path.join(certdir, "ca.pem")
        self.record = os.path.join(workdir, "record.jsonl")
        port_file = os.path.join(workdir, "port")
        self.args = [PYTHON, os.path.join(HERE, self.script),
                     "--cert", os.path.join(certdir, "server.pem"),
                     "--key", os.path.join(certdir, "server.key"),
                     "--record", self.record, "--port-file", port_file] + list(args)
        self.port_file = port_file
        self.port = 0
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.start()

    def start(self):
        """Starts the simulator; again after kill() or stop() on the same port, as a
        restarted server comes back (its faults and counters start afresh, the record
        file is kept)."""
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log = open(os.path.join(self.workdir, "sim.log"), "a")
        self.proc = subprocess.Popen(self.args + ["--port", str(self.port)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.port = wait_until(lambda: self._port(self.port_file), 15,
                               self.script + " to listen")
        return self

    @staticmethod
    def _port(path):
        try:
            with open(path) as f:
                return json.load(f)["port"]
        except (OSError, ValueError, KeyError):
            return None

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def request(self, method, path, body=None, headers=None, query=None, **params):
        """(status, headers, parsed JSON or None) for one request to the simulator;
        the query string from `query` (a dict) and keyword arguments."""
        q = urllib.parse.urlencode(dict(query or {}, **params))
        url = self.url + path + ("?" + q if q else "")
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
                status, hdrs, raw = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, dict(e.headers), e.read()
        return status, hdrs, (json.loads(raw) if raw else None)

    def stats(self):
        return self.request("GET", "/_sim/stats")[2]

    def fault(self, status, count=1, retry_after=None, path="/"):
        params = {"status": status, "count": count, "path": path}
        if retry_after is not None:
            params["retry_after"] = retry_after
        self.request("POST", "/_sim/fault", query=params)

    def records(self):
        try:
            with open(self.record, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        # Read while the simulator writes: a last line without its newline is not whole.
        return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]

    def stop(self):
        stop_process(self.proc)
        self.log.close()

    def use_certs(self, certdir):
        """Serves the certificate of `certdir` (gen-certs.sh's) from the next start()."""
        self.args[self.args.index("--cert") + 1] = os.path.join(certdir, "server.pem")
        self.args[self.args.index("--key") + 1] = os.path.join(certdir, "server.key")
        self.ca = os.path.join(certdir, "ca.pem")
        self.ctx = ssl.create_default_context(cafile=self.ca)

    def kill(self):
        """kill -9, as a crash would: what it accepted is recorded, nothing else is."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.log.close()


class HecReceiver(_Sim):
    script = "sim_hec.py"

    def __init__(self, workdir, certdir, token, ack=False, ack_delay=0.5, indexes="main",
                 max_content_length=None):
        args = ["--token", token, "--indexes", indexes, "--ack-delay", str(ack_delay)]
        if ack:
            args.append("--ack")
        if max_content_length:
            args += ["--max-content-length", str(max_content_length)]
        super().__init__(workdir, certdir, args)


class SentinelReceiver(_Sim):
    script = "sim_sentinel.py"

    def __init__(self, workdir, certdir, tenant, client_id, secret, dcr, stream,
                 token_lifetime=3599):
        self.tenant = tenant
        super().__init__(workdir, certdir, [
            "--tenant", tenant, "--client-id", client_id, "--client-secret", secret,
            "--dcr", dcr, "--stream", stream, "--token-lifetime", str(token_lifetime)])


_USERS_XML = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile><quota>default</quota>
        </default>
        <%(user)s>
            <password>%(password)s</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile><quota>default</quota>
        </%(user)s>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"""


class ClickHouse:
    """A real clickhouse-server (Debian 12: 18.16) as an ordinary process, with a user
    `user`/`password` besides `default`. start() may be called again after kill() or
    stop(): the data directory stays. With `tls_dir` (a gen-certs.sh directory) it also
    serves HTTPS with that server certificate, and `url` is the HTTPS one; the tests'
    own queries keep to plain HTTP. Set `tls_dir` before a start() to change it."""

    def __init__(self, workdir, user="podstream", password="ch-secret-9f2e", tls_dir=None):
        self.dir = workdir
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.user = user
        self.password = password
        self.users_xml = os.path.join(self.dir, "users.xml")
        with open(self.users_xml, "w") as f:
            f.write(_USERS_XML % {"user": user, "password": password})
        self.http_port = free_port()
        self.https_port = free_port()
        self.tls_dir = tls_dir
        self.ports = [free_port() for _ in range(2)]
        self.proc = None
        self.log = None

    def start(self, timeout=60):
        d = os.path.join(self.dir, "data") + "/"
        cmd = [CLICKHOUSE, "--config-file=" + CLICKHOUSE_CONFIG, "--",
               "--path=" + d, "--tmp_path=" + d + "tmp/",
               "--user_files_path=" + d + "user_files/", "--format_schema_path=" + d + "fs/",
               "--users_config=" + self.users_xml,
               "--http_port=%d" % self.http_port, "--tcp_port=%d" % self.ports[0],
               "--interserver_http_port=%d" % self.ports[1],
               "--logger.log=" + os.path.join(self.dir, "server.log"),
               "--logger.errorlog=" + os.path.join(self.dir, "server.err"),
               "--logger.console=0"]
        if self.tls_dir:
            # The openSSL section of the Debian config.xml names files in /etc; no
            # DH parameters file is needed for the test CA's EC key.
            cmd += ["--https_port=%d" % self.https_port,
                    "--openSSL.server.certificateFile=" + os.path.join(self.tls_dir,
                                                                        "server.pem"),
                    "--openSSL.server.privateKeyFile=" + os.path.join(self.tls_dir,
                                                                       "server.key"),
                    "--openSSL.server.dhParamsFile="]
        self.log = open(os.path.join(self.dir, "stdout.log"), "a")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("clickhouse-server exited with %d; see %s" %
                                     (self.proc.returncode, self.dir))
            try:
                return self.query("SELECT version()").strip()
            except OSError:
                return None
        self.version = wait_until(ready, timeout, "clickhouse-server to answer", 0.2)
        return self

    @property
    def url(self):
        if self.tls_dir:
            return "https://127.0.0.1:%d" % self.https_port
        return "http://127.0.0.1:%d" % self.http_port

    def query(self, sql, user=None, password=None):
        """The text answer of one query over the HTTP interface (as `default`)."""
        req = urllib.request.Request("http://127.0.0.1:%d/" % self.http_port, data=sql.encode(),
                                     method="POST")
        if user:
            req.add_header("X-ClickHouse-User", user)
            req.add_header("X-ClickHouse-Key", password or "")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def rows(self, sql):
        """JSONEachRow rows of a SELECT, as dicts."""
        text = self.query(sql + " FORMAT JSONEachRow")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def kill(self):
        """kill -9, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.log:
            self.log.close()

    def stop(self):
        stop_process(self.proc, 30)
        if self.log:
            self.log.close()


if __name__ == "__main__":
    # A manual check: start a ClickHouse, print its version, stop it.
    import tempfile
    ch = ClickHouse(tempfile.mkdtemp(prefix="ps-ch-")).start()
    print("clickhouse-server", ch.version, "on", ch.url)
    ch.stop()
    sys.exit(0)
