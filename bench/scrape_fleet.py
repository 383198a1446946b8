#!/usr/bin/python3
"""Scrape-fleet benchmark: one process serves N targets of ~800 series each (like
node_exporter) on 127.0.0.1; Vigil (and, with --prometheus, Debian's Prometheus) scrapes
them every --interval seconds through file_sd. Reports, per N, scrapes done vs expected,
missed scrapes, and CPU seconds per 1000 scrapes of the scraper process.

  /usr/bin/python3 bench/scrape_fleet.py --vigil build/j/vigil --n 100,500,1000 --duration 60

The fleet is served by a threaded HTTP server with pre-rendered bodies (values change
every interval), so the fleet costs little next to the scraper being measured.
"""

import argparse
import http.server
import json
import os
import random
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

SERIES = 800


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(seed):
    rnd = random.Random(seed)
    lines = []
    for fam in range(SERIES // 8):
        name = f"node_bench_metric_{fam}_total"
        lines.append(f"# HELP {name} A benchmark counter.\n# TYPE {name} counter\n")
        for cpu in range(8):
            lines.append(f'{name}{{cpu="{cpu}",mode="user"}} {rnd.random() * 1e6:.3f}\n')
    return "".join(lines).encode()


class Fleet:
    def __init__(self):
        self.bodies = [render(i) for i in range(4)]
        self.port = free_port()
        bodies = self.bodies

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                body = bodies[int(time.time() // 15) % len(bodies)]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            request_queue_size = 4096

        self.httpd = S(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def sd(self, n):
        return [{"targets": [f"127.0.0.1:{self.port}"],
                 "labels": {"__metrics_path__": f"/t/{i}/metrics", "fleet_id": str(i)}}
                for i in range(n)]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def query(url, expr):
    q = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=60) as r:
        res = json.load(r)["data"]["result"]
    return float(res[0]["value"][1]) if res else 0.0


def run(kind, binary, fleet, n, interval, duration, workdir):
    sd_path = os.path.join(workdir, "fleet.json")
    with open(sd_path, "w") as f:
        json.dump(fleet.sd(n), f)
    cfg = os.path.join(workdir, "bench.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  scrape_interval: {interval}s\n  scrape_timeout: {interval * 2 // 3}s\n"
                f"scrape_configs:\n  - job_name: fleet\n    file_sd_configs:\n"
                f"      - files: ['{sd_path}']\n")
    port = free_port()
    data = tempfile.mkdtemp(dir=workdir)
    if kind == "vigil":
        cmd = [binary, "server", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    else:
        cmd = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        # Warm up one interval (targets spread over it), then measure.
        time.sleep(interval + 2)
        c0, t0 = cpu_seconds(proc.pid), time.time()
        time.sleep(duration)
        c1, t1 = cpu_seconds(proc.pid), time.time()
        window = int(t1 - t0)
        expected = window // interval
        done = query(url, f"sum(count_over_time(up[{window}s]))")
        worst = query(url, f"min(count_over_time(up[{window}s]))")
        down = query(url, f"count(up == 0) or vector(0)")
        scrapes = max(done, 1)
        return {"system": kind, "targets": n, "window_s": window,
                "scrapes": int(done), "expected": n * expected,
                "min_per_target": int(worst), "expected_per_target": expected,
                "targets_down": int(down),
                "cpu_s": round(c1 - c0, 2),
                "cpu_s_per_1000_scrapes": round((c1 - c0) / scrapes * 1000, 3)}
    finally:
        proc.terminate()
        proc.wait(60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default="build/vigil")
    ap.add_argument("--prometheus", default="")
    ap.add_argument("--n", default="100,500,1000")
    ap.add_argument("--interval", type=int, default=15)
    ap.add_argument("--duration", type=int, default=60)
    args = ap.parse_args()
    fleet = Fleet()
    with tempfile.TemporaryDirectory(prefix="vigil-fleet-") as workdir:
        for n in [int(x) for x in args.n.split(",")]:
            systems = [("vigil", args.vigil)]
            if args.prometheus:
                systems.append(("prometheus", args.prometheus))
            for kind, binary in systems:
                r = run(kind, binary, fleet, n, args.interval, args.duration, workdir)
                r["missed"] = r["expected"] - r["scrapes"]
                print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(main())
