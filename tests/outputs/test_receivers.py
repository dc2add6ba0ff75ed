#!/usr/bin/python3
"""The test receivers themselves: the HEC and Sentinel simulators answer as the real
services document (a simulator that accepted anything would make the outputs' tests
worthless), and the ClickHouse harness starts a server that takes a JSONEachRow insert
and a user with a password."""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receivers  # noqa: E402

GEN_CERTS = os.environ.get("PODSIM_GEN_CERTS", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "podsim", "gen-certs.sh"))
CHANNEL = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def make_certs(d):
    subprocess.run(["bash", GEN_CERTS, d], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return d


def make_expired_cert(certdir, out):
    """A server certificate for 127.0.0.1 signed by certdir's test CA that expired
    yesterday (gen-certs.sh makes only current ones); writes out/server.pem and
    out/server.key, and returns out."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    with open(os.path.join(certdir, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(certdir, "ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "server.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(out, "server.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    shutil.copy(os.path.join(certdir, "ca.pem"), os.path.join(out, "ca.pem"))
    return out


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ps-recv-")
        self.certs = make_certs(os.path.join(self.dir, "certs"))
        self.sims = []

    def tearDown(self):
        for s in self.sims:
            s.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class HecTests(Base):
    TOKEN = "11111111-2222-3333-4444-555555555555"

    def hec(self, **kw):
        s = receivers.HecReceiver(os.path.join(self.dir, "hec"), self.certs, self.TOKEN, **kw)
        self.sims.append(s)
        return s

    def post(self, s, body, token=None, path="/services/collector/event", **params):
        hdrs = {"Authorization": "Splunk " + (token or self.TOKEN)}
        if token == "":
            hdrs = {}
        return s.request("POST", path, body=body, headers=hdrs, **params)

    def test_auth_and_batches(self):
        s = self.hec(indexes="main,pps")
        self.assertEqual(self.post(s, b'{"event":1}', token="")[0:3:2],
                         (401, {"text": "Token is required", "code": 2}))
        st, _, b = s.request("POST", "/services/collector/event", body=b'{"event":1}',
                             headers={"Authorization": "Bearer " + self.TOKEN})
        self.assertEqual((st, b["code"]), (401, 3))
        self.assertEqual(self.post(s, b'{"event":1}', token="nope")[2]["code"], 4)
        st, _, b = self.post(s, b'{"event":{"a":1},"sourcetype":"pps_messagelog"}\n'
                                b'{"event":{"a":2},"index":"pps"}')
        self.assertEqual((st, b), (200, {"text": "Success", "code": 0}))
        self.assertEqual([r["event"]["a"] for r in s.records()], [1, 2])

    def test_bad_bodies_index_nothing(self):
        s = self.hec()
        cases = [(b"", 5), (b'{"event":1}{"event":', 6), (b'{"event":1}{"time":2}', 12),
                 (b'{"event":""}', 13), (b'[{"event":1}]', 6),
                 (b'{"event":1}{"event":2,"index":"secret"}', 7)]
        for body, code in cases:
            st, _, b = self.post(s, body)
            self.assertEqual((st, b["code"]), (400, code), body)
        self.assertEqual(s.records(), [])
        self.assertEqual(self.post(s, b'{"event":1}{"time":2}')[2]["invalid-event-number"], 1)

    def test_max_content_length(self):
        s = self.hec(max_content_length=1000)
        st, _, _ = self.post(s, b'{"event":"%s"}' % (b"x" * 1000))
        self.assertEqual(st, 413)
        self.assertEqual(s.records(), [])

    def test_busy_fault(self):
        s = self.hec()
        s.fault(503, count=2, path="/services/collector/event")
        self.assertEqual(self.post(s, b'{"event":1}')[0:3:2],
                         (503, {"text": "Server is busy", "code": 9}))
        self.assertEqual(self.post(s, b'{"event":1}')[0], 503)
        self.assertEqual(self.post(s, b'{"event":1}')[0], 200)
        self.assertEqual(len(s.records()), 1)

    def test_acks(self):
        s = self.hec(ack=True, ack_delay=0.5)
        self.assertEqual(self.post(s, b'{"event":1}')[2]["code"], 10)
        self.assertEqual(self.post(s, b'{"event":1}', channel="not-a-guid")[2]["code"], 11)
        st, _, b = self.post(s, b'{"event":1}', channel=CHANNEL)
        self.assertEqual((st, b["ackId"]), (200, 0))
        self.assertEqual(self.post(s, b'{"event":2}', channel=CHANNEL)[2]["ackId"], 1)
        ack = json.dumps({"acks": [0, 1]}).encode()
        path = "/services/collector/ack"
        self.assertEqual(self.post(s, ack, path=path, channel=CHANNEL)[2],
                         {"acks": {"0": False, "1": False}})
        self.assertEqual(s.records(), [])
        receivers.wait_until(
            lambda: self.post(s, ack, path=path, channel=CHANNEL)[2]["acks"] ==
            {"0": True, "1": True}, 5, "acks")
        self.assertEqual(len(s.records()), 2)
        # Lost before indexing: the ackId never turns true.
        self.post(s, b'{"event":3}', channel=CHANNEL)
        s.request("POST", "/_sim/lose_pending")
        time.sleep(0.8)
        self.assertEqual(self.post(s, b'{"acks":[2]}', path=path, channel=CHANNEL)[2],
                         {"acks": {"2": False}})
        self.assertEqual(len(s.records()), 2)

    def test_ack_disabled(self):
        s = self.hec()
        st, _, b = self.post(s, b'{"acks":[0]}', path="/services/collector/ack", channel=CHANNEL)
        self.assertEqual((st, b["code"]), (400, 14))


class SentinelTests(Base):
    DCR = "dcr-00112233445566778899aabbccddeeff"
    STREAM = "Custom-PodEvents"

    def sim(self, **kw):
        s = receivers.SentinelReceiver(os.path.join(self.dir, "az"), self.certs, "tenant-1",
                                       "client-1", "s3cret", self.DCR, self.STREAM, **kw)
        self.sims.append(s)
        return s

    def token(self, s, secret="s3cret", **over):
        form = {"grant_type": "client_credentials", "client_id": "client-1",
                "client_secret": secret, "scope": "https://monitor.azure.com//.default"}
        form.update(over)
        return s.request("POST", "/tenant-1/oauth2/v2.0/token",
                         body=urllib.parse.urlencode(form).encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})

    def ingest(self, s, tok, body, gz=False, dcr=None, **params):
        hdrs = {"Content-Type": "application/json"}
        if tok:
            hdrs["Authorization"] = "Bearer " + tok
        if gz:
            hdrs["Content-Encoding"] = "gzip"
            body = gzip.compress(body)
        params.setdefault("api-version", "2023-01-01")
        return s.request("POST", "/dataCollectionRules/%s/streams/%s" % (dcr or self.DCR,
                                                                         self.STREAM),
                         body=body, headers=hdrs, **params)

    def test_token_flow(self):
        s = self.sim()
        st, _, b = self.token(s, secret="wrong")
        self.assertEqual((st, b["error"]), (401, "invalid_client"))
        self.assertIn("AADSTS7000215", b["error_description"])
        self.assertEqual(self.token(s, client_id="other")[2]["error"], "unauthorized_client")
        self.assertEqual(self.token(s, scope="https://x/.default")[2]["error"], "invalid_scope")
        self.assertEqual(self.token(s, grant_type="password")[2]["error"],
                         "unsupported_grant_type")
        st, _, b = self.token(s)
        self.assertEqual((st, b["token_type"]), (200, "Bearer"))
        self.assertGreater(b["expires_in"], 0)

    def test_ingest(self):
        s = self.sim()
        tok = self.token(s)[2]["access_token"]
        self.assertEqual(self.ingest(s, None, b"[]")[0], 401)
        self.assertEqual(self.ingest(s, "forged", b"[]")[0], 401)
        self.assertEqual(self.ingest(s, tok, b"[]", **{"api-version": "2021-11-01-preview"})[0],
                         400)
        self.assertEqual(self.ingest(s, tok, b"[]", dcr="dcr-other")[0], 404)
        self.assertEqual(self.ingest(s, tok, b'{"a":1}')[2]["error"]["code"], "InvalidPayload")
        self.assertEqual(self.ingest(s, tok, b'[{"a":1},{"a":2}]')[0], 204)
        self.assertEqual(self.ingest(s, tok, b'[{"a":3}]', gz=True)[0], 204)
        self.assertEqual([r["a"] for r in s.records()], [1, 2, 3])
        self.assertEqual(s.stats()["gzip_requests"], 1)

    def test_limits_and_throttling(self):
        s = self.sim()
        tok = self.token(s)[2]["access_token"]
        big = json.dumps([{"x": "y" * 1048576}]).encode()
        st, _, b = self.ingest(s, tok, big)
        self.assertEqual((st, b["error"]["code"]), (413, "ContentLengthLimitExceeded"))
        # Compressed it is tiny, but the limit is on the data too.
        self.assertEqual(self.ingest(s, tok, big, gz=True)[0], 413)
        s.fault(429, count=1, retry_after=2, path="/dataCollectionRules")
        st, hdrs, b = self.ingest(s, tok, b'[{"a":1}]')
        self.assertEqual((st, hdrs.get("Retry-After"), b["error"]["code"]),
                         (429, "2", "TooManyRequests"))
        self.assertEqual(s.records(), [])

    def test_expiry(self):
        s = self.sim(token_lifetime=1)
        tok = self.token(s)[2]["access_token"]
        self.assertEqual(self.ingest(s, tok, b'[{"a":1}]')[0], 204)
        time.sleep(1.2)
        st, _, b = self.ingest(s, tok, b'[{"a":2}]')
        self.assertEqual(st, 401)
        self.assertIn("expired", b["error"]["message"])


@unittest.skipUnless(os.path.exists(receivers.CLICKHOUSE), "clickhouse-server not installed")
class ClickHouseTests(unittest.TestCase):
    def test_start_insert_restart(self):
        d = tempfile.mkdtemp(prefix="ps-ch-")
        ch = receivers.ClickHouse(d).start()
        try:
            ch.query("CREATE TABLE t (k String, v UInt64) ENGINE = ReplacingMergeTree "
                     "ORDER BY k")
            ch.query('INSERT INTO t FORMAT JSONEachRow {"k":"a","v":1} {"k":"a","v":1}')
            self.assertEqual(ch.query("SELECT count() FROM t FINAL").strip(), "1")
            self.assertEqual(ch.query("SELECT 1", user=ch.user, password=ch.password).strip(),
                             "1")
            with self.assertRaises(OSError):
                ch.query("SELECT 1", user=ch.user, password="wrong")
            ch.kill()
            ch.start()
            self.assertEqual(ch.query("SELECT count() FROM t FINAL").strip(), "1")
        finally:
            ch.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
