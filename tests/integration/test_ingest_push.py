"""End-to-end tests of the push protocols with real senders, each started by the test on
127.0.0.1: Python's prometheus_client pushing text (and OpenMetrics), Python's statsd,
hot-shots (DogStatsD tags) and the OpenTelemetry JS SDK (OTLP/HTTP protobuf), plus the
JSON seed API and Influx line protocol. What is sent is read back with /api/v1/export.

A peer that cannot be installed fails its test loudly (no silent skips): Debian
python3-prometheus-client and python3-statsd (scripts/setup.sh), npm packages from
tests/integration/package.json (installed here with npm).
"""

import gzip
import json
import os
import socket
import subprocess
import time
import unittest
import urllib.parse

from vigil_testlib import Server, free_port

HERE = os.path.dirname(os.path.abspath(__file__))


def npm_install():
    """Installs the npm peers into tests/integration/node_modules (once per run)."""
    marker = os.path.join(HERE, "node_modules", ".vigil-installed")
    if os.path.exists(marker):
        return
    lock = os.path.join(HERE, "package-lock.json")
    cmd = ["npm", "ci"] if os.path.exists(lock) else ["npm", "install"]
    r = subprocess.run(cmd + ["--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"cannot install the npm peers ({' '.join(cmd)}):\n{r.stdout}\n{r.stderr}")
    open(marker, "w").close()


def series_values(exported, name):
    """{labels-dict-items-without-__name__: [values]} for series named `name`."""
    out = {}
    for key, samples in exported.items():
        labels = dict(key)
        if labels.get("__name__") != name:
            continue
        del labels["__name__"]
        out[tuple(sorted(labels.items()))] = [float(v) for _, v in samples]
    return out


def wait_for(fn, timeout=20, what="data"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class PushTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.statsd_port = free_port()
        cls.server = Server(args=[f"--statsd.listen-address=127.0.0.1:{cls.statsd_port}",
                                  "--statsd.flush-interval=500ms"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def test_prometheus_client_pushes_text(self):
        import prometheus_client
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.exposition import default_handler

        reg = CollectorRegistry()
        c = Counter("pc_jobs", "Jobs processed.", ["queue"], registry=reg)
        c.labels("q1").inc(3)
        c.labels("q2").inc(4.5)
        g = Gauge("pc_temperature_celsius", "Temperature.", registry=reg)
        g.set(21.25)
        h = Histogram("pc_latency_seconds", "Latency.", buckets=[0.1, 1], registry=reg)
        for v in (0.05, 0.5, 2):
            h.observe(v)

        server = self.server

        def handler(url, method, timeout, headers, data):
            # push_to_gateway speaks the Pushgateway's URL scheme; Vigil takes the same
            # text at /api/v1/import/prometheus with the grouping key as extra labels.
            job = url.rsplit("/", 1)[-1]
            target = f"{server.url}/api/v1/import/prometheus?" + urllib.parse.urlencode(
                {"extra_label": f"job={job}"})
            return default_handler(target, method, timeout, headers, data)

        prometheus_client.push_to_gateway(server.url, job="batch", registry=reg, handler=handler)
        exp = server.export('{__name__=~"pc_.*"}')
        self.assertEqual(series_values(exp, "pc_jobs_total"),
                         {(("job", "batch"), ("queue", "q1")): [3.0],
                          (("job", "batch"), ("queue", "q2")): [4.5]})
        self.assertEqual(series_values(exp, "pc_temperature_celsius"), {(("job", "batch"),): [21.25]})
        self.assertEqual(series_values(exp, "pc_latency_seconds_bucket"),
                         {(("job", "batch"), ("le", "0.1")): [1.0],
                          (("job", "batch"), ("le", "1.0")): [2.0],
                          (("job", "batch"), ("le", "+Inf")): [3.0]})
        self.assertEqual(series_values(exp, "pc_latency_seconds_sum"), {(("job", "batch"),): [2.55]})
        # The 0.0.4 text names the family after its sample (pc_jobs_total), as Prometheus
        # lists it too.
        status, md = server.get_json("/api/v1/metadata", metric="pc_jobs_total")
        self.assertEqual(status, 200)
        self.assertEqual(md["data"]["pc_jobs_total"],
                         [{"type": "counter", "help": "Jobs processed.", "unit": ""}])

    def test_prometheus_client_openmetrics_with_timestamp_param(self):
        from prometheus_client import CollectorRegistry, Gauge
        from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest

        reg = CollectorRegistry()
        Gauge("om_gauge", "A gauge.", registry=reg).set(4)
        body = generate_latest(reg)
        ts = int(time.time()) - 60
        status, text = self.server.request(
            "POST", f"/api/v1/import/prometheus?timestamp={ts}", body,
            {"Content-Type": CONTENT_TYPE_LATEST})
        self.assertEqual(status, 204, text)
        exp = self.server.export("om_gauge")
        ((key, samples),) = exp.items()
        self.assertEqual(samples, [(ts * 1000, 4)])

    def test_openmetrics_exemplars_are_stored_and_survive_sigkill(self):
        from prometheus_client import CollectorRegistry, Counter
        from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest

        reg = CollectorRegistry()
        c = Counter("ex_requests", "Requests.", registry=reg)
        c.inc(2, exemplar={"trace_id": "abc123"})
        body = generate_latest(reg)
        self.assertIn(b'# {trace_id="abc123"} 2.0', body)
        server = Server().start()
        try:
            status, text = server.request("POST", "/api/v1/import/prometheus", body,
                                          {"Content-Type": CONTENT_TYPE_LATEST})
            self.assertEqual(status, 204, text)

            def exemplars():
                st, got = server.get_json("/api/v1/query_exemplars", query="ex_requests_total",
                                          start=time.time() - 3600, end=time.time() + 60)
                self.assertEqual(st, 200, got)
                return [(r["seriesLabels"]["__name__"], e["labels"], e["value"])
                        for r in got["data"] for e in r["exemplars"]]

            want = [("ex_requests_total", {"trace_id": "abc123"}, "2")]
            self.assertEqual(exemplars(), want)
            self.assertEqual(server.metrics().get(
                'vigil_ingest_exemplars_total{protocol="prometheus_text",result="stored"}'), 1)
            # The exemplar was in the WAL before the 204: a crash and a replay keep it.
            server.kill()
            server.start()
            self.assertEqual(exemplars(), want)
        finally:
            server.stop()
            server.cleanup()

    def test_json_seed_api_and_influx(self):
        now_s = int(time.time())
        body = json.dumps([
            {"name": "js_temp", "labels": {"room": "a"}, "timestamp": now_s - 10, "value": 20.5},
            {"name": "js_temp", "labels": {"room": "a"}, "timestamp": (now_s - 5) * 1000, "value": 21},
        ]).encode()
        status, text = self.server.request("POST", "/ingest/metrics", body,
                                           {"Content-Type": "application/json"})
        self.assertEqual(status, 204, text)
        exp = self.server.export("js_temp")
        self.assertEqual(list(exp.values()), [[((now_s - 10) * 1000, 20.5), ((now_s - 5) * 1000, 21)]])

        line = f"weather,city=paris temp=12.5,rain=3i {now_s}\n".encode()
        status, text = self.server.request("POST", "/write?db=telegraf&precision=s", gzip.compress(line),
                                           {"Content-Encoding": "gzip"})
        self.assertEqual(status, 204, text)
        exp = self.server.export('{__name__=~"weather_.*"}')
        self.assertEqual(series_values(exp, "weather_temp"), {(("city", "paris"), ("db", "telegraf")): [12.5]})
        self.assertEqual(series_values(exp, "weather_rain"), {(("city", "paris"), ("db", "telegraf")): [3.0]})

        status, text = self.server.request("POST", "/api/v2/write", b"weather temp=")
        self.assertEqual(status, 400)
        self.assertIn("invalid value", json.loads(text)["error"])

    def test_python_statsd(self):
        import statsd

        c = statsd.StatsClient("127.0.0.1", self.statsd_port, prefix="py")
        c.incr("hits", 3)
        c.incr("hits", 4)
        c.gauge("temp", 20)
        c.gauge("temp", 5, delta=True)
        for ms in (100, 200, 300):
            c.timing("lat", ms)
        c.set("visitors", "alice")
        c.close()

        def got():
            exp = self.server.export('{__name__=~"py_.*"}')
            hits = series_values(exp, "py_hits").get((), [])
            count = series_values(exp, "py_lat_count").get((), [])
            visitors = series_values(exp, "py_visitors").get((), [])
            done = hits and hits[-1] == 7 and count and count[-1] == 3 and sum(visitors) == 1
            return exp if done else None

        exp = wait_for(got, what="statsd aggregates")
        self.assertEqual(series_values(exp, "py_temp")[()][-1], 25)
        self.assertAlmostEqual(series_values(exp, "py_lat_sum")[()][-1], 0.6)
        self.assertEqual(series_values(exp, "py_lat")[(("quantile", "0.5"),)][-1], 0.2)
        # A set counts distinct members per flush interval (then 0): one member in all.
        self.assertEqual(sum(series_values(exp, "py_visitors")[()]), 1)

    def test_hot_shots_dogstatsd_tags(self):
        npm_install()
        r = subprocess.run(["node", os.path.join(HERE, "peers", "hot_shots_send.js"), str(self.statsd_port)],
                           cwd=HERE, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

        def got():
            exp = self.server.export('{__name__=~"hs_.*"}')
            req = series_values(exp, "hs_requests").get((("env", "test"), ("route", "home")), [])
            users = series_values(exp, "hs_users").get((("env", "test"),), [])
            done = req and req[-1] == 5 and series_values(exp, "hs_latency_count") and sum(users) == 2
            return exp if done else None

        exp = wait_for(got, what="hot-shots aggregates")
        self.assertEqual(series_values(exp, "hs_queue_depth")[(("env", "test"), ("queue", "q1"))][-1], 7)
        self.assertEqual(series_values(exp, "hs_latency_sum")[(("env", "test"), ("route", "home"))][-1], 0.25)
        # alice and bob may land in one flush interval or two: 2 distinct members in all.
        self.assertEqual(sum(series_values(exp, "hs_users")[(("env", "test"),)]), 2)

    def test_opentelemetry_js_sdk_otlp(self):
        npm_install()
        url = f"{self.server.url}/v1/metrics"
        r = subprocess.run(["node", os.path.join(HERE, "peers", "otel_send.js"), url],
                           cwd=HERE, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # forceFlush and shutdown each export the cumulative state once: every stored
        # point of a series must carry the value sent.
        exp = {k: v for k, v in self.server.export('{job="checkout"}').items()}
        for k, samples in exp.items():
            self.assertEqual(len({v for _, v in samples}), 1, k)
            exp[k] = samples[-1:]
        base = (("instance", "pod-7"), ("job", "checkout"))
        self.assertEqual(series_values(exp, "http_requests_total"),
                         {(("http_method", "GET"),) + base: [5.0],
                          (("http_method", "POST"),) + base: [2.0]})
        buckets = series_values(exp, "http_latency_milliseconds_bucket")
        route = (("route", "/cart"),)
        self.assertEqual(buckets[base + (("le", "10"),) + route], [1.0])
        self.assertEqual(buckets[base + (("le", "100"),) + route], [3.0])
        self.assertEqual(buckets[base + (("le", "1000"),) + route], [4.0])
        self.assertEqual(buckets[base + (("le", "+Inf"),) + route], [5.0])
        self.assertEqual(series_values(exp, "http_latency_milliseconds_sum")[base + route], [5605.0])
        self.assertEqual(series_values(exp, "room_temperature_celsius")[base + (("room", "a"),)], [21.5])
        info = series_values(exp, "target_info")
        self.assertEqual(len(info), 1)
        (labels,) = info.keys()
        self.assertIn(("deployment_environment", "test"), labels)

    def test_counts_refusals_by_protocol_and_reason(self):
        status, text = self.server.request("POST", "/ingest/metrics",
                                           b'[{"name":"bad-name","value":1},{"name":"okm","value":1}]')
        self.assertEqual(status, 400)
        self.assertIn("1 of 2 samples refused (1 invalid_labels)", text.decode())
        m = self.server.metrics()
        self.assertGreaterEqual(
            m['vigil_ingest_samples_rejected_total{protocol="json",reason="invalid_labels"}'], 1)
        self.assertGreaterEqual(m['vigil_ingest_samples_total{protocol="json"}'], 1)


if __name__ == "__main__":
    unittest.main()
