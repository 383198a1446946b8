"""End-to-end tests of `vigil server`: lifecycle, remote_write, read-back, admin API.

Each test starts the real binary on 127.0.0.1 with a temporary data directory.
Run: /usr/bin/python3 -m unittest tests/integration/test_server.py
"""

import http.client
import json
import math
import os
import random
import signal
import subprocess
import threading
import time
import unittest

from vigil_testlib import Server, encode_write_request, vigil_bin


def now_ms():
    return int(time.time() * 1000)


def make_series(n_series, n_samples, start_ms, step_ms=15000, metric="test_metric", seed=1):
    rng = random.Random(seed)
    out = []
    for i in range(n_series):
        labels = {"__name__": metric, "instance": f"host-{i}:9100", "job": "node"}
        samples = []
        value = rng.random() * 1000
        for k in range(n_samples):
            value += rng.random() * 10
            samples.append((start_ms + k * step_ms + rng.randint(0, 50), round(value, 2)))
        out.append((labels, samples))
    return out


def as_export(series):
    return {tuple(sorted(l.items())): [(t, v) for t, v in s] for l, s in series}


def parse_export_values(exported):
    return {k: [(t, float(v)) for t, v in vals] for k, vals in exported.items()}


class ServerTest(unittest.TestCase):
    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()

    def start(self, **kw):
        s = Server(**kw).start()
        self.servers.append(s)
        return s

    def test_health_ready_and_own_metrics(self):
        s = self.start()
        status, body = s.get("/-/healthy")
        self.assertEqual(status, 200)
        status, _ = s.get("/-/ready")
        self.assertEqual(status, 200)
        m = s.metrics()
        names = {k.split("{")[0] for k in m}
        for want in ["process_resident_memory_bytes", "prometheus_tsdb_head_series",
                     "prometheus_tsdb_head_samples_appended_total",
                     "vigil_http_requests_total"]:
            self.assertIn(want, names)
        self.assertGreater(m["process_resident_memory_bytes"], 1e6)

    def test_remote_write_round_trip_is_exact(self):
        s = self.start()
        t0 = now_ms() - 3600_000
        series = make_series(50, 40, t0)
        # Awkward values must come back bit for bit (through JSON's shortest round trip).
        series.append(({"__name__": "edge_values", "case": "a"},
                       [(t0, 0.1), (t0 + 1, -0.0), (t0 + 2, 1e-300), (t0 + 3, 1.7976931348623157e308),
                        (t0 + 4, 123456789.123456789), (t0 + 5, -42.0)]))
        for i in range(0, len(series), 10):
            status, body = s.remote_write(series[i:i + 10])
            self.assertEqual(status, 204, body)
        got = parse_export_values(s.export('{__name__=~"test_metric|edge_values"}',
                                           start=t0 / 1000 - 1, end=now_ms() / 1000 + 1))
        self.assertEqual(got, parse_export_values(as_export(series)))
        m = s.metrics()
        self.assertEqual(m["prometheus_tsdb_head_series"], 51)

    def test_special_floats_survive(self):
        s = self.start()
        t0 = now_ms() - 60_000
        status, body = s.remote_write([({"__name__": "special", "k": "v"},
                                         [(t0, float("inf")), (t0 + 1000, float("-inf")),
                                          (t0 + 2000, float("nan"))])])
        self.assertEqual(status, 204, body)
        got = s.export("special", start=t0 / 1000 - 1)
        vals = list(got.values())[0]
        self.assertEqual([v[0] for v in vals], [t0, t0 + 1000, t0 + 2000])
        self.assertEqual(float(vals[0][1]), math.inf)
        self.assertEqual(float(vals[1][1]), -math.inf)
        self.assertTrue(math.isnan(float(vals[2][1])))

    def test_restart_keeps_every_sample(self):
        s = self.start()
        t0 = now_ms() - 1800_000
        series = make_series(100, 20, t0, seed=7)
        status, body = s.remote_write(series)
        self.assertEqual(status, 204, body)
        self.assertEqual(s.stop(), 0, s.log())
        self.assertIn("wal", s.log().lower())
        s2 = self.start(data_dir=s.data_dir)
        got = parse_export_values(s2.export("test_metric", start=t0 / 1000 - 1))
        self.assertEqual(got, parse_export_values(as_export(series)))

    def test_malformed_remote_write_is_400_and_loses_nothing(self):
        s = self.start()
        t0 = now_ms() - 600_000
        good = make_series(5, 5, t0)
        self.assertEqual(s.remote_write(good)[0], 204)
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
        bad_bodies = [
            b"not snappy at all",
            b"",
            encode_write_request(good)[:-3],                       # truncated snappy
            __import__("snappy").compress(b"\x0a\xff\xff\xff\xff\x0f"),  # huge length
            __import__("snappy").compress(b"\x0a\x05\x0a\x03\x0a\x01"),  # truncated nested msg
        ]
        for body in bad_bodies:
            status, msg = s.request("POST", "/api/v1/write", body, headers)
            self.assertEqual(status, 400, (body, msg))
            self.assertTrue(msg, "a 400 must say what was wrong")
        # Invalid names are refused with a message naming them; valid series in the same
        # request are still stored.
        status, msg = s.remote_write([({"__name__": "0bad"}, [(t0, 1)]),
                                      ({"__name__": "fine_metric"}, [(t0, 2)])])
        self.assertEqual(status, 400)
        self.assertIn(b"0bad", msg)
        self.assertIn((("__name__", "fine_metric"),), s.export("fine_metric"))
        got = parse_export_values(s.export("test_metric", start=t0 / 1000 - 1))
        self.assertEqual(got, parse_export_values(as_export(good)))

    def test_out_of_order_sample_is_refused_and_counted(self):
        s = self.start()
        t0 = now_ms() - 600_000
        self.assertEqual(s.remote_write([({"__name__": "ooo"}, [(t0, 1), (t0 + 1000, 2)])])[0], 204)
        status, msg = s.remote_write([({"__name__": "ooo"}, [(t0 + 500, 3)])])
        self.assertEqual(status, 400)
        self.assertIn(b"out of order", msg.lower().replace(b"_", b" ").replace(b"-", b" "))
        got = [t for t, _ in list(s.export("ooo").values())[0]]
        self.assertEqual(got, [t0, t0 + 1000])
        m = s.metrics()
        rejected = sum(v for k, v in m.items() if k.startswith("vigil_ingest_samples_rejected_total")
                       and "out_of_order" in k)
        self.assertEqual(rejected, 1)

    def test_series_limit_names_the_limit(self):
        s = self.start(args=["--storage.tsdb.max-series-per-metric=3"])
        t0 = now_ms() - 60_000
        series = [({"__name__": "limited", "i": str(i)}, [(t0, i)]) for i in range(5)]
        status, msg = s.remote_write(series)
        self.assertIn(status, (400, 429))
        self.assertIn(b"limited", msg)
        self.assertEqual(len(s.export("limited")), 3)
        # Existing series keep being accepted.
        status, _ = s.remote_write([({"__name__": "limited", "i": "0"}, [(t0 + 1000, 9)])])
        self.assertEqual(status, 204)

    def test_overload_is_shed_with_429_and_accepted_data_is_kept(self):
        # Bodies of ~0.9 MB (random values do not compress) and room for one at a time:
        # concurrent pushes must be shed with 429 + Retry-After, never 5xx or a crash, and
        # everything answered 204 must be stored exactly.
        body_bytes = []
        t0 = now_ms() - 3_600_000
        senders = 8
        for k in range(senders):
            series = make_series(2500, 20, t0, step_ms=1000, metric=f"overload_{k}", seed=k)
            body_bytes.append((f"overload_{k}", series, encode_write_request(series)))
        limit = max(len(b) for _, _, b in body_bytes) * 3 // 2
        s = self.start(args=[f"--ingest.max-inflight-bytes={limit}"])
        results = {}

        def push(k):
            name, _, body = body_bytes[k]
            for attempt in range(40):
                conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
                conn.request("POST", "/api/v1/write", body, {
                    "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                    "X-Prometheus-Remote-Write-Version": "0.1.0"})
                r = conn.getresponse()
                r.read()
                conn.close()
                results.setdefault(name, []).append((r.status, r.getheader("Retry-After")))
                if r.status != 429:
                    return
                time.sleep(0.05 * (k % 3))

        threads = [threading.Thread(target=push, args=(k,)) for k in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        statuses = [st for rs in results.values() for st, _ in rs]
        self.assertTrue(all(st in (204, 429) for st in statuses), statuses)
        self.assertIn(429, statuses, "no request was shed: the test did not overload the server")
        self.assertTrue(all(ra == "1" for rs in results.values() for st, ra in rs if st == 429))
        status, _ = s.get("/-/ready")
        self.assertEqual(status, 200)
        for name, series, _ in body_bytes:
            if results[name][-1][0] == 204:
                self.assertEqual(s.export(name), as_export(series), name)
        m = s.metrics()
        shed = sum(v for k, v in m.items()
                   if k.startswith("vigil_ingest_requests_total") and "rate_limited" in k)
        self.assertEqual(shed, statuses.count(429))

    def test_series_labels_and_label_values_api(self):
        s = self.start()
        t0 = now_ms() - 60_000
        s.remote_write(make_series(3, 2, t0))
        status, j = s.get_json("/api/v1/labels")
        self.assertEqual(status, 200)
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["data"], ["__name__", "instance", "job"])
        status, j = s.get_json("/api/v1/label/instance/values")
        self.assertEqual(j["data"], ["host-0:9100", "host-1:9100", "host-2:9100"])
        status, j = s.get_json("/api/v1/series", **{"match[]": 'test_metric{instance="host-1:9100"}'})
        self.assertEqual(j["data"], [{"__name__": "test_metric", "instance": "host-1:9100", "job": "node"}])
        status, j = s.get_json("/api/v1/series", **{"match[]": "{"})
        self.assertEqual(status, 400)
        self.assertEqual(j["errorType"], "bad_data")

    def test_delete_series_and_clean_tombstones(self):
        s = self.start()
        t0 = now_ms() - 600_000
        s.remote_write(make_series(4, 10, t0))
        status, _ = s.request("POST", "/api/v1/admin/tsdb/delete_series?match[]=" +
                              'test_metric{instance="host-2:9100"}')
        self.assertEqual(status, 204)
        self.assertEqual(len(s.export("test_metric", start=t0 / 1000 - 1)), 3)
        status, _ = s.request("POST", "/api/v1/admin/tsdb/clean_tombstones")
        self.assertEqual(status, 204)
        self.assertEqual(len(s.export("test_metric", start=t0 / 1000 - 1)), 3)

    def test_snapshot_writes_a_block_with_every_sample(self):
        s = self.start()
        t0 = now_ms() - 600_000
        series = make_series(20, 30, t0)
        s.remote_write(series)
        status, body = s.request("POST", "/api/v1/admin/tsdb/snapshot?skip_head=false")
        self.assertEqual(status, 200, body)
        j = json.loads(body)
        self.assertEqual(j["status"], "success")
        snap = os.path.join(s.data_dir, "snapshots", j["data"]["name"])
        self.assertTrue(os.path.isdir(snap))
        samples = 0
        for entry in os.listdir(snap):
            meta = os.path.join(snap, entry, "meta.json")
            if os.path.exists(meta):
                with open(meta) as f:
                    samples += json.load(f)["stats"]["numSamples"]
        self.assertEqual(samples, 20 * 30)

    def test_tsdb_status_shape(self):
        s = self.start()
        s.remote_write(make_series(3, 2, now_ms() - 60_000))
        status, j = s.get_json("/api/v1/status/tsdb")
        self.assertEqual(status, 200)
        d = j["data"]
        self.assertEqual(d["headStats"]["numSeries"], 3)
        self.assertEqual(d["seriesCountByMetricName"], [{"name": "test_metric", "value": 3}])
        for key in ["labelValueCountByLabelName", "memoryInBytesByLabelName",
                    "seriesCountByLabelValuePair"]:
            self.assertIn(key, d)

    def test_sigterm_shuts_down_cleanly(self):
        s = self.start()
        s.remote_write(make_series(2, 2, now_ms() - 60_000))
        self.assertEqual(s.stop(signal.SIGTERM), 0)
        self.assertEqual(self.start(data_dir=s.data_dir).stop(signal.SIGINT), 0)


class CommandLineTest(unittest.TestCase):
    def run_vigil(self, *args, timeout=30):
        return subprocess.run([vigil_bin(), *args], capture_output=True, text=True, timeout=timeout)

    def test_help_explains_the_flags(self):
        r = self.run_vigil("server", "--help")
        self.assertEqual(r.returncode, 0)
        for flag in ["--config.file", "--storage.tsdb.path", "--web.listen-address",
                     "--storage.tsdb.retention.time", "--storage.tsdb.retention.size",
                     "--storage.tsdb.wal-sync"]:
            self.assertIn(flag, r.stdout)

    def test_bad_flag_value_is_a_usage_error(self):
        r = self.run_vigil("server", "--storage.tsdb.retention.time=forever")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("retention.time", r.stdout + r.stderr)

    def test_second_server_on_same_data_dir_fails_fatally(self):
        s = Server().start()
        try:
            s2 = Server(data_dir=s.data_dir)
            s2.start(wait=False)
            code = s2.proc.wait(30)
            self.assertEqual(code, 1)
            self.assertIn("FATAL", s2.log())
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
