"""Prometheus 2.42 (Debian `prometheus`) scrapes a node_exporter (Debian
`prometheus-node-exporter`) and remote_writes to Vigil; both are started by the test on
127.0.0.1. The samples Vigil stores must equal what Prometheus itself stored.

Missing peers fail loudly: install them with scripts/setup.sh.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from vigil_testlib import Server, free_port


def need(binary):
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(f"{binary} is not installed (scripts/setup.sh installs it)")
    return path


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


class PrometheusRemoteWriteTest(unittest.TestCase):
    def setUp(self):
        self.procs = []
        self.logs = []
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-prom-")
        self.vigil = Server().start()

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        for f in self.logs:
            f.close()
        self.vigil.stop()
        self.vigil.cleanup()
        self.tmp.cleanup()

    def start(self, cmd, name):
        log = open(os.path.join(self.tmp.name, f"{name}.log"), "wb")
        self.logs.append(log)
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def log(self, name):
        with open(os.path.join(self.tmp.name, f"{name}.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def test_prometheus_scrapes_node_exporter_and_remote_writes(self):
        ne_port, prom_port = free_port(), free_port()
        self.start([need("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{ne_port}",
                    "--collector.disable-defaults", "--collector.loadavg", "--collector.meminfo",
                    "--collector.cpu", "--collector.time"], "node_exporter")
        config = os.path.join(self.tmp.name, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:{ne_port}"]
remote_write:
  - url: {self.vigil.url}/api/v1/write
    queue_config:
      batch_send_deadline: 200ms
      max_samples_per_send: 2000
    metadata_config:
      send_interval: 1s
""")
        self.start([need("prometheus"), f"--config.file={config}",
                    f"--storage.tsdb.path={os.path.join(self.tmp.name, 'prom')}",
                    f"--web.listen-address=127.0.0.1:{prom_port}"], "prometheus")
        prom = f"http://127.0.0.1:{prom_port}"

        # Wait until Vigil has several scrapes of node_exporter.
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                got = self.vigil.export('up{job="node"}')
            except RuntimeError:
                got = {}
            if got and len(next(iter(got.values()))) >= 4:
                break
            time.sleep(0.5)
        else:
            self.fail(f"no remote_write data in Vigil.\nprometheus:\n{self.log('prometheus')}\n"
                      f"node_exporter:\n{self.log('node_exporter')}\nvigil:\n{self.vigil.log()}")

        # Compare everything up to a moment both have flushed: Prometheus's own samples for
        # a window must equal Vigil's for the same window.
        end = time.time() - 2
        time.sleep(2)
        start = end - 60
        for selector in ('up{job="node"}', 'node_load1{job="node"}', 'node_memory_MemTotal_bytes',
                         'scrape_samples_scraped{job="node"}'):
            q = urllib.parse.urlencode({"query": f"{selector}[2m]", "time": f"{end:.3f}"})
            res = get_json(f"{prom}/api/v1/query?{q}")["data"]["result"]
            self.assertTrue(res, f"Prometheus has no {selector}")
            want = {}
            for r in res:
                key = tuple(sorted(r["metric"].items()))
                want[key] = [(int(round(float(t) * 1000)), float(v)) for t, v in r["values"]
                             if float(t) >= start]
            got = self.vigil.export(selector, start=f"{start:.3f}", end=f"{end:.3f}")
            got = {k: [(t, float(v)) for t, v in vals] for k, vals in got.items()}
            self.assertEqual(got, want, selector)

        # Prometheus sends metadata too; the samples are counted as remote_write ingestion.
        m = self.vigil.metrics()
        self.assertGreater(m['vigil_ingest_samples_total{protocol="remote_write"}'], 0)


if __name__ == "__main__":
    unittest.main()
