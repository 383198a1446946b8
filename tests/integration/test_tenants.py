"""End-to-end tests of tenants by token (docs/tenants.md): the real binary with a config
holding tenants, driven over HTTP on 127.0.0.1.

- Two tenants push the same metric names through every push protocol and read back
  through every read endpoint family (PromQL instant/range, the seed query API, series,
  labels, label values, metadata, export, remote read, status/tsdb, delete_series): each
  sees only its own series.
- Missing, malformed and wrong credentials answer 401 with WWW-Authenticate and a JSON
  error; basic auth with the token as password works; open paths stay open; route classes
  (admin, tenant "default") answer 403 to other tenants.
- Per-tenant limits on remote_write and the other push paths: series (400 naming the
  limit) and ingestion rate (429 with Retry-After).
- A reload changes a limit and rotates a token; a bad file is refused and the old config
  keeps running.
"""

import base64
import json
import os
import signal
import struct
import tempfile
import time
import unittest
import urllib.parse

import snappy

from vigil_testlib import Server, encode_write_request, _field_bytes, _varint

TOKEN_A = "tok-team-a-5f1c"
TOKEN_B = "tok-team-b-93d0"
TOKEN_OPS = "tok-ops-c0ffee"
TOKEN_SLOW = "tok-slow-77aa"

CONFIG = f"""
limits:
  max_series_per_metric: 1000
tenants:
  - name: team-a
    tokens: ["{TOKEN_A}"]
  - name: team-b
    token_files: [b.token]
    limits: {{max_series: 12}}
  - name: slow
    tokens: ["{TOKEN_SLOW}"]
    limits: {{ingestion_rate: 10, ingestion_burst: 10}}
  - name: ops
    tokens: ["{TOKEN_OPS}"]
    admin: true
"""


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def now_ms():
    return int(time.time() * 1000)


def encode_read_request(name, start_ms, end_ms):
    """A remote read request for {__name__=name} (SAMPLES), snappy-compressed."""
    matcher = _field_bytes(2, b"__name__") + _field_bytes(3, name.encode())  # type EQ = 0
    query = (_varint(1 << 3) + _varint(start_ms) + _varint(2 << 3) + _varint(end_ms)
             + _field_bytes(3, matcher))
    return snappy.compress(_field_bytes(1, query))


