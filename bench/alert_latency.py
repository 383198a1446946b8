#!/usr/bin/python3
"""Alert latency benchmark: how long from a threshold crossed in the data to the webhook
notification received, against the bound issue 6 sets (one evaluation interval plus
group_wait), and where that time goes.

Starts Vigil on 127.0.0.1 with one alerting rule (`bench_value > 10`, `for: 0`) evaluated
every --interval, a notifier whose route groups by instance (so every trial opens a new
aggregation group and waits group_wait), and a local webhook sink (HTTP/1.1 keep-alive, as
most receivers are). Each trial pushes a value over the threshold for a fresh instance
through remote_write and times the arrival of the webhook's request line at the sink.

The trials are placed on the evaluation cycle (its phase is learnt from the first alert's
startsAt): every other trial at an even spread over the cycle, the others in the worst
places, 3 ms before to 3 ms after a slot: a sample pushed just after a slot, or pushed just
before it but committed after its query ran, waits almost (or a little over) a whole
interval for the next slot.

  /usr/bin/python3 bench/alert_latency.py --vigil build/release/vigil --trials 40

Where the time goes, per trial (from the alert's startsAt, which is the evaluation slot that
fired it, and from Vigil's own metrics read between trials, one observation per trial):

  push        push -> remote_write answered (the sample is committed before the answer)
  slot wait   push -> the first evaluation slot that sees the sample (structural: up to one
              interval, depending on where in the cycle the sample lands)
  evaluation  slot -> alert received by the notifier (the rule manager's settle delay,
              timer wake-up, query, hand-off); "start late" is how late the timer woke
              (not counted in the latency unless evaluation exceeds group_wait)
  group_wait  received -> group flushed; "flush late" is how far the flush is past
              slot + group_wait
  dispatch    flushed -> first send attempt (hand-off to the integration's sender thread)
  request     send attempt -> request line received by the sink (payload, HTTP client,
              loopback, the sink's accept)
  overhead    everything but slot wait and the nominal group_wait: what the bound leaves
              no room for when the slot wait is close to a whole interval

Timing is wall clock on loopback; run it on an idle machine and repeat it.
"""

import argparse
import calendar
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

# Where the worst-case trials push, in seconds after an evaluation slot.
WORST_OFFSETS = [-0.003, 0.00025, -0.002, 0.0005, -0.001, 0.001, -0.0005, 0.002, -0.00025, 0.003]
STAGE = "vigil_alert_first_notification_stage_seconds"
START_DELAY = "vigil_rule_group_iteration_start_delay_seconds"


class Sink:
    """Webhook receiver that stamps each request when its request line arrives."""

    def __init__(self):
        self.arrivals = {}  # instance -> (arrival time, startsAt of the alert in ms)
        self.connections = set()  # client addresses: how many connections the sender opened
        self.cv = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def parse_request(self):
                # Called right after the request line was read: the notification has arrived.
                self.arrived = time.time()
                return super().parse_request()

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with sink.cv:
                    sink.connections.add(self.client_address)
                    for a in body["alerts"]:
                        if a["status"] == "firing":
                            sink.arrivals.setdefault(a["labels"]["instance"],
                                                     (self.arrived, parse_ms(a["startsAt"])))
                    sink.cv.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
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


def parse_ms(rfc3339):
    """'2026-11-22T13:01:02.345Z' -> milliseconds since the epoch."""
    date, frac = rfc3339.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac[:3].ljust(3, "0"))


def histogram_sums(text):
    """{(family, label value): (sum, count)} of the histograms this bench reads."""
    out = {}
    for line in text.splitlines():
        for fam in (STAGE, START_DELAY):
            for suffix, i in (("_sum", 0), ("_count", 1)):
                if line.startswith(fam + suffix + "{"):
                    # The stage, or the rule group's name (its key is "file;name").
                    label = line[line.index('"') + 1:line.rindex('"')].split(";")[-1]
                    cur = list(out.get((fam, label), (0.0, 0.0)))
                    cur[i] = float(line.split()[-1])
                    out[(fam, label)] = tuple(cur)
    return out


def delta(before, after, fam, label):
    """Mean of the observations of one histogram between two scrapes, and their count."""
    s0, c0 = before.get((fam, label), (0.0, 0.0))
    s1, c1 = after.get((fam, label), (0.0, 0.0))
    n = int(c1 - c0)
    return ((s1 - s0) / n if n else None), n


