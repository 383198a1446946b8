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


class PeerTest(unittest.TestCase):
    """A test with a temporary directory, peer processes (self.procs) and maybe a Vigil
    server (self.server), all stopped when it ends."""
    tmp_prefix = "vigil-scrape-"

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix=self.tmp_prefix)
        self.procs = []
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.stop()
            self.server.cleanup()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
            p.wait()
        self.tmp.cleanup()


class ScrapeTest(PeerTest):

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


# A prometheus_client app whose counter and histogram carry exemplars (a new trace id per
# increment); prometheus_client exposes them only in OpenMetrics, which it serves when the
# scraper's Accept header asks for it.
EXEMPLAR_APP = r"""
import sys, time
from prometheus_client import Counter, Histogram, start_http_server
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
c = Counter("shop_orders", "Orders placed.", ["shop"])
h = Histogram("shop_checkout_seconds", "Checkout latency.", buckets=[0.1, 0.5, 1])
i = 0
while True:
    i += 1
    c.labels("north").inc(exemplar={"trace_id": f"t{i:06d}"})
    h.observe(0.05 * (i % 15), exemplar={"trace_id": f"h{i:06d}", "span_id": "s1"})
    time.sleep(0.3)
"""

# A TLS target: HTTPS on 127.0.0.1 with a certificate for NAME only (no IP address), so
# a scraper reaches it by address and must check the certificate against server_name.
TLS_TARGET = r"""
import http.server, ssl, sys
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("tls_target_host_header{host=\"%s\"} 1\n" % self.headers.get("Host")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if len(sys.argv) > 4:  # a CA file: client certificates signed by it are required
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(sys.argv[4])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"""