class TenantServer(unittest.TestCase):
    """A server with CONFIG; subclasses add tests."""

    EXTRA_ARGS = []

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="vigil-tenants-")
        with open(os.path.join(cls.dir.name, "b.token"), "w") as f:
            f.write(TOKEN_B + "\n")
        cls.config_path = os.path.join(cls.dir.name, "vigil.yml")
        with open(cls.config_path, "w") as f:
            f.write(CONFIG)
        cls.server = Server(data_dir=os.path.join(cls.dir.name, "data"),
                            args=[f"--config.file={cls.config_path}"] + cls.EXTRA_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.dir.cleanup()

    def call(self, method, path, token=None, body=None, headers=None, **params):
        h = dict(headers or {})
        if token is not None:
            h.update(bearer(token))
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        return self.server.request(method, path, body, h)

    def get_json(self, path, token, **params):
        status, body = self.call("GET", path, token, **params)
        self.assertEqual(status, 200, f"{path}: {body[:300]!r}")
        return json.loads(body)

    def remote_write(self, token, series):
        return self.call("POST", "/api/v1/write", token, encode_write_request(series), {
            "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0"})

    def export(self, token, match):
        status, body = self.call("GET", "/api/v1/export", token, **{"match[]": match})
        self.assertEqual(status, 200, body[:300])
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


class TenantIsolationTest(TenantServer):

    def push_everything(self, token, owner):
        """Series `iso_*{owner=<owner>, only_<owner>="1"}` through every push protocol."""
        t = now_ms() - 60_000
        labels = {"owner": owner, f"only_{owner}": "1"}
        status, body = self.remote_write(token, [({"__name__": "iso_rw", **labels},
                                                  [(t, 1.0), (t + 1000, 2.0)])])
        self.assertEqual(status, 204, body)
        text = (f"# HELP iso_text_total Help of {owner}.\n# TYPE iso_text_total counter\n"
                f'iso_text_total{{owner="{owner}",only_{owner}="1"}} 3 {t}\n').encode()
        status, body = self.call("POST", "/api/v1/import/prometheus", token, text)
        self.assertEqual(status, 204, body)
        js = json.dumps([{"name": "iso_json", "labels": labels, "timestamp": t, "value": 4}])
        status, body = self.call("POST", "/ingest/metrics", token, js.encode(),
                                 {"Content-Type": "application/json"})
        self.assertEqual(status, 204, body)
        line = f"iso_influx,owner={owner},only_{owner}=1 value=5 {t * 1_000_000}\n".encode()
        status, body = self.call("POST", "/api/v2/write", token, line)
        self.assertEqual(status, 204, body)
        return t

    def test_every_endpoint_family_sees_only_its_tenant(self):
        t = self.push_everything(TOKEN_A, "a")
        self.push_everything(TOKEN_B, "b")
        names = ["iso_rw", "iso_text_total", "iso_json", "iso_influx_value"]
        for token, own, other in [(TOKEN_A, "a", "b"), (TOKEN_B, "b", "a")]:
            with self.subTest(tenant=own):
                # PromQL instant and range queries.
                q = '{__name__=~"iso_.*"}'
                j = self.get_json("/api/v1/query", token, query=q, time=t / 1000 + 1)
                got = sorted((r["metric"]["__name__"], r["metric"]["owner"]) for r in j["data"]["result"])
                self.assertEqual(got, sorted((n, own) for n in names))
                j = self.get_json("/api/v1/query_range", token, query=f"count({q})",
                                  start=t / 1000, end=t / 1000 + 60, step=15)
                self.assertEqual(float(j["data"]["result"][0]["values"][0][1]), 4.0)
                j = self.get_json("/query/instant", token, expr=f"sum by (owner) ({q})",
                                  time=t / 1000 + 1)
                self.assertNotIn(f'"{other}"', json.dumps(j))
                # Series, label names, label values.
                j = self.get_json("/api/v1/series", token, **{"match[]": q})
                self.assertEqual({s["owner"] for s in j["data"]}, {own})
                self.assertEqual(len(j["data"]), 4)
                j = self.get_json("/api/v1/labels", token)
                self.assertIn(f"only_{own}", j["data"])
                self.assertNotIn(f"only_{other}", j["data"])
                j = self.get_json("/api/v1/label/owner/values", token)
                self.assertEqual(j["data"], [own])
                # Metadata from the text import.
                j = self.get_json("/api/v1/metadata", token, metric="iso_text_total")
                self.assertEqual(j["data"]["iso_text_total"][0]["help"], f"Help of {own}.")
                # Export.
                rows = self.export(token, q)
                self.assertEqual({r["metric"]["owner"] for r in rows}, {own})
                # Remote read.
                status, body = self.call("POST", "/api/v1/read", token,
                                         encode_read_request("iso_rw", t - 1000, t + 5000),
                                         {"Content-Type": "application/x-protobuf",
                                          "Content-Encoding": "snappy",
                                          "X-Prometheus-Remote-Read-Version": "0.1.0"})
                self.assertEqual(status, 200, body[:200])
                raw = snappy.decompress(body)
                self.assertIn(f"only_{own}".encode(), raw)
                self.assertNotIn(f"only_{other}".encode(), raw)
                # Cardinality status.
                j = self.get_json("/api/v1/status/tsdb", token)
                self.assertEqual(j["data"]["headStats"]["numSeries"], 4)

        # delete_series by A removes A's series only.
        status, body = self.call("POST", "/api/v1/admin/tsdb/delete_series", TOKEN_A,
                                 **{"match[]": "iso_json"})
        self.assertEqual(status, 204, body)
        self.assertEqual(self.export(TOKEN_A, "iso_json"), [])
        self.assertEqual(len(self.export(TOKEN_B, "iso_json")), 1)

        # Per-tenant self metrics.
        status, body = self.call("GET", "/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn('vigil_tenant_samples_accepted_total{tenant="team-a"}', text)
        self.assertIn('vigil_tenant_head_series{tenant="team-b"}', text)

    def test_credentials(self):
        # Open paths answer without a token.
        for path in ["/-/healthy", "/-/ready", "/metrics"]:
            self.assertEqual(self.call("GET", path)[0], 200, path)
        # Missing, malformed, wrong: 401 with a challenge and a Prometheus-style error.
        import urllib.request
        cases = [({}, "authentication required"),
                 ({"Authorization": "Bearer nope"}, "invalid token"),
                 ({"Authorization": "Token " + TOKEN_A}, "malformed"),
                 ({"Authorization": "Bearer " + TOKEN_A[:-1]}, "invalid token")]
        for headers, want in cases:
            req = urllib.request.Request(self.server.url + "/api/v1/query?query=1",
                                         headers=headers)
            try:
                urllib.request.urlopen(req, timeout=10)
                self.fail(f"{headers}: no 401")
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, 401)
                self.assertIn('realm="vigil"', e.headers.get("WWW-Authenticate", ""))
                j = json.loads(e.read())
                self.assertEqual(j["status"], "error")
                self.assertEqual(j["errorType"], "unauthorized")
                self.assertIn(want, j["error"])
                self.assertNotIn(TOKEN_A, j["error"])
        # A push without a token stores nothing.
        status, _ = self.remote_write(None, [({"__name__": "anon_push"}, [(now_ms(), 1.0)])])
        self.assertEqual(status, 401)
        for token in (TOKEN_A, TOKEN_B, TOKEN_OPS):
            self.assertEqual(self.export(token, "anon_push"), [])
        # Basic auth with the token as the password (Grafana, remote_write basic_auth).
        basic = base64.b64encode(f"grafana:{TOKEN_B}".encode()).decode()
        status, body = self.server.request("GET", "/api/v1/labels", None,
                                           {"Authorization": f"Basic {basic}"})
        self.assertEqual(status, 200, body)
        # The X-Scope-OrgID header is not accepted unless the config names it.
        status, _ = self.server.request("GET", "/api/v1/labels", None, {"X-Scope-OrgID": "team-a"})
        self.assertEqual(status, 401)
        # Tokens never reach the log.
        log = self.server.log()
        for token in (TOKEN_A, TOKEN_B, TOKEN_OPS, TOKEN_SLOW):
            self.assertNotIn(token, log)

    def test_vigil_query_sends_the_token(self):
        import subprocess
        from vigil_testlib import vigil_bin
        tf = os.path.join(self.dir.name, "query.token")
        with open(tf, "w") as f:
            f.write(TOKEN_A + "\n")
        cmd = [vigil_bin(), "query", "--server", self.server.url, "-o", "json", "vector(7)"]
        env = {k: v for k, v in os.environ.items() if k != "VIGIL_TOKEN"}
        r = subprocess.run(cmd + ["--token-file", tf], capture_output=True, text=True,
                           timeout=30, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"7"', r.stdout)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unauthorized", r.stdout + r.stderr)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           env={**env, "VIGIL_TOKEN": TOKEN_B})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_route_classes(self):
        for path, method in [("/api/v1/admin/tsdb/snapshot", "POST"), ("/-/reload", "POST"),
                             ("/api/v1/status/config", "GET"), ("/api/v1/rules", "GET"),
                             ("/api/v1/alerts", "GET"), ("/api/v1/targets", "GET"),
                             ("/api/v2/silences", "GET")]:
            status, body = self.call(method, path, TOKEN_A)
            self.assertEqual(status, 403, f"{path}: {body[:200]!r}")
            self.assertEqual(json.loads(body)["errorType"], "forbidden")
        for path in ["/api/v1/rules", "/api/v1/alerts", "/api/v1/targets", "/api/v2/silences"]:
            self.assertEqual(self.call("GET", path, TOKEN_OPS)[0], 200, path)
        j = self.get_json("/api/v1/status/config", TOKEN_OPS)
        yaml = j["data"]["yaml"]
        self.assertIn("team-a", yaml)
        self.assertIn("<secret>", yaml)
        for token in (TOKEN_A, TOKEN_OPS, TOKEN_SLOW):
            self.assertNotIn(token, yaml)

    def test_series_limit_per_tenant(self):
        # team-b may hold 12 series in all (4 may come from the isolation test).
        t = now_ms()
        series = [({"__name__": "lim_b", "i": str(i)}, [(t, 1.0)]) for i in range(20)]
        status, body = self.remote_write(TOKEN_B, series)
        self.assertEqual(status, 400, body)
        msg = body.decode()
        self.assertIn("max_series_per_tenant", msg)
        self.assertIn('tenant "team-b"', msg)
        stored = self.export(TOKEN_B, "lim_b")
        self.assertGreaterEqual(len(stored), 8)
        self.assertLess(len(stored), 20)
        # Existing series keep being accepted.
        kept = [({"__name__": "lim_b", "i": r["metric"]["i"]}, [(t + 1000, 2.0)]) for r in stored]
        self.assertEqual(self.remote_write(TOKEN_B, kept)[0], 204)
        # team-a has no such limit.
        self.assertEqual(self.remote_write(TOKEN_A, [(s[0], s[1]) for s in series])[0], 204)
        self.assertEqual(len(self.export(TOKEN_A, "lim_b")), 20)

    def test_ingestion_rate_per_tenant_on_every_push_path(self):
        t = now_ms()
        # 30 samples against a bucket of 10: admitted (the bucket goes into debt) ...
        big = [({"__name__": "rate_s", "i": str(i)}, [(t, 1.0)]) for i in range(30)]
        self.assertEqual(self.remote_write(TOKEN_SLOW, big)[0], 204)
        # ... then refused with 429 and Retry-After until the debt is paid, on remote_write
        # and on the other push endpoints alike.
        status, body = self.remote_write(TOKEN_SLOW, [({"__name__": "rate_s2"}, [(t, 1.0)])])
        self.assertEqual(status, 429, body)
        self.assertIn("rate limit of 10 samples/s", body.decode())
        js = json.dumps([{"name": "rate_json", "labels": {}, "timestamp": t, "value": 1}]).encode()
        import urllib.request
        req = urllib.request.Request(self.server.url + "/ingest/metrics", data=js, method="POST",
                                     headers={**bearer(TOKEN_SLOW), "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
            self.fail("no 429")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 429)
            self.assertGreaterEqual(int(e.headers["Retry-After"]), 1)
        # Another tenant is not slowed down.
        self.assertEqual(self.remote_write(TOKEN_A, [({"__name__": "rate_s2"}, [(t, 1.0)])])[0], 204)
        status, body = self.call("GET", "/metrics")
        self.assertIn('vigil_tenant_requests_refused_total{tenant="slow",reason="rate_limited"}',
                      body.decode())


class TenantReloadTest(TenantServer):

    # The self-scrape job must survive reloads (it is not in the file).
    EXTRA_ARGS = ["--self-scrape.interval=1s"]

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def reload(self, token=TOKEN_OPS):
        return self.call("POST", "/-/reload", token)

    def wait_log(self, needle, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.server.log():
                return
            time.sleep(0.1)
        self.fail(f"{needle!r} not in log:\n{self.server.log()[-3000:]}")

    def test_reload_changes_a_limit_and_rotates_a_token(self):
        t = now_ms()
        series = [({"__name__": "reload_m", "i": str(i)}, [(t, 1.0)]) for i in range(20)]
        status, _ = self.remote_write(TOKEN_B, series)
        self.assertEqual(status, 400)  # max_series 12
        self.assertEqual(len(self.export(TOKEN_B, "reload_m")), 12)

        # A bad file is refused with the reason; the running config stays.
        self.write_config(CONFIG.replace("max_series: 12", "max_series: lots"))
        status, body = self.reload()
        self.assertEqual(status, 500)
        self.assertIn("max_series must be a whole number", body.decode())
        self.wait_log("reload refused, keeping the running configuration")
        self.assertEqual(self.remote_write(TOKEN_B, series)[0], 400)

        # Raise team-b's limit and rotate team-a's token.
        new_a = "tok-team-a-rotated"
        self.write_config(CONFIG.replace("max_series: 12", "max_series: 100")
                          .replace(TOKEN_A, new_a))
        status, body = self.reload()
        self.assertEqual(status, 200, body)
        self.wait_log('config change: tenant "team-b" limits.max_series: 12 -> 100')
        self.wait_log('config change: tenant "team-a": tokens changed')
        self.assertEqual(self.remote_write(TOKEN_B, series)[0], 204)
        self.assertEqual(len(self.export(TOKEN_B, "reload_m")), 20)
        self.assertEqual(self.call("GET", "/api/v1/labels", TOKEN_A)[0], 401)
        self.assertEqual(self.call("GET", "/api/v1/labels", new_a)[0], 200)
        self.assertNotIn(new_a, self.server.log())

        # SIGHUP reloads too: lower the limit again, which keeps existing series.
        self.write_config(CONFIG.replace("max_series: 12", "max_series: 5").replace(TOKEN_A, new_a))
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_log('limits.max_series: 100 -> 5')
        kept = [({"__name__": "reload_m", "i": str(i)}, [(t + 1000, 2.0)]) for i in range(20)]
        self.assertEqual(self.remote_write(TOKEN_B, kept)[0], 204)
        status, body = self.remote_write(TOKEN_B, [({"__name__": "reload_new"}, [(t, 1.0)])])
        self.assertEqual(status, 400, body)

        j = self.get_json("/api/v1/targets", TOKEN_OPS)
        self.assertEqual([t["scrapePool"] for t in j["data"]["activeTargets"]], ["vigil"])

        # Removing every tenant turns authentication off: everything is tenant "default".
        self.write_config("")
        self.assertEqual(self.reload()[0], 200)
        self.wait_log("tenants removed")
        self.assertEqual(self.call("GET", "/api/v1/labels")[0], 200)
        self.assertEqual(self.export(None, "reload_m"), [])

        status, body = self.call("GET", "/metrics")
        text = body.decode()
        self.assertIn('vigil_config_reloads_total{result="failure"} 1', text)
        self.assertIn("vigil_config_last_reload_successful 1", text)


if __name__ == "__main__":
    unittest.main()
