"""Differential test: the same data in Prometheus (Debian's 2.42) and in Vigil, the same
PromQL through both HTTP APIs, results compared within 1e-5 relative tolerance.

Data: counters (with a reset), gauges and a classic histogram, 75 minutes at a 15 s
interval, each sample's timestamp jittered by 1..999 ms (never a whole second). Every
evaluation time and range-query step is a whole number of seconds, and no evaluation time
is a multiple of a subquery step, so no sample or subquery point ever sits exactly on a
window boundary: the few places where Prometheus 3's left-open ranges differ from 2.x's
closed ones cannot decide an outcome.

Intended differences (Vigil follows Prometheus 3, the reference is 2.42), kept out of the
query set rather than papered over:
  * holt_winters (2.x) is double_exponential_smoothing in 3.x, behind a feature flag.
  * Experimental 3.x functions (limitk, sort_by_label, info, ...) do not exist in 2.42.
  * Regex `.` matches newlines only in 3.x; no label value here contains one.
  * Native histograms: 2.42 remote write receiver ignores them; classic ones only here.
  * `atan2` keeps __name__ in 2.42 and drops it in 3.x like every other arithmetic
    operator: those results are compared with __name__ removed (NAME_BLIND).
  * A subquery point exactly at the window's left edge counts in 2.x, not in 3.x. Range
    queries whose step is not a multiple of the subquery steps (37s) would land there, so
    subqueries run only at the 60s step whose evaluation times are never on such a point.

Run: /usr/bin/python3 -m unittest -v test_promql_diff   (VIGIL_BIN names the binary)
"""

import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from vigil_testlib import Server, encode_write_request, free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
REL_TOL = 1e-5
ABS_TOL = 1e-9
STEP_MS = 15_000
# Queries compared without __name__ (see the module docstring).
NAME_BLIND = ("atan2",)
SPAN_MS = 75 * 60_000

JOBS = ["api", "web"]
INSTANCES = ["i0", "i1", "i2"]
BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