def spread(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return "n/a"
    return f"{xs[0]:8.2f} {statistics.median(xs):8.2f} {xs[-1]:8.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default=os.environ.get("VIGIL_BIN", "build/release/vigil"))
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--interval", default="1s", help="evaluation interval (Prometheus duration)")
    ap.add_argument("--group-wait", default="200ms")
    ap.add_argument("--verbose", action="store_true", help="print every trial")
    args = ap.parse_args()
    os.environ["VIGIL_BIN"] = os.path.abspath(args.vigil)

    def secs(d):
        return float(d[:-2]) / 1000 if d.endswith("ms") else float(d[:-1])

    group_wait = secs(args.group_wait)
    interval = secs(args.interval)
    bound = interval + group_wait
    slot_phase = None  # where the rule group's slots fall, in seconds modulo the interval
    sink = Sink()
    trials = []
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

        def scrape():
            st, text = server.request("GET", "/metrics")
            return histogram_sums(text.decode())

        try:
            for i in range(args.trials):
                inst = f"t{i}"
                before = scrape()
                if slot_phase is None:
                    time.sleep(0.37)
                else:
                    # Push at the chosen place in the cycle, in the next cycle that leaves
                    # at least 300 ms to get there.
                    if i % 2 == 0:
                        offset = (i // 2) * interval / ((args.trials + 1) // 2)
                    else:
                        offset = WORST_OFFSETS[(i // 2) % len(WORST_OFFSETS)]
                    start = time.time() + 0.3
                    cycle = start - (start - slot_phase) % interval
                    target = cycle + offset if cycle + offset >= start else cycle + interval + offset
                    time.sleep(max(0.0, target - time.time() - 0.002))
                    while time.time() < target:
                        pass  # the last 2 ms spin: sleep alone overshoots by more than that
                t0 = time.time()
                st, body = server.remote_write(
                    [({"__name__": "bench_value", "instance": inst}, [(int(t0 * 1000), 42.0)])])
                pushed = time.time()
                if st not in (200, 204):
                    raise SystemExit(f"remote_write failed: {st} {body}")
                got = sink.wait(inst, timeout=bound * 10 + 10)
                if got is None:
                    raise SystemExit(f"trial {i}: no notification; log:\n{server.log()}")
                arrived, slot_ms = got
                if slot_phase is None:
                    slot_phase = (slot_ms / 1000) % interval
                # The sender records its stages after the receiver answered.
                time.sleep(0.05)
                after = scrape()
                t = {"trial": i, "total": arrived - t0, "slot_wait": slot_ms / 1000 - t0, "push": pushed - t0,
                     "after_slot": (t0 - slot_phase) % interval}
                for stage in ("evaluation", "group_wait", "dispatch", "send"):
                    t[stage], n = delta(before, after, STAGE, stage)
                    if n != 1:
                        t[stage] = None  # not exactly this trial's alert: leave it out
                t["start"], _ = delta(before, after, START_DELAY, "bench")
                t["overhead"] = arrived - slot_ms / 1000 - group_wait
                if None not in (t["evaluation"], t["group_wait"], t["dispatch"]):
                    t["flush_late"] = t["evaluation"] + t["group_wait"] - group_wait
                    t["request"] = arrived - slot_ms / 1000 - t["evaluation"] - t["group_wait"] - t["dispatch"]
                trials.append(t)
        finally:
            server.stop()
            server.cleanup()

    lat = sorted(t["total"] for t in trials)
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    over = [t for t in trials if t["total"] > bound]
    print(f"alert latency, threshold crossed -> webhook request received, {len(lat)} trials "
          f"(interval {args.interval}, group_wait {args.group_wait}, bound {bound * 1000:.0f} ms):")
    print(f"  min {lat[0] * 1000:.1f} ms, median {statistics.median(lat) * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms; over the bound: {len(over)}; "
          f"{len(sink.connections)} connection(s) to the sink")
    print("  where the time goes, ms          min   median      max")
    rows = [("push", "push"), ("slot wait", "slot_wait"), ("evaluation", "evaluation"), ("  start late", "start"),
            ("group_wait", "group_wait"), ("  flush late", "flush_late"), ("dispatch", "dispatch"),
            ("request", "request"), ("send (to answer)", "send"), ("overhead", "overhead")]
    for name, key in rows:
        xs = [t.get(key) * 1000 if t.get(key) is not None else None for t in trials]
        print(f"    {name:<28}{spread(xs)}")
    for t in (trials if args.verbose else over):
        # Signed position of the push relative to the nearest slot.
        rel = t["after_slot"] if t["after_slot"] < interval / 2 else t["after_slot"] - interval
        print(f"  trial {t['trial']} (pushed {rel * 1000:+.2f} ms from a slot, answered in {t['push'] * 1000:.2f} ms): "
              f"{t['total'] * 1000:.2f} ms = slot wait {t['slot_wait'] * 1000:.2f} "
              f"+ group_wait {group_wait * 1000:.0f} + overhead {t['overhead'] * 1000:.2f} ms")
    return 0 if not over else 1


if __name__ == "__main__":
    sys.exit(main())
