"""Scraping end to end: the real vigil binary scrapes Debian's prometheus-node-exporter and
a prometheus_client app on 127.0.0.1, and follows file-based service discovery.

Needs Debian's prometheus-node-exporter and python3-prometheus-client (scripts/setup.sh).
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from vigil_testlib import Server, free_port

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"

# A prometheus_client app: a counter, a gauge and a histogram on its own port.
CLIENT_APP = r"""
import sys, time
from prometheus_client import Counter, Gauge, Histogram, start_http_server
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
c = Counter("app_requests", "Requests served.", ["code"])
g = Gauge("app_temperature_celsius", "Temperature.")
h = Histogram("app_latency_seconds", "Latency.")
while True:
    c.labels("200").inc()
    g.set(21.5)
    h.observe(0.2)
    time.sleep(0.1)
"""


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def wait_port(port, timeout=20):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class ScrapeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-scrape-")
        self.procs = []
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.stop()
            self.server.cleanup()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        self.tmp.cleanup()

    def start_node_exporter(self):
        port = free_port()
        p = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}",
                              "--collector.disable-defaults", "--collector.cpu",
                              "--collector.meminfo", "--collector.loadavg"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        wait_port(port)
        return p, port

    def start_client_app(self):
        port = free_port()
        p = subprocess.Popen(["/usr/bin/python3", "-c", CLIENT_APP, str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        wait_port(port)
        return p, port

    def start_server(self, config):
        path = os.path.join(self.tmp.name, "prometheus.yml")
        with open(path, "w") as f:
            f.write(config)
        self.config_path = path
        self.server = Server(args=[f"--config.file={path}"]).start()
        return self.server

    def latest(self, match):
        """{labels-tuple: last value} for series matching `match`."""
        out = {}
        for key, points in self.server.export(match).items():
            if points:
                out[key] = points[-1][1]
        return out

    def targets(self):
        status, body = self.server.get_json("/api/v1/targets")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "success")
        return body["data"]

    def test_node_exporter_and_client_app(self):
        ne, ne_port = self.start_node_exporter()
        app, app_port = self.start_client_app()
        self.start_server(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:{ne_port}']
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:{app_port}']
        labels: {{team: web}}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: python_.*
        action: drop
""")
        up = wait_for(lambda: (lambda v: v if len(v) == 2 and all(x == 1 for x in v.values()) else None)(
            self.latest("up")), what="up == 1 for both targets")
        self.assertEqual(len(up), 2)

        # node_exporter's series are stored with the target labels.
        load = self.server.export('node_load1')
        self.assertEqual(len(load), 1)
        labels = dict(next(iter(load)))
        self.assertEqual(labels["job"], "node")
        self.assertEqual(labels["instance"], f"127.0.0.1:{ne_port}")
        cpu = self.server.export('{__name__="node_cpu_seconds_total",mode="idle"}')
        self.assertGreaterEqual(len(cpu), 1)

        # The client app: counters grow, metric relabeling dropped python_* series.
        reqs = wait_for(lambda: self.latest('app_requests_total{code="200"}'), what="app counter")
        self.assertEqual(dict(next(iter(reqs)))["team"], "web")
        self.assertEqual(self.server.export('{__name__=~"python_.*"}'), {})
        scraped = self.latest('scrape_samples_scraped{job="app"}')
        post = self.latest('scrape_samples_post_metric_relabeling{job="app"}')
        self.assertGreater(list(scraped.values())[0], list(post.values())[0])
        self.assertTrue(self.latest("scrape_duration_seconds"))
        self.assertTrue(self.latest("scrape_series_added"))

        data = self.targets()
        self.assertEqual(len(data["activeTargets"]), 2)
        for t in data["activeTargets"]:
            self.assertEqual(t["health"], "up")
            self.assertEqual(t["lastError"], "")
            self.assertIn(t["scrapePool"], ("node", "app"))
            self.assertTrue(t["scrapeUrl"].startswith("http://127.0.0.1:"))
            self.assertIn("__address__", t["discoveredLabels"])
            self.assertNotIn("__address__", t["labels"])
        status, meta = self.server.get_json("/api/v1/targets/metadata",
                                            match_target='{job="node"}', metric="node_load1")
        self.assertEqual(status, 200)
        self.assertEqual(meta["data"][0]["type"], "gauge")
        self.assertIn("1m load average", meta["data"][0]["help"])

        # Killing node_exporter: up turns 0 and its series get staleness markers.
        ne.kill()
        ne.wait()
        wait_for(lambda: self.latest('up{job="node"}') and
                 list(self.latest('up{job="node"}').values())[0] == 0, what="up == 0")
        load_points = next(iter(self.server.export("node_load1").values()))
        self.assertTrue(math.isnan(load_points[-1][1]), load_points[-3:])
        node = [t for t in self.targets()["activeTargets"] if t["scrapePool"] == "node"][0]
        self.assertEqual(node["health"], "down")
        self.assertNotEqual(node["lastError"], "")

    def test_file_sd_targets_come_and_go_and_reload(self):
        _, port_a = self.start_client_app()
        _, port_b = self.start_client_app()
        sd = os.path.join(self.tmp.name, "targets.json")

        def write_sd(ports):
            with open(sd + ".tmp", "w") as f:
                json.dump([{"targets": [f"127.0.0.1:{p}" for p in ports],
                            "labels": {"env": "test"}}], f)
            os.replace(sd + ".tmp", sd)

        write_sd([port_a])
        self.start_server(f"""
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: files
    file_sd_configs:
      - files: ['{self.tmp.name}/*.json']
    relabel_configs:
      - source_labels: [__meta_filepath]
        regex: .*/(.*)
        target_label: sd_file
""")
        def instances():
            return sorted(t["labels"]["instance"] for t in self.targets()["activeTargets"]
                          if t["health"] == "up")
        wait_for(lambda: instances() == [f"127.0.0.1:{port_a}"], what="first target")
        t = self.targets()["activeTargets"][0]
        self.assertEqual(t["labels"]["sd_file"], "targets.json")
        self.assertEqual(t["labels"]["env"], "test")
        self.assertEqual(t["discoveredLabels"]["__meta_filepath"], sd)

        write_sd([port_a, port_b])
        wait_for(lambda: instances() == sorted([f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}"]),
                 what="second target added")
        write_sd([port_b])
        wait_for(lambda: instances() == [f"127.0.0.1:{port_b}"], what="first target removed")
        # The removed target's series end with a staleness marker.
        gone = self.server.export(f'up{{instance="127.0.0.1:{port_a}"}}')
        self.assertTrue(math.isnan(next(iter(gone.values()))[-1][1]))

        # A bad config is refused by /-/reload and the old one keeps running.
        with open(self.config_path, "w") as f:
            f.write("scrape_configs:\n  - job_name: x\n    scrape_intervall: 1s\n")
        status, body = self.server.request("POST", "/-/reload")
        self.assertEqual(status, 500)
        self.assertIn("scrape_intervall", body.decode())
        self.assertEqual(instances(), [f"127.0.0.1:{port_b}"])
        # A good one applies; a SIGHUP reload works too.
        with open(self.config_path, "w") as f:
            f.write(f"""
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: static
    static_configs: [{{targets: ['127.0.0.1:{port_a}']}}]
""")
        import signal
        self.server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: [t["scrapePool"] for t in self.targets()["activeTargets"]] == ["static"],
                 what="SIGHUP reload")
        status, _ = self.server.request("POST", "/-/reload")
        self.assertEqual(status, 200)


class CheckConfigTest(unittest.TestCase):
    def test_check_config(self):
        from vigil_testlib import vigil_bin
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "good.yml")
            bad = os.path.join(d, "bad.yml")
            with open(good, "w") as f:
                f.write("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['x:1']}]\n")
            with open(bad, "w") as f:
                f.write("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: keeep\n")
            r = subprocess.run([vigil_bin(), "check", "config", good], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("SUCCESS", r.stdout)
            r = subprocess.run([vigil_bin(), "check", "config", bad], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("bad.yml:4:17: unknown relabel action", r.stderr)


if __name__ == "__main__":
    unittest.main()
