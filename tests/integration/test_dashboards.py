"""End-to-end tests of the web UI's server side: the embedded UI under /ui/ and the
dashboards API (docs/api/dashboards.md), against the real binary on 127.0.0.1.

Run: /usr/bin/python3 -m unittest tests/integration/test_dashboards.py
"""

import gzip
import http.client
import json
import re
import time
import unittest

from vigil_testlib import Server


def raw(server, method, path, body=None, headers=None):
    """One request without following redirects: (status, headers dict lower-cased, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def api(server, method, path, doc=None):
    body = json.dumps(doc).encode() if doc is not None else None
    status, _, data = raw(server, method, path, body, {"Content-Type": "application/json"})
    return status, json.loads(data)


class DashboardsApiTest(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.cleanup()

    def test_create_list_conflict_restart(self):
        s = self.server
        status, body = api(s, "GET", "/api/v1/dashboards")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "success")
        self.assertEqual([d["uid"] for d in body["data"]], ["vigil-overview"])
        self.assertIn("built-in", body["data"][0]["tags"])

        doc = {"title": "Web servers", "tags": ["web"], "time": {"from": "now-6h", "to": "now"},
               "refresh": "", "variables": [],
               "panels": [{"id": 1, "type": "timeseries", "title": "Requests",
                           "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                           "targets": [{"expr": "rate(http_requests_total[5m])",
                                        "legendFormat": "{{instance}}"}],
                           "unit": "reqps", "stacked": False, "decimals": None}]}
        status, body = api(s, "POST", "/api/v1/dashboards", doc)
        self.assertEqual(status, 200, body)
        uid = body["data"]["uid"]
        self.assertRegex(uid, r"^[A-Za-z0-9_-]{1,64}$")
        self.assertEqual(body["data"]["version"], 1)

        status, body = api(s, "GET", "/api/v1/dashboards")
        self.assertEqual([d["title"] for d in body["data"]], ["Vigil overview", "Web servers"])
        listed = body["data"][1]
        self.assertEqual((listed["uid"], listed["tags"], listed["version"]), (uid, ["web"], 1))
        self.assertRegex(listed["updated"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        # Two editors load version 1; the first save wins, the second is told.
        status, got = api(s, "GET", f"/api/v1/dashboards/{uid}")
        self.assertEqual(status, 200)
        mine = got["data"]
        self.assertEqual(mine["panels"], doc["panels"])
        self.assertEqual(mine["version"], 1)
        theirs = dict(mine, title="Web servers (theirs)")
        status, body = api(s, "PUT", f"/api/v1/dashboards/{uid}", theirs)
        self.assertEqual((status, body["data"]), (200, {"uid": uid, "version": 2}))
        mine["title"] = "Web servers (mine)"
        status, body = api(s, "PUT", f"/api/v1/dashboards/{uid}", mine)
        self.assertEqual(status, 409, body)
        self.assertEqual(body["status"], "error")
        self.assertIn("version 2", body["error"])

        status, _ = api(s, "DELETE", "/api/v1/dashboards/vigil-overview")
        self.assertEqual(status, 200)

        s.stop()
        s.start()
        status, body = api(s, "GET", "/api/v1/dashboards")
        self.assertEqual(status, 200)
        # Found again at its version; the deleted built-in is not seeded again.
        self.assertEqual([(d["uid"], d["title"], d["version"]) for d in body["data"]],
                         [(uid, "Web servers (theirs)", 2)])
        status, got = api(s, "GET", f"/api/v1/dashboards/{uid}")
        self.assertEqual(got["data"]["panels"], doc["panels"])
        self.assertEqual(got["data"]["time"], doc["time"])
        mine["version"] = 2
        status, body = api(s, "PUT", f"/api/v1/dashboards/{uid}", mine)
        self.assertEqual((status, body["data"]["version"]), (200, 3))

        log = s.log()
        self.assertRegex(log, rf"audit: dashboard {uid} created \(version 1\) by 127\.0\.0\.1:\d+")
        self.assertRegex(log, rf"audit: dashboard {uid} updated \(version 2\) by 127\.0\.0\.1:\d+")
        self.assertRegex(log, r"audit: dashboard vigil-overview deleted by 127\.0\.0\.1:\d+")

    def test_errors(self):
        s = self.server
        status, body = api(s, "GET", "/api/v1/dashboards/absent")
        self.assertEqual((status, body["errorType"]), (404, "not_found"))
        status, body = api(s, "POST", "/api/v1/dashboards", {"title": "", "panels": []})
        self.assertEqual((status, body["errorType"]), (400, "bad_data"))
        status, body = api(s, "POST", "/api/v1/dashboards",
                           {"uid": "vigil-overview", "title": "x", "panels": []})
        self.assertEqual((status, body["errorType"]), (409, "conflict"))
        status, _, data = raw(s, "POST", "/api/v1/dashboards",
                              b'{"title":"big","panels":[],"pad":"' + b"x" * (2 << 20) + b'"}')
        self.assertEqual(status, 413, data[:200])

    def test_overview_queries_use_metrics_vigil_exposes(self):
        s = self.server
        # Make the metrics that appear on first use appear: an accepted and a refused sample.
        # (The push endpoints may still answer 503 for a moment after /-/ready.)
        deadline = time.time() + 20
        while True:
            status, body = s.request("POST", "/ingest/metrics",
                                     json.dumps([{"name": "m", "labels": {}, "value": 1},
                                                 {"name": "0bad", "labels": {}, "value": 1}]).encode(),
                                     {"Content-Type": "application/json"})
            if status != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 400, body)
        self.assertIn(b"1 of 2 samples refused", body)
        status, body = s.get("/metrics")
        self.assertEqual(status, 200)
        exposed = {line.split("{")[0].split(" ")[0]
                   for line in body.decode().splitlines() if line and not line.startswith("#")}
        status, got = api(s, "GET", "/api/v1/dashboards/vigil-overview")
        self.assertEqual(status, 200)
        used = set()
        for panel in got["data"]["panels"]:
            for t in panel["targets"]:
                # Every selector in the built-in dashboard is written name{...}.
                used.update(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", t["expr"]))
        self.assertGreater(len(used), 15)
        self.assertEqual(sorted(used - exposed), [], "metrics the dashboard queries but /metrics lacks")
        # Every query runs (empty results are fine: nothing scrapes Vigil here).
        for panel in got["data"]["panels"]:
            for t in panel["targets"]:
                expr = t["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*")
                status, body = s.get_json("/api/v1/query", query=expr)
                self.assertEqual(status, 200, f"{panel['title']}: {expr}: {body}")


class SelfScrapeTest(unittest.TestCase):
    """--self-scrape.interval (scripts/run.sh sets it) fills the built-in dashboard."""

    def setUp(self):
        self.server = Server(args=["--self-scrape.interval=1s"]).start()

    def tearDown(self):
        self.server.cleanup()

    def test_overview_shows_data(self):
        s = self.server
        deadline = time.time() + 30
        samples = 0
        while time.time() < deadline:
            status, body = s.get_json("/api/v1/query", query='count_over_time(vigil_tsdb_head_series{job="vigil"}[1m])')
            result = body["data"]["result"] if status == 200 else []
            samples = int(float(result[0]["value"][1])) if result else 0
            if samples >= 3:
                break
            time.sleep(0.5)
        self.assertGreaterEqual(samples, 3, s.log())
        status, body = s.get_json("/api/v1/query", query='up{job="vigil"}')
        self.assertEqual([r["metric"]["instance"] for r in body["data"]["result"]], [f"127.0.0.1:{s.port}"])
        self.assertEqual(body["data"]["result"][0]["value"][1], "1")

        # The $instance variable offers this server; the stat panels have a value.
        status, body = s.get_json("/api/v1/label/instance/values", **{"match[]": "vigil_build_info"})
        self.assertEqual(body["data"], [f"127.0.0.1:{s.port}"])
        status, got = api(s, "GET", "/api/v1/dashboards/vigil-overview")
        empty = []
        for panel in got["data"]["panels"]:
            if panel["type"] != "stat":
                continue
            expr = panel["targets"][0]["expr"].replace("$__rate_interval", "5s").replace("$instance", ".*")
            status, body = s.get_json("/api/v1/query", query=expr)
            self.assertEqual(status, 200, body)
            if not body["data"]["result"]:
                empty.append(panel["title"])
        self.assertEqual(empty, [], "stat panels without data")


class EmbeddedUiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_root_redirects_to_ui(self):
        for path in ("/", "/ui"):
            status, headers, _ = raw(self.server, "GET", path)
            self.assertEqual(status, 302, path)
            self.assertEqual(headers["location"], "/ui/", path)

    def test_index_assets_and_spa_fallback(self):
        s = self.server
        status, headers, index = raw(s, "GET", "/ui/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(headers["cache-control"], "no-cache")
        self.assertIn(b"<html", index.lower())
        for route in ("/ui/explore", "/ui/dashboards/vigil-overview", "/ui/alerts"):
            status, _, body = raw(s, "GET", route)
            self.assertEqual((status, body), (200, index), route)
        self.assertEqual(raw(s, "GET", "/ui/assets/missing-0000.js")[0], 404)

        # Every asset index.html names is served, typed, cached for good, and its gzip copy
        # decompresses to the same bytes. (The placeholder page of a build without the UI
        # names none.)
        for asset in re.findall(rb'"(/ui/assets/[^"]+)"', index):
            path = asset.decode()
            status, headers, body = raw(s, "GET", path)
            self.assertEqual(status, 200, path)
            self.assertEqual(headers["cache-control"], "public, max-age=31536000, immutable")
            want = "text/javascript" if path.endswith(".js") else "text/css" if path.endswith(".css") else None
            if want:
                self.assertTrue(headers["content-type"].startswith(want), headers)
            status, zheaders, zbody = raw(s, "GET", path, headers={"Accept-Encoding": "gzip"})
            if zheaders.get("content-encoding") == "gzip":
                self.assertEqual(gzip.decompress(zbody), body, path)
                self.assertLess(len(zbody), len(body))
            status, _, _ = raw(s, "GET", path, headers={"If-None-Match": headers["etag"]})
            self.assertEqual(status, 304, path)


if __name__ == "__main__":
    unittest.main()
