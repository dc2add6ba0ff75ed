#!/usr/bin/python3
"""A Microsoft Sentinel / Azure Monitor Logs Ingestion API simulator for podstream's
tests: no Azure can run here, so this enforces what Microsoft documents for the Logs
Ingestion API (api-version 2023-01-01) and the Entra ID client-credentials flow, on one
HTTPS port, and records every record it ingested, one JSON line each, in --record.

  POST /{tenant}/oauth2/v2.0/token      (Entra ID; application/x-www-form-urlencoded)
      grant_type=client_credentials, client_id, client_secret,
      scope=https://monitor.azure.com//.default
      200 {"token_type": "Bearer", "expires_in": N, "ext_expires_in": N, "access_token": T}
      400 invalid_request (unknown tenant, missing field), unsupported_grant_type,
      invalid_scope, unauthorized_client (unknown client id);
      401 invalid_client (wrong secret, AADSTS7000215).
  POST /dataCollectionRules/{DCR immutable id}/streams/{stream}?api-version=2023-01-01
      (the Data Collection Endpoint's path) Authorization: Bearer T,
      Content-Type: application/json, optional Content-Encoding: gzip;
      body: a JSON array of objects.
      204 success; 400 InvalidApiVersion / InvalidContentType / InvalidPayload;
      401 InvalidToken (missing, unknown or expired token); 404 NotFound (unknown DCR or
      stream); 413 ContentLengthLimitExceeded when the body, or its decompressed form, is
      over 1 MB (1,048,576 bytes); 429 TooManyRequests with Retry-After (injected);
      503 ServiceUnavailable (injected). A rejected request ingests nothing.

Control (not Azure): GET /_sim/stats; POST /_sim/fault?status=429&count=N&retry_after=S
[&path=/dataCollectionRules]; POST /_sim/secret?value=S (the secret accepted from now
on); POST /_sim/expire (every token issued so far expires now)."""

import gzip
import json
import secrets
import sys
import time
import urllib.parse
import zlib

import simlib

LIMIT = 1048576
SCOPES = ("https://monitor.azure.com//.default", "https://monitor.azure.com/.default")


def az_error(status, code, message):
    return status, {"error": {"code": code, "message": message}}


def entra_error(status, error, aadsts, text):
    return status, {"error": error, "error_description": "%s: %s" % (aadsts, text),
                    "error_codes": [int(aadsts[6:])]}


class SentinelSim(simlib.Sim):
    def __init__(self, args):
        super().__init__(args.record)
        self.tenant = args.tenant
        self.client_id = args.client_id
        self.secret = args.client_secret
        self.dcr = args.dcr
        self.streams = set(args.stream.split(","))
        self.lifetime = args.token_lifetime
        self.tokens = {}  # token -> expiry (monotonic)
        self.stats.update({"tokens_issued": 0, "gzip_requests": 0, "expired_tokens_seen": 0})

    def control(self, handler, path, query):
        if path == "/_sim/secret":
            self.secret = query["value"]
            handler.send_json(200, {"ok": True})
            return True
        if path == "/_sim/expire":
            with self.lock:
                for t in self.tokens:
                    self.tokens[t] = 0
            handler.send_json(200, {"ok": True})
            return True
        return super().control(handler, path, query)

    def issue(self, form):
        """Answers the token endpoint's form."""
        def one(name):
            v = form.get(name)
            return v[0] if v else None
        if one("grant_type") is None:
            return entra_error(400, "invalid_request", "AADSTS900144",
                               "The request body must contain the following parameter: "
                               "'grant_type'.")
        if one("grant_type") != "client_credentials":
            return entra_error(400, "unsupported_grant_type", "AADSTS70003",
                               "The app requested an unsupported grant type.")
        if one("client_id") != self.client_id:
            return entra_error(400, "unauthorized_client", "AADSTS700016",
                               "Application with identifier was not found in the directory.")
        if one("scope") not in SCOPES:
            return entra_error(400, "invalid_scope", "AADSTS70011",
                               "The provided request must include a 'scope' input parameter.")
        if one("client_secret") != self.secret:
            return entra_error(401, "invalid_client", "AADSTS7000215",
                               "Invalid client secret provided. Ensure the secret being sent "
                               "in the request is the client secret value, not the client "
                               "secret ID.")
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.lifetime
            self.stats["tokens_issued"] += 1
        return 200, {"token_type": "Bearer", "expires_in": self.lifetime,
                     "ext_expires_in": self.lifetime, "access_token": token}

    def check_token(self, header):
        if not header or not header.startswith("Bearer "):
            return az_error(401, "InvalidToken", "Authorization header with a bearer token is "
                            "required.")
        with self.lock:
            expiry = self.tokens.get(header[7:].strip())
            if expiry is not None and expiry <= time.monotonic():
                self.stats["expired_tokens_seen"] += 1
        if expiry is None:
            return az_error(401, "InvalidToken", "The provided token is not valid.")
        if expiry <= time.monotonic():
            return az_error(401, "InvalidToken", "The provided token has expired.")
        return None


