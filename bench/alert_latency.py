#!/usr/bin/python3
"""Alert latency benchmark: how long from a threshold crossed in the data to the webhook
notification received, against the bound issue 6 sets (one evaluation interval plus
group_wait).

Starts Vigil on 127.0.0.1 with one alerting rule (`bench_value > 10`, `for: 0`) evaluated
every --interval, a notifier whose route groups by instance (so every trial opens a new
aggregation group and waits group_wait), and a local webhook sink. Each trial pushes a
value over the threshold for a fresh instance through remote_write and times the webhook's
arrival. Reports min / median / p95 / max against the bound, and the notifier's own figure
(vigil_alert_first_notification_delay_seconds: alert start -> first notification sent).

  /usr/bin/python3 bench/alert_latency.py --vigil build/release/vigil --trials 20

Timing is wall clock on loopback; run it on an idle machine. The expected spread is
uniform over one interval (where in the evaluation cycle the sample lands) plus group_wait
plus a tick of the notifier (50 ms) and the send.
"""

import argparse
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from vigil_testlib import Server  # noqa: E402


class Sink:
    def __init__(self):
        self.arrivals = {}
        self.cv = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                now = time.time()
                with sink.cv:
                    for a in body["alerts"]:
                        if a["status"] == "firing":
                            sink.arrivals.setdefault(a["labels"]["instance"], now)
                    sink.cv.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, instance, timeout):
        deadline = time.time() + timeout
        with self.cv:
            while instance not in self.arrivals:
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)
            return self.arrivals[instance]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default=os.environ.get("VIGIL_BIN", "build/release/vigil"))
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--interval", default="1s", help="evaluation interval (Prometheus duration)")
    ap.add_argument("--group-wait", default="200ms")
    args = ap.parse_args()
    os.environ["VIGIL_BIN"] = os.path.abspath(args.vigil)

    def secs(d):
        return float(d[:-2]) / 1000 if d.endswith("ms") else float(d[:-1])

    bound = secs(args.interval) + secs(args.group_wait)
    sink = Sink()
    with tempfile.TemporaryDirectory(prefix="vigil-alert-latency-") as tmp:
        with open(os.path.join(tmp, "rules.yml"), "w") as f:
            f.write(f"groups:\n  - name: bench\n    interval: {args.interval}\n    rules:\n"
                    "      - alert: BenchHigh\n        expr: bench_value > 10\n")
        with open(os.path.join(tmp, "vigil.yml"), "w") as f:
            f.write(f"global: {{evaluation_interval: {args.interval}}}\nrule_files: ['rules.yml']\n"
                    f"notify:\n  route:\n    receiver: sink\n    group_by: [instance]\n"
                    f"    group_wait: {args.group_wait}\n    group_interval: 1m\n"
                    f"  receivers:\n    - name: sink\n"
                    f"      webhook_configs: [{{url: 'http://127.0.0.1:{sink.port}/hook'}}]\n")
        server = Server(data_dir=os.path.join(tmp, "data"), args=[f"--config.file={tmp}/vigil.yml"]).start()
        try:
            lat = []
            for i in range(args.trials):
                inst = f"t{i}"
                # Stagger the trials over the evaluation cycle.
                time.sleep(0.37 + (i % 7) * secs(args.interval) / 7)
                t0 = time.time()
                st, body = server.remote_write(
                    [({"__name__": "bench_value", "instance": inst}, [(int(t0 * 1000), 42.0)])])
                if st not in (200, 204):
                    raise SystemExit(f"remote_write failed: {st} {body}")
                got = sink.wait(inst, timeout=bound * 10 + 10)
                if got is None:
                    raise SystemExit(f"trial {i}: no notification; log:\n{server.log()}")
                lat.append(got - t0)
            st, text = server.request("GET", "/metrics")
            fig = {}
            for line in text.decode().splitlines():
                for k in ("_sum", "_count"):
                    if line.startswith("vigil_alert_first_notification_delay_seconds" + k):
                        fig[k] = float(line.split()[-1])
        finally:
            server.stop()
            server.cleanup()
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    over = sum(1 for x in lat if x > bound)
    print(f"alert latency, threshold crossed -> webhook received, {len(lat)} trials "
          f"(interval {args.interval}, group_wait {args.group_wait}, bound {bound * 1000:.0f} ms):")
    print(f"  min {lat[0] * 1000:.0f} ms, median {statistics.median(lat) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms; over the bound: {over}")
    if fig.get("_count"):
        print(f"  notifier share (alert start -> notification sent), mean of {fig['_count']:.0f}: "
              f"{fig['_sum'] / fig['_count'] * 1000:.0f} ms")
    return 0 if over == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