class ExemplarAndTlsTest(PeerTest):
    """Exemplars and metadata from scraped OpenMetrics and from Prometheus 2.42's
    remote_write, compared with what Prometheus itself answers; tls_config.server_name."""
    tmp_prefix = "vigil-exemplars-"

    def spawn(self, cmd, name):
        log = open(os.path.join(self.tmp.name, f"{name}.log"), "wb")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(p)
        return p

    def log(self, name):
        with open(os.path.join(self.tmp.name, f"{name}.log"), "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def exemplars(self, base, query, start, end):
        import urllib.parse
        import urllib.request
        q = urllib.parse.urlencode({"query": query, "start": start, "end": end})
        with urllib.request.urlopen(f"{base}/api/v1/query_exemplars?{q}", timeout=10) as r:
            body = json.loads(r.read())
        self.assertEqual(body["status"], "success")
        return body["data"]

    def test_exemplars_and_metadata_from_scrapes_and_prometheus_remote_write(self):
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            self.skipTest("Debian's prometheus is not installed")
        app_port = free_port()
        self.spawn(["/usr/bin/python3", "-c", EXEMPLAR_APP, str(app_port)], "app")
        wait_port(app_port)
        vigil_port, prom_port = free_port(), free_port()
        vigil_url = f"http://127.0.0.1:{vigil_port}"
        prom_url = f"http://127.0.0.1:{prom_port}"
        prom_cfg = os.path.join(self.tmp.name, "prometheus.yml")
        with open(prom_cfg, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: viaprom
    static_configs: [{{targets: ['127.0.0.1:{app_port}']}}]
  - job_name: prometheus
    static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]
remote_write:
  - url: {vigil_url}/api/v1/write
    send_exemplars: true
    queue_config: {{batch_send_deadline: 200ms}}
    metadata_config: {{send_interval: 1s}}
""")
        self.spawn([prometheus, f"--config.file={prom_cfg}",
                    f"--storage.tsdb.path={os.path.join(self.tmp.name, 'prom')}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--enable-feature=exemplar-storage"], "prometheus")
        path = os.path.join(self.tmp.name, "vigil.yml")
        with open(path, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
storage:
  exemplars:
    max_exemplars: 5000
scrape_configs:
  - job_name: direct
    static_configs: [{{targets: ['127.0.0.1:{app_port}']}}]
""")
        self.server = Server(args=[f"--config.file={path}"], port=vigil_port).start()
        t0 = time.time()

        # Scraped directly: the OpenMetrics exemplars are stored per series, in order.
        def direct():
            d = self.exemplars(vigil_url, 'shop_orders_total{job="direct"}', t0 - 60, time.time() + 60)
            return d if d and len(d[0]["exemplars"]) >= 3 else None
        got = wait_for(direct, timeout=60, what="scraped exemplars")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["seriesLabels"], {"__name__": "shop_orders_total", "job": "direct",
                                                  "instance": f"127.0.0.1:{app_port}", "shop": "north"})
        ex = got[0]["exemplars"]
        self.assertTrue(all(e["labels"]["trace_id"].startswith("t") and e["value"] == "1" for e in ex), ex)
        self.assertEqual([e["timestamp"] for e in ex], sorted(e["timestamp"] for e in ex))
        buckets = self.exemplars(vigil_url, 'shop_checkout_seconds_bucket{job="direct"}', t0 - 60,
                                 time.time() + 60)
        self.assertTrue(buckets)
        self.assertEqual(buckets[0]["exemplars"][0]["labels"]["span_id"], "s1")

        # Through Prometheus's remote_write: once Prometheus has sent a window of
        # exemplars, Vigil answers exactly what Prometheus answers for it.
        def via_prom():
            end = time.time() - 3
            try:
                theirs = self.exemplars(prom_url, '{job="viaprom",__name__=~"shop_.*"}', t0 - 60, end)
            except OSError:
                return None
            ours = self.exemplars(vigil_url, '{job="viaprom",__name__=~"shop_.*"}', t0 - 60, end)
            key = lambda r: json.dumps(r["seriesLabels"], sort_keys=True)
            theirs, ours = sorted(theirs, key=key), sorted(ours, key=key)
            if theirs and sum(len(r["exemplars"]) for r in theirs) >= 10 and theirs == ours:
                return theirs
            return None
        try:
            same = wait_for(via_prom, timeout=90, what="remote_write exemplars equal to Prometheus's")
        except AssertionError:
            self.fail(f"prometheus log:\n{self.log('prometheus')}\nvigil log:\n{self.server.log()}")
        self.assertGreaterEqual(len(same), 2)  # the counter and histogram buckets

        # Metadata: scraped families and those only Prometheus scrapes (sent in
        # remote_write's metadata) are both at /api/v1/metadata.
        def metadata():
            status, body = self.server.get_json("/api/v1/metadata")
            d = body["data"]
            return d if "shop_orders" in d and "prometheus_http_requests_total" in d else None
        md = wait_for(metadata, timeout=60, what="metadata from scrapes and remote_write")
        self.assertIn({"type": "counter", "help": "Orders placed.", "unit": ""}, md["shop_orders"])
        self.assertEqual(md["prometheus_http_requests_total"][0]["type"], "counter")
        status, m = self.server.get("/metrics")
        text = m.decode()
        self.assertIn('vigil_ingest_exemplars_total{protocol="scrape",result="stored"}', text)
        self.assertIn('vigil_ingest_exemplars_total{protocol="remote_write",result="stored"}', text)

        # Both paths log exemplars to the WAL before acknowledging them: after SIGKILL and
        # a restart, every exemplar Vigil answered before is still there.
        query, end = '{__name__=~"shop_.*"}', time.time()
        def by_series(data):
            return {json.dumps(r["seriesLabels"], sort_keys=True):
                    [json.dumps(e, sort_keys=True) for e in r["exemplars"]] for r in data}
        before = by_series(self.exemplars(vigil_url, query, t0 - 60, end))
        self.assertGreaterEqual(len(before), 4)
        self.server.kill()
        self.server.start()
        after = by_series(self.exemplars(vigil_url, query, t0 - 60, end))
        for series, exemplars in before.items():
            self.assertTrue(set(exemplars) <= set(after.get(series, [])),
                            f"{series}: lost {sorted(set(exemplars) - set(after.get(series, [])))}")

    def make_cert(self, name):
        """A CA and a server certificate for DNS name `name` signed by it."""
        d = self.tmp.name
        def run(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=vigil test CA",
            "-keyout", "ca.key", "-out", "ca.crt")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", "srv.key",
            "-out", "srv.csr")
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write(f"subjectAltName=DNS:{name}\n")
        run("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext.cnf", "-out", "srv.crt")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=vigil scraper", "-keyout", "cli.key",
            "-out", "cli.csr")
        run("x509", "-req", "-in", "cli.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", "cli.crt")
        return tuple(os.path.join(d, x) for x in ("ca.crt", "srv.crt", "srv.key", "cli.crt", "cli.key"))

    def test_tls_server_name_is_sent_and_verified(self):
        if shutil.which("openssl") is None:
            self.skipTest("openssl is not installed")
        ca, cert, key, cli_cert, cli_key = self.make_cert("metrics.vigil.test")
        port, mtls_port = free_port(), free_port()
        self.spawn(["/usr/bin/python3", "-c", TLS_TARGET, str(port), cert, key], "tls")
        self.spawn(["/usr/bin/python3", "-c", TLS_TARGET, str(mtls_port), cert, key, ca], "mtls")
        wait_port(port)
        wait_port(mtls_port)
        path = os.path.join(self.tmp.name, "vigil.yml")
        with open(path, "w") as f:
            f.write(f"""
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: right_name
    scheme: https
    tls_config: {{ca_file: {ca}, server_name: metrics.vigil.test}}
    static_configs: [{{targets: ['127.0.0.1:{port}']}}]
  - job_name: wrong_name
    scheme: https
    tls_config: {{ca_file: {ca}, server_name: other.vigil.test}}
    static_configs: [{{targets: ['127.0.0.1:{port}']}}]
  - job_name: no_name
    scheme: https
    tls_config: {{ca_file: {ca}}}
    static_configs: [{{targets: ['127.0.0.1:{port}']}}]
  - job_name: skip_verify
    scheme: https
    tls_config: {{insecure_skip_verify: true}}
    static_configs: [{{targets: ['127.0.0.1:{port}']}}]
  - job_name: client_cert
    scheme: https
    tls_config: {{ca_file: {ca}, server_name: metrics.vigil.test, cert_file: {cli_cert}, key_file: {cli_key}}}
    static_configs: [{{targets: ['127.0.0.1:{mtls_port}']}}]
  - job_name: no_client_cert
    scheme: https
    tls_config: {{ca_file: {ca}, server_name: metrics.vigil.test}}
    static_configs: [{{targets: ['127.0.0.1:{mtls_port}']}}]
""")
        self.server = Server(args=[f"--config.file={path}"]).start()

        def health():
            _, body = self.server.get_json("/api/v1/targets")
            got = {t["scrapePool"]: t for t in body["data"]["activeTargets"]}
            return got if len(got) == 6 and all(t["health"] != "unknown" for t in got.values()) else None
        got = wait_for(health, what="six scraped targets")
        for job in ("right_name", "skip_verify", "client_cert"):
            self.assertEqual(got[job]["health"], "up", f'{job}: {got[job]["lastError"]}')
        self.assertEqual(got["no_client_cert"]["health"], "down")
        # The URL stays the target's address; only SNI and verification use server_name.
        self.assertEqual(got["right_name"]["scrapeUrl"], f"https://127.0.0.1:{port}/metrics")
        for job, name in (("wrong_name", "other.vigil.test"), ("no_name", "127.0.0.1")):
            self.assertEqual(got[job]["health"], "down", job)
            self.assertIn(f"certificate subject name matches target host name '{name}'",
                          got[job]["lastError"])
        # The Host header names the target, as Prometheus sends it.
        host = wait_for(lambda: self.server.export('tls_target_host_header{job="right_name"}'),
                        what="the TLS target's series")
        self.assertEqual(dict(next(iter(host)))["host"], f"127.0.0.1:{port}")


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