class SentinelHandler(simlib.Handler):
    def fault_body(self, status):
        if status == 429:
            return {"error": {"code": "TooManyRequests",
                              "message": "Too many requests. Retry after the time given."}}
        if status == 503:
            return {"error": {"code": "ServiceUnavailable", "message": "Service unavailable."}}
        return super().fault_body(status)

    def api_post(self, path, query):
        sim = self.sim
        if path == "/%s/oauth2/v2.0/token" % sim.tenant:
            body = self.read_body(65536)
            if body is None:
                return
            self.send_json(*sim.issue(urllib.parse.parse_qs(body.decode("utf-8", "replace"))))
            return
        if path.endswith("/oauth2/v2.0/token"):
            self.read_body(65536)
            self.send_json(*entra_error(400, "invalid_request", "AADSTS90002",
                                        "Tenant not found."))
            return
        body = self.read_body(LIMIT)
        if body is None:
            return
        err = self.ingest(path, query, body)
        if err:
            self.send_json(*err)
        else:
            self.send_json(204, None)

    def too_large(self, length, limit):
        self.send_json(*az_error(413, "ContentLengthLimitExceeded",
                                 "Maximum allowed content length: %d bytes (1 MB). Provided "
                                 "content length: %d bytes." % (limit, length)))

    def ingest(self, path, query, body):
        sim = self.sim
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "dataCollectionRules" or parts[2] != "streams":
            return az_error(404, "NotFound", "The requested resource was not found.")
        if query.get("api-version") != "2023-01-01":
            return az_error(400, "InvalidApiVersion", "The api-version query parameter is "
                            "missing or not supported.")
        err = sim.check_token(self.headers.get("Authorization"))
        if err:
            return err
        if parts[1] != sim.dcr or parts[3] not in sim.streams:
            return az_error(404, "NotFound", "Data collection rule or stream not found.")
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return az_error(400, "InvalidContentType", "Content-Type must be application/json.")
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            with sim.lock:
                sim.stats["gzip_requests"] += 1
            try:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                body = d.decompress(body, LIMIT + 1)
            except (zlib.error, gzip.BadGzipFile):
                return az_error(400, "InvalidPayload", "The gzip content could not be read.")
            if len(body) > LIMIT or d.unconsumed_tail:
                return az_error(413, "ContentLengthLimitExceeded",
                                "Maximum allowed content length: %d bytes (1 MB), "
                                "uncompressed." % LIMIT)
        try:
            records = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return az_error(400, "InvalidPayload", "The payload is not valid JSON.")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return az_error(400, "InvalidPayload", "The payload must be a JSON array of "
                            "objects.")
        sim.accept(records)
        return None


def main():
    p = simlib.arg_parser("Logs Ingestion API + Entra ID token simulator (tests only)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--dcr", required=True, help="the DCR's immutable id (dcr-...)")
    p.add_argument("--stream", required=True, help="stream name(s), comma-separated")
    p.add_argument("--token-lifetime", type=int, default=3599, help="seconds")
    args = p.parse_args()
    simlib.serve(args, SentinelHandler, SentinelSim(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