class Prometheus:
    """Debian's prometheus on a free loopback port with a temporary data dir."""

    def __init__(self, config="global:\n  scrape_interval: 15s\n",
                 args=("--web.enable-remote-write-receiver",)):
        self.tmp = tempfile.TemporaryDirectory(prefix="vigil-prom-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = os.path.join(self.tmp.name, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(config)
        self.log = open(os.path.join(self.tmp.name, "log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}",
             f"--storage.tsdb.path={os.path.join(self.tmp.name, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn", *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + self.read_log())
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus not ready: " + self.read_log())

    def read_log(self):
        with open(os.path.join(self.tmp.name, "log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.tmp.cleanup()


def post(url, path, body, headers):
    req = urllib.request.Request(url + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def query(url, path, params):
    body = urllib.parse.urlencode(params).encode()
    status, raw = post(url, path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    return status, json.loads(raw)


def make_data(end_ms, seed=42):
    """The workload: list of (labels, [(t, v), ...])."""
    rng = random.Random(seed)
    start = end_ms - SPAN_MS
    n = SPAN_MS // STEP_MS
    out = []

    def times():
        # 1..999 ms of jitter: never on a whole second.
        return [start + k * STEP_MS + rng.randint(1, 999) for k in range(n)]

    for job in JOBS:
        for inst in INSTANCES:
            for method in ["get", "post"]:
                for code in ["200", "500"]:
                    v = rng.uniform(0, 1000)
                    rate = rng.uniform(0.1, 20) * (0.1 if code == "500" else 1)
                    samples = []
                    for k, t in enumerate(times()):
                        v += rng.uniform(0, 2 * rate * 15)
                        if job == "web" and inst == "i1" and method == "get" and code == "200" and k == n // 2:
                            v = rng.uniform(0, 5)  # a counter reset
                        samples.append((t, round(v, 3)))
                    out.append(({"__name__": "http_requests_total", "job": job, "instance": inst,
                                 "method": method, "code": code}, samples))
            load = [(t, round(abs(math.sin(k / 17.0 + len(inst)) * 3 + rng.uniform(0, 1)), 4))
                    for k, t in enumerate(times())]
            out.append(({"__name__": "node_load1", "job": job, "instance": inst}, load))
            for kind in ["free", "used", "cached"]:
                base = rng.uniform(1e8, 8e9)
                mem = [(t, float(int(base + rng.uniform(-1e7, 1e7)))) for t in times()]
                out.append(({"__name__": "node_memory_bytes", "job": job, "instance": inst,
                             "type": kind}, mem))
            # A classic histogram: cumulative buckets, _sum, _count share timestamps.
            ts = times()
            counts = [0.0] * len(BUCKETS)
            total = 0.0
            bucket_series = [[] for _ in BUCKETS]
            sums, cnts = [], []
            for t in ts:
                obs = rng.randint(0, 30)
                for _ in range(obs):
                    d = rng.expovariate(3.0)
                    total += d
                    for i, le in enumerate(BUCKETS):
                        if d <= float(le):
                            counts[i] += 1
                for i in range(len(BUCKETS)):
                    bucket_series[i].append((t, counts[i]))
                sums.append((t, round(total, 6)))
                cnts.append((t, counts[-1]))
            for i, le in enumerate(BUCKETS):
                out.append(({"__name__": "request_duration_seconds_bucket", "job": job,
                             "instance": inst, "le": le}, bucket_series[i]))
            out.append(({"__name__": "request_duration_seconds_sum", "job": job,
                         "instance": inst}, sums))
            out.append(({"__name__": "request_duration_seconds_count", "job": job,
                         "instance": inst}, cnts))
    return out


def push(url, series):
    # Time-ordered batches of 5 minutes, like a remote_write queue.
    lo = min(s[0][0] for _, s in series)
    hi = max(s[-1][0] for _, s in series)
    t = lo
    while t <= hi:
        batch = []
        for labels, samples in series:
            part = [(ts, v) for ts, v in samples if t <= ts < t + 300_000]
            if part:
                batch.append((labels, part))
        status, body = post(url, "/api/v1/write", encode_write_request(batch), {
            "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0"})
        if status not in (200, 204):
            raise RuntimeError(f"remote write to {url}: HTTP {status}: {body[:300]!r}")
        t += 300_000


def expressions(at_s):
    """(expr, instant_only) pairs: hundreds of queries over the workload."""
    C = "http_requests_total"
    G = "node_load1"
    M = "node_memory_bytes"
    B = "request_duration_seconds_bucket"
    out = []

    def add(e, instant_only=False):
        out.append((e, instant_only))

    for sel in [C, f'{C}{{job="api"}}', f'{C}{{job!="api",code="200"}}', f'{C}{{instance=~"i[01]"}}',
                f'{C}{{instance!~"i0|i2"}}', f'{{__name__=~"node_.*",job="web"}}', G, M,
                f'{M}{{type=~"free|used"}}', f'{B}{{le="0.5"}}']:
        add(sel)
    for rng in ["1m", "5m", "10m"]:
        for f in ["rate", "irate", "increase", "resets", "changes"]:
            add(f"{f}({C}[{rng}])")
        add(f"rate({B}[{rng}])")
        for f in ["delta", "idelta", "deriv"]:
            add(f"{f}({G}[{rng}])")
        for f in ["avg", "min", "max", "sum", "count", "stddev", "stdvar", "last", "present"]:
            add(f"{f}_over_time({G}[{rng}])")
        add(f"quantile_over_time(0.9, {G}[{rng}])")
        add(f"{C}[{rng}]", True)
    add(f"predict_linear({G}[10m], 600)")
    add(f"predict_linear({M}[15m], 3600)")
    add(f"absent_over_time(nonexistent_metric[5m])")
    add(f"absent_over_time({G}[5m])")
    for agg in ["sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"]:
        add(f"{agg}(rate({C}[5m]))")
        add(f"{agg} by (job) (rate({C}[5m]))")
        add(f"{agg} without (instance, method) (rate({C}[5m]))")
        add(f"{agg} by (type) ({M})")
    for k in [1, 3]:
        add(f"topk({k}, rate({C}[5m]))")
        add(f"bottomk({k}, {G})")
        add(f"topk by (job) ({k}, {M})")
    for q in ["0", "0.25", "0.5", "0.9", "1"]:
        add(f"quantile({q}, {G})")
        add(f"quantile by (job) ({q}, rate({C}[5m]))")
    add(f'count_values("load", round({G}))')
    add(f'count_values by (job) ("v", round({G} * 2))')
    # Binary operators.
    for op in ["+", "-", "*", "/", "%", "^", "atan2"]:
        add(f"{G} {op} 2")
        add(f"2 {op} {G}")
        add(f'{M}{{type="used"}} {op} ignoring(type) {M}{{type="free"}}')
    for op in ["==", "!=", ">", "<", ">=", "<="]:
        add(f"{G} {op} 1.5")
        add(f"{G} {op} bool 1.5")
        add(f"rate({C}[5m]) {op} on(job, instance, method, code) rate({C}[10m])")
    add(f"{G} and {G} > 1")
    add(f"{G} or {M}")
    add(f'{G} unless on(instance) {G}{{instance="i1"}}')
    add(f"{M} and on(instance) ({G} > 1.5)")
    add(f"rate({C}[5m]) / ignoring(code) group_left sum without(code) (rate({C}[5m]))")
    add(f"sum by (job, instance) (rate({C}[5m])) / on(job, instance) group_left {G}")
    add(f"{G} * on(job, instance) group_right sum by (job, instance) ({M})")
    add(f"sum by (job) (rate({C}{{code=\"500\"}}[5m])) / sum by (job) (rate({C}[5m]))")
    add(f"1 - avg by (job) ({M}{{type=\"free\"}} / ignoring(type) {M}{{type=\"used\"}})")
    add(f"-{G}")
    add(f"+{G}")
    add(f"({G} + 1) * 3 - {G} / 2")
    add("1 + 2 * 3 ^ 2 % 5")
    add("2 ^ 3 ^ 2")
    add("(1 > bool 0) + 1")
    # Functions.
    for f in ["abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log2", "log10", "sgn",
              "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
              "deg", "rad", "timestamp"]:
        add(f"{f}({G} / 4)" if f != "timestamp" else f"timestamp({G})")
    add(f"round({G}, 0.1)")
    add(f"clamp({G}, 0.5, 2)")
    add(f"clamp_min({G}, 1)")
    add(f"clamp_max({G}, 1)")
    add(f'label_replace({G}, "host", "$1", "instance", "i(.*)")')
    add(f'label_replace({G}, "instance", "", "instance", ".*")')
    add(f'label_join({G}, "id", "-", "job", "instance")')
    add("absent(nonexistent_metric)")
    add(f'absent(nonexistent_metric{{job="x"}})')
    add(f"absent({G})")
    add("vector(1)")
    add(f"scalar(sum({G}))")
    add(f"scalar({G})")
    add("time()")
    add(f"sort(rate({C}[5m]))")
    add(f"sort_desc({G})")
    for f in ["minute", "hour", "day_of_week", "day_of_month", "days_in_month", "month", "year",
              "day_of_year"]:
        add(f"{f}()")
        add(f"{f}(vector(1700000000))")
    add(f"histogram_quantile(0.9, sum by (le) (rate({B}[5m])))")
    add(f"histogram_quantile(0.5, sum by (job, le) (rate({B}[5m])))")
    add(f"histogram_quantile(0.99, rate({B}[10m]))")
    add(f"histogram_quantile(0, sum by (le) (rate({B}[5m])))")
    add(f"histogram_quantile(1, sum by (le) (rate({B}[5m])))")
    add(f"rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])")
    # Subqueries, offsets, @.
    add(f"max_over_time(rate({C}[1m])[10m:1m])")
    add(f"avg_over_time({G}[15m:30s])")
    add(f"min_over_time(sum({G})[10m:])")
    add(f"rate({C}[5m:30s])")
    add(f"sum_over_time(sum by (job) (rate({C}[2m]))[20m:2m])")
    add(f"{G}[10m:1m]", True)
    add(f"{G} offset 5m")
    add(f"rate({C}[5m] offset 10m)")
    add(f"sum(rate({C}[5m] offset 1m)) by (job)")
    add(f"{G} offset -2m")
    add(f"{G} @ {at_s}")
    add(f"rate({C}[5m] @ {at_s})")
    add(f"sum({G} @ {at_s}) - sum({G})")
    add(f"max_over_time({G}[10m:1m] @ {at_s})")
    return out


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


def normalize(data, name_blind=False):
    """A result as comparable Python values: ('vector', {labels: (t, v)}) etc."""
    rtype = data["resultType"]
    res = data["result"]
    if rtype in ("scalar", "string"):
        return rtype, (res[0], res[1])
    out = {}
    for s in res:
        key = tuple(sorted((k, v) for k, v in s["metric"].items()
                           if not (name_blind and k == "__name__")))
        if rtype == "vector":
            out[key] = (s["value"][0], float(s["value"][1]))
        else:
            out[key] = [(t, float(v)) for t, v in s["values"]]
    return rtype, out


def diff(want, got):
    """None when equal within tolerance, else a short description."""
    if want[0] != got[0]:
        return f"resultType {got[0]} != {want[0]}"
    rtype = want[0]
    if rtype == "scalar":
        if want[1][0] != got[1][0] or not close(float(want[1][1]), float(got[1][1])):
            return f"scalar {got[1]} != {want[1]}"
        return None
    if rtype == "string":
        return None if want[1] == got[1] else f"string {got[1]} != {want[1]}"
    w, g = want[1], got[1]
    if set(w) != set(g):
        missing = sorted(set(w) - set(g))[:3]
        extra = sorted(set(g) - set(w))[:3]
        return f"series differ: missing {missing} extra {extra} ({len(g)} vs {len(w)})"
    for k in w:
        if rtype == "vector":
            if w[k][0] != g[k][0] or not close(w[k][1], g[k][1]):
                return f"{k}: {g[k]} != {w[k]}"
        else:
            if len(w[k]) != len(g[k]):
                return f"{k}: {len(g[k])} points != {len(w[k])}"
            for (tw, vw), (tg, vg) in zip(w[k], g[k]):
                if tw != tg or not close(vw, vg):
                    return f"{k} at {tw}: ({tg}, {vg}) != ({tw}, {vw})"
    return None


class PromqlDiffTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(PROMETHEUS):
            raise unittest.SkipTest("Debian's prometheus is not installed (scripts/setup.sh)")
        now_ms = int(time.time() * 1000)
        # End on a whole minute in the recent past, so Prometheus's head accepts the data.
        cls.end_ms = (now_ms // 60_000) * 60_000 - 60_000
        cls.data = make_data(cls.end_ms)
        cls.prom = Prometheus()
        cls.vigil = Server().start()
        try:
            push(cls.prom.url, cls.data)
            push(cls.vigil.url, cls.data)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        cls.vigil.cleanup()

    def run_set(self, path, param_sets):
        failures = []
        n = 0
        for params in param_sets:
            ps, pj = query(self.prom.url, path, params)
            vs, vj = query(self.vigil.url, path, params)
            n += 1
            if ps != 200:
                # Both must refuse what Prometheus refuses, with the same error type.
                if vs != ps or vj.get("errorType") != pj.get("errorType"):
                    failures.append(f"{params}: prometheus HTTP {ps} {pj.get('error')}; "
                                    f"vigil HTTP {vs} {vj.get('error') or ''}")
                continue
            if vs != 200:
                failures.append(f"{params}: vigil HTTP {vs}: {vj.get('error')}")
                continue
            blind = any(w in params["query"] for w in NAME_BLIND)
            d = diff(normalize(pj["data"], blind), normalize(vj["data"], blind))
            if d:
                failures.append(f"{params}: {d}")
        return n, failures

    def test_instant_queries_match_prometheus(self):
        end_s = self.end_ms // 1000
        times = [end_s - 13, end_s - 20 * 60 + 7, end_s - 47 * 60 + 3]
        at_s = end_s - 30 * 60 + 11
        params = [{"query": e, "time": str(t)} for e, _ in expressions(at_s) for t in times]
        n, failures = self.run_set("/api/v1/query", params)
        self.assertGreater(n, 600)
        self.assertEqual(failures, [], f"{len(failures)} of {n} instant queries differ:\n" +
                         "\n".join(failures[:40]))

    def test_range_queries_match_prometheus(self):
        end_s = self.end_ms // 1000
        at_s = end_s - 30 * 60 + 11
        params = []
        for e, instant_only in expressions(at_s):
            if instant_only:
                continue
            params.append({"query": e, "start": str(end_s - 50 * 60 + 7), "end": str(end_s - 3),
                           "step": "60"})
            if ":" not in e:  # no subqueries at this step (module docstring)
                params.append({"query": e, "start": str(end_s - 20 * 60 + 1),
                               "end": str(end_s - 1), "step": "37s"})
        n, failures = self.run_set("/api/v1/query_range", params)
        self.assertGreater(n, 400)
        self.assertEqual(failures, [], f"{len(failures)} of {n} range queries differ:\n" +
                         "\n".join(failures[:40]))

    def test_errors_match_prometheus(self):
        end_s = self.end_ms // 1000
        cases = [
            ("/api/v1/query", {"query": "sum(", "time": str(end_s)}),
            ("/api/v1/query", {"query": "rate(node_load1)", "time": str(end_s)}),
            ("/api/v1/query", {"query": "up", "time": "yesterday"}),
            ("/api/v1/query_range", {"query": "node_load1", "start": str(end_s), "end": str(end_s - 60), "step": "15"}),
            ("/api/v1/query_range", {"query": "node_load1", "start": str(end_s - 60), "end": str(end_s), "step": "0"}),
            ("/api/v1/query_range", {"query": "node_load1[5m]", "start": str(end_s - 60), "end": str(end_s), "step": "15"}),
            ("/api/v1/query_range", {"query": "node_load1", "start": "0", "end": str(end_s), "step": "1"}),
        ]
        for path, params in cases:
            ps, pj = query(self.prom.url, path, params)
            vs, vj = query(self.vigil.url, path, params)
            self.assertEqual(vs, ps, f"{path} {params}: {vj} vs {pj}")
            self.assertEqual(vj.get("errorType"), pj.get("errorType"), f"{path} {params}")


if __name__ == "__main__":
    unittest.main()
