"""End-to-end tests of the query API as clients use it:

  * the calls Grafana's Prometheus data source makes (POST form /api/v1/query and
    query_range, /api/v1/labels with start/end, /api/v1/series, label values,
    /api/v1/status/buildinfo, query_exemplars) answer in the shapes it reads;
  * `vigil query` against the running server (table and -o json);
  * Prometheus 2.42 reading from Vigil through remote_read (the SAMPLES response).

Run: /usr/bin/python3 -m unittest -v test_query_api   (VIGIL_BIN names the binary)
"""

import json
import os
import subprocess
import time
import unittest

from test_promql_diff import PROMETHEUS, Prometheus, post, query
from vigil_testlib import Server, vigil_bin


class QueryApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vigil = Server().start()
        now = int(time.time() * 1000)
        cls.t_end = (now // 1000) * 1000
        series = []
        for job in ["api", "web"]:
            for inst in ["h1", "h2"]:
                samples = [(cls.t_end - 600_000 + k * 15_000 + 123, float(k)) for k in range(40)]
                series.append(({"__name__": "grafana_test_total", "job": job, "instance": inst}, samples))
        status, body = cls.vigil.remote_write(series)
        assert status == 204, body

    @classmethod
    def tearDownClass(cls):
        cls.vigil.cleanup()

    def form(self, path, params):
        return query(self.vigil.url, path, params)

    # --- Grafana ------------------------------------------------------------------------
    def test_grafana_health_check_query(self):
        # Grafana's "Save & test" posts `1+1` as an instant query.
        status, j = self.form("/api/v1/query", {"query": "1+1", "time": str(self.t_end // 1000)})
        self.assertEqual(status, 200)
        self.assertEqual(j, {"status": "success",
                             "data": {"resultType": "scalar", "result": [self.t_end // 1000, "2"]}})

    def test_grafana_range_query_shape(self):
        end = self.t_end // 1000
        status, j = self.form("/api/v1/query_range", {
            "query": "sum by (job) (rate(grafana_test_total[5m]))", "start": str(end - 300),
            "end": str(end), "step": "30"})
        self.assertEqual(status, 200, j)
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["data"]["resultType"], "matrix")
        self.assertEqual(sorted(s["metric"]["job"] for s in j["data"]["result"]), ["api", "web"])
        for s in j["data"]["result"]:
            for t, v in s["values"]:
                self.assertIsInstance(t, (int, float))
                self.assertIsInstance(v, str)
                float(v)

    def test_grafana_metadata_calls(self):
        end = self.t_end // 1000
        status, j = self.form("/api/v1/labels", {"start": str(end - 3600), "end": str(end)})
        self.assertEqual(status, 200)
        self.assertEqual(j["status"], "success")
        self.assertIn("job", j["data"])
        self.assertNotIn("__tenant__", j["data"])
        status, j = self.vigil.get_json("/api/v1/label/__name__/values",
                                        start=str(end - 3600), end=str(end))
        self.assertIn("grafana_test_total", j["data"])
        status, j = self.vigil.get_json("/api/v1/series", **{"match[]": 'grafana_test_total{job="api"}',
                                                            "start": str(end - 3600), "end": str(end)})
        self.assertEqual(status, 200)
        self.assertEqual(sorted(s["instance"] for s in j["data"]), ["h1", "h2"])
        status, j = self.vigil.get_json("/api/v1/status/buildinfo")
        self.assertEqual(status, 200)
        self.assertIn("version", j["data"])
        status, j = self.form("/api/v1/query_exemplars", {"query": "grafana_test_total",
                                                          "start": str(end - 3600), "end": str(end)})
        self.assertEqual((status, j), (200, {"status": "success", "data": []}))

    def test_status_endpoints(self):
        status, j = self.vigil.get_json("/api/v1/status/flags")
        self.assertEqual(status, 200)
        self.assertIn("storage.tsdb.path", j["data"])
        self.assertEqual(j["data"]["web.listen-address"], f"127.0.0.1:{self.vigil.port}")
        status, j = self.vigil.get_json("/api/v1/status/runtimeinfo")
        self.assertEqual(j["data"]["storageRetention"], "15d")
        status, j = self.vigil.get_json("/api/v1/status/config")
        self.assertIn("yaml", j["data"])

    def test_seed_api(self):
        end = self.t_end // 1000
        status, j = self.vigil.get_json("/query/range", metric="grafana_test_total",
                                        labels='{"job":"api","instance":"h1"}',
                                        start=str(end - 120), end=str(end), step="60s")
        self.assertEqual(status, 200, j)
        [s] = j["data"]["result"]
        self.assertEqual(s["name"], "grafana_test_total")
        self.assertEqual(s["labels"], {"job": "api", "instance": "h1"})
        self.assertEqual(s["timestamps"], [(end - 120) * 1000, (end - 60) * 1000, end * 1000])
        status, j = self.vigil.get_json("/query/instant", expr="count(grafana_test_total)",
                                        time=str(end))
        self.assertEqual(j["data"]["result"][0]["value"], 4)

    # --- vigil query --------------------------------------------------------------------
    def test_vigil_query_cli(self):
        end = self.t_end // 1000
        out = subprocess.run([vigil_bin(), "query", "--server", self.vigil.url, "--time", str(end),
                              'grafana_test_total{job="web"}'], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertTrue(lines[0].startswith("SERIES"))
        self.assertEqual(len(lines), 3)
        self.assertIn('grafana_test_total{instance="h1", job="web"}', out.stdout)
        out = subprocess.run([vigil_bin(), "query", "--server", self.vigil.url, "-o", "json",
                              "--start", str(end - 120), "--end", str(end), "--step", "1m",
                              "count(grafana_test_total)"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        j = json.loads(out.stdout)
        self.assertEqual(j["data"]["result"][0]["values"][-1], [end, "4"])
        out = subprocess.run([vigil_bin(), "query", "--server", self.vigil.url, "sum("],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("bad_data", out.stderr)


@unittest.skipUnless(os.path.exists(PROMETHEUS), "Debian's prometheus is not installed")
class RemoteReadByPrometheusTest(unittest.TestCase):
    def test_prometheus_reads_vigil_as_long_term_storage(self):
        vigil = Server().start()
        try:
            now = int(time.time() * 1000)
            samples = [(now - 600_000 + k * 15_000 + 7, k * 1.5) for k in range(40)]
            status, _ = vigil.remote_write([({"__name__": "only_in_vigil", "job": "lts"}, samples)])
            self.assertEqual(status, 204)
            prom = Prometheus(config="global:\n  scrape_interval: 15s\nremote_read:\n"
                                     f"  - url: {vigil.url}/api/v1/read\n    read_recent: true\n",
                              args=())
            try:
                end = (now - 600_000 + 39 * 15_000 + 7) / 1000
                status, j = query(prom.url, "/api/v1/query",
                                  {"query": "only_in_vigil", "time": f"{end:.3f}"})
                self.assertEqual(status, 200, j)
                self.assertEqual(j["data"]["result"],
                                 [{"metric": {"__name__": "only_in_vigil", "job": "lts"},
                                   "value": [end, "58.5"]}])
                status, j = query(prom.url, "/api/v1/query",
                                  {"query": "count_over_time(only_in_vigil[20m])", "time": f"{end:.3f}"})
                self.assertEqual(j["data"]["result"][0]["value"][1], "40")
            finally:
                prom.stop()
        finally:
            vigil.cleanup()


if __name__ == "__main__":
    unittest.main()
