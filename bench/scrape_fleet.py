#!/usr/bin/python3
"""Scrape-fleet benchmark (issue 5, "Proof"): how many node_exporter-like targets Vigil
scrapes every 15 s without missing a scrape, beside Prometheus scraping the same fleet.

One lightweight fleet process (asyncio, a child of this script) serves N targets of ~800
series each (node_exporter-like families with HELP/TYPE, gzip when asked, values changing
every interval) on 127.0.0.1, spread over several ports, each target at /t/<i>/metrics.
The scraper under test gets the fleet through file_sd and scrapes it every --interval
seconds. After a warm-up of --warmup intervals, a window of --intervals intervals is
measured:

  missed        scrape slots with no sample: for every target, the gaps between its
                consecutive `up` samples in the window (a gap of k intervals is k-1 missed),
                plus the slots before its first and after its last sample, and all of a
                target that has none;
  failed        scrapes that ran but failed (up == 0: timeout, refused, ...);
  duration      p50/p90/p99/max of scrape_duration_seconds over the window;
  cpu           user+sys CPU seconds of the scraper process in the window, and per 1000
                scrapes; the fleet's own CPU is shown too (if it nears one core, the fleet,
                not the scraper, is the limit, and the line says so);
  rss           the scraper's resident memory at the end.

A run "keeps up" when missed == 0 and failed == 0. A trial is cut short and fails when the
scraper's RSS passes --max-rss-gb (every target adds ~800 series: memory bounds N well
before CPU on a small machine).

Usage (from the repository root, on an idle machine; needs Debian's prometheus for the
comparison):

  # one or more fixed sizes, Vigil and Prometheus on the same fleet:
  /usr/bin/python3 bench/scrape_fleet.py --vigil build/vigil --prometheus /usr/bin/prometheus \
      --n 250,1000

  # the largest N Vigil keeps up with: doubling from --start (500), then bisecting to
  # --resolution (250), no new trial once --budget-min (30) would be passed; then
  # Prometheus on the same fleet at that N, and both at --compare-n (1000), where both
  # fit in memory, for CPU per 1000 scrapes side by side:
  /usr/bin/python3 bench/scrape_fleet.py --vigil build/vigil --prometheus /usr/bin/prometheus \
      --search --budget-min 30 | tee fleet.jsonl

  # add --search-prometheus to search Prometheus's largest N too (the same budget again).

Each trial takes about (warmup + intervals + 1) * interval + 15 s plus start and stop:
120-135 s with the defaults (15 s interval, 2 warm-up and 4 measured intervals, one to let
the window's last scrapes land), longer at large N
(creating and then ending 800 series per target); the search charges a trial
(1 + N/4000) times that against its budget. The whole command above takes about 40 min:
the 30 min search budget, then three comparison trials. Each trial's JSON line is printed
as soon as it ends and a summary line last ("largest_n_kept_up", the trials at the largest
passing and smallest failing N, Prometheus beside them). A trial that fails on memory says
"stopped": "RSS above --max-rss-gb ..." (each target adds ~800 series; on a 2-core, 23 GB
machine memory, not the scrape loop, may be what bounds N: say so in the report).

Quick check at small N (not a measurement): --n 20 --interval 3 --intervals 3 --warmup 4
(Prometheus applies discovered targets every 5 s, so its warm-up needs at least that).
"""

import argparse
import asyncio
import gzip
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SERIES_TARGET = 800
TARGETS_PER_PORT = 256


# --- the fleet ---------------------------------------------------------------------------

def render(seed):
    """A node_exporter-like exposition of ~800 series (text format 0.0.4)."""
    rnd = random.Random(seed)
    out = []
    n = 0

    def family(name, typ, help_text, label_sets):
        nonlocal n
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {typ}\n")
        for labels in label_sets:
            lbl = ",".join(f'{k}="{v}"' for k, v in labels)
            v = rnd.random() * 1e6 if typ == "counter" else rnd.random() * 100
            out.append(f"{name}{{{lbl}}} {v:.6g}\n" if lbl else f"{name} {v:.6g}\n")
            n += 1

    cpus = [str(i) for i in range(8)]
    modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
    family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.",
           [(("cpu", c), ("mode", m)) for c in cpus for m in modes])
    for f in ["guest_seconds_total", "scaling_frequency_hertz", "frequency_max_hertz"]:
        family(f"node_cpu_{f}", "gauge", f"CPU {f}.", [(("cpu", c),) for c in cpus])
    mounts = [("/", "/dev/vda1", "ext4"), ("/boot", "/dev/vda2", "ext4"), ("/run", "tmpfs", "tmpfs"),
              ("/home", "/dev/vdb1", "xfs"), ("/var", "/dev/vdc1", "xfs"), ("/tmp", "tmpfs", "tmpfs")]
    for f in ["avail_bytes", "free_bytes", "size_bytes", "files", "files_free", "readonly",
              "device_error"]:
        family(f"node_filesystem_{f}", "gauge", f"Filesystem {f}.",
               [(("device", d), ("fstype", t), ("mountpoint", m)) for m, d, t in mounts])
    devs = ["eth0", "eth1", "lo", "docker0"]
    for f in ["receive_bytes_total", "transmit_bytes_total", "receive_packets_total",
              "transmit_packets_total", "receive_errs_total", "transmit_errs_total",
              "receive_drop_total", "transmit_drop_total", "receive_multicast_total",
              "transmit_colls_total", "receive_fifo_total", "transmit_fifo_total",
              "receive_frame_total", "transmit_carrier_total", "receive_compressed_total",
              "transmit_compressed_total"]:
        family(f"node_network_{f}", "counter", f"Network device statistic {f}.",
               [(("device", d),) for d in devs])
    for f in ["up", "mtu_bytes", "speed_bytes", "carrier", "flags", "iface_id"]:
        family(f"node_network_{f}", "gauge", f"Network {f}.", [(("device", d),) for d in devs])
    disks = ["vda", "vdb", "vdc", "sr0"]
    for f in ["read_bytes_total", "written_bytes_total", "reads_completed_total",
              "writes_completed_total", "read_time_seconds_total", "write_time_seconds_total",
              "io_time_seconds_total", "io_time_weighted_seconds_total", "reads_merged_total",
              "writes_merged_total", "discards_completed_total", "discarded_sectors_total",
              "flush_requests_total", "io_now"]:
        family(f"node_disk_{f}", "counter", f"Disk statistic {f}.", [(("device", d),) for d in disks])
    i = 0
    while n < SERIES_TARGET - 4:
        family(f"node_memory_Field{i}_bytes", "gauge", f"Memory information field Field{i}.", [()])
        i += 1
    for f in ["load1", "load5", "load15", "boot_time_seconds"]:
        family(f"node_{f}", "gauge", f"{f}.", [()])
    return "".join(out).encode(), n


class FleetStats:
    def __init__(self):
        self.requests = 0


def serve_fleet(n, interval, ready_fd):
    """Runs in the fleet child process: serves n targets until killed."""
    variants = [render(seed)[0] for seed in range(4)]
    gzipped = [gzip.compress(b, 1) for b in variants]
    stats = FleetStats()

    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                gz = False
                close = False
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    lh = h.lower()
                    if lh.startswith(b"accept-encoding:") and b"gzip" in lh:
                        gz = True
                    elif lh.startswith(b"connection:") and b"close" in lh:
                        close = True
                v = int(time.time() // interval) % len(variants)
                body = gzipped[v] if gz else variants[v]
                head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                        + (b"Content-Encoding: gzip\r\n" if gz else b"")
                        + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
                writer.write(head + body)
                await writer.drain()
                stats.requests += 1
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main():
        nports = max(1, math.ceil(n / TARGETS_PER_PORT))
        ports = []
        for _ in range(nports):
            srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
            ports.append(srv.sockets[0].getsockname()[1])
        os.write(ready_fd, (json.dumps(ports) + "\n").encode())
        os.close(ready_fd)
        while True:
            await asyncio.sleep(3600)

    asyncio.run(main())


class Fleet:
    """The fleet child process for one trial."""

    def __init__(self, n, interval):
        r, w = os.pipe()
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve-fleet",
                                      str(n), "--interval", str(interval), "--ready-fd", str(w)],
                                     pass_fds=(w,))
        os.close(w)
        with os.fdopen(r) as f:
            line = f.readline()
        if not line:
            raise RuntimeError("the fleet process did not start")
        self.ports = json.loads(line)
        self.n = n

    def sd(self):
        return [{"targets": [f"127.0.0.1:{self.ports[i // TARGETS_PER_PORT]}"],
                 "labels": {"__metrics_path__": f"/t/{i}/metrics", "fleet_id": str(i)}}
                for i in range(self.n)]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


# --- measuring a scraper -------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """(user+sys CPU seconds, RSS bytes) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def api(url, path, **params):
    q = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{q}", timeout=300) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body}")
    return body["data"]


def self_counters(url):
    """Vigil's own scrape counters from its /metrics (0 when absent, e.g. Prometheus)."""
    out = {"vigil_scrape_scrapes_total": 0.0, "vigil_scrape_missed_total": 0.0}
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=60) as r:
            for line in r.read().decode().splitlines():
                name, _, value = line.partition(" ")
                if name in out:
                    out[name] = float(value)
    except OSError:
        pass
    return out


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, math.ceil(p / 100 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def analyse(url, n, t_start, t_end, interval):
    """Missed and failed scrapes and scrape durations of every target in (t_start, t_end]."""
    window = int(round(t_end - t_start))
    ups = api(url, "/api/v1/query", query=f'up{{job="fleet"}}[{window}s]', time=f"{t_end:.3f}")
    durs = api(url, "/api/v1/query", query=f'scrape_duration_seconds{{job="fleet"}}[{window}s]',
               time=f"{t_end:.3f}")
    missed = failed = scrapes = 0
    seen = set()
    for s in ups["result"]:
        ts = sorted(float(t) for t, _ in s["values"])
        seen.add(s["metric"].get("fleet_id"))
        scrapes += len(ts)
        failed += sum(1 for _, v in s["values"] if float(v) != 1.0)
        if not ts:
            continue
        # Slots with no sample: between samples (a gap of k intervals is k-1 missed), and
        # before the first and after the last one (timestamps jitter by a few ms in
        # Prometheus, hence the tolerance).
        missed += sum(max(0, int(round((b - a) / interval)) - 1) for a, b in zip(ts, ts[1:]))
        missed += max(0, int((ts[0] - t_start) / interval - 0.1))
        missed += max(0, int((t_end - ts[-1]) / interval - 0.1))
    absent = n - len(seen)
    missed += absent * int(window / interval)
    d = sorted(float(v) for s in durs["result"] for _, v in s["values"])
    return {"scrapes": scrapes, "missed": missed, "failed": failed, "targets_without_samples": absent,
            "duration_p50_ms": round(1000 * percentile(d, 50), 2) if d else None,
            "duration_p90_ms": round(1000 * percentile(d, 90), 2) if d else None,
            "duration_p99_ms": round(1000 * percentile(d, 99), 2) if d else None,
            "duration_max_ms": round(1000 * d[-1], 2) if d else None}


def run_trial(kind, binary, n, args, workdir):
    fleet = Fleet(n, args.interval)
    sd_path = os.path.join(workdir, f"fleet-{kind}-{n}.json")
    with open(sd_path, "w") as f:
        json.dump(fleet.sd(), f)
    cfg = os.path.join(workdir, f"{kind}-{n}.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  scrape_interval: {int(args.interval * 1000)}ms\n"
                f"  scrape_timeout: {int(args.interval * 2000 / 3)}ms\n"
                f"scrape_configs:\n  - job_name: fleet\n    file_sd_configs:\n"
                f"      - files: ['{sd_path}']\n")
    port = free_port()
    data = tempfile.mkdtemp(dir=workdir, prefix=f"{kind}-data-")
    if kind == "vigil":
        cmd = [binary, "server", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    else:
        cmd = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    log = open(os.path.join(workdir, f"{kind}-{n}.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    result = {"system": kind, "targets": n, "interval_s": args.interval}
    max_rss = args.max_rss_gb * (1 << 30)
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} exited with {proc.returncode} (log: {log.name})")
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"{kind} not ready after 120 s")
                time.sleep(0.2)

        def wait_until(t_stop):
            """Sleeps until t_stop watching RSS; returns the reason to stop early or None."""
            while time.time() < t_stop:
                if proc.poll() is not None:
                    return f"exited with {proc.returncode}"
                if proc_stat(proc.pid)[1] > max_rss:
                    return f"RSS above --max-rss-gb {args.max_rss_gb}"
                time.sleep(min(1.0, max(0.0, t_stop - time.time())))
            return None

        why = wait_until(time.time() + args.warmup * args.interval)
        if why is None:
            s0 = self_counters(url) if kind == "vigil" else {}
            c0, _ = proc_stat(proc.pid)
            f0, _ = proc_stat(fleet.proc.pid)
            t0 = time.time()
            why = wait_until(t0 + args.intervals * args.interval)
        if why is not None:
            result.update({"keeps_up": False, "stopped": why})
            return result
        c1, rss = proc_stat(proc.pid)
        f1, _ = proc_stat(fleet.proc.pid)
        t1 = time.time()
        s1 = self_counters(url) if kind == "vigil" else {}
        # Samples are stamped at the scrape's start (Vigil: the slot's time), so the last
        # slots of the window may still be in flight or waiting for the loop: give them one
        # more interval (a scrape that takes longer has missed its next slot anyway).
        time.sleep(args.interval)
        stats = analyse(url, n, t0, t1, args.interval)
        window = t1 - t0
        result.update(stats)
        result.update({
            "window_s": round(window, 1),
            "expected_scrapes": int(n * window / args.interval),
            "cpu_s": round(c1 - c0, 2),
            "cpu_s_per_1000_scrapes": round((c1 - c0) / max(stats["scrapes"], 1) * 1000, 3),
            "cpu_cores": round((c1 - c0) / window, 3),
            "fleet_cpu_cores": round((f1 - f0) / window, 3),
            "rss_mib": round(rss / (1 << 20)),
        })
        # Vigil's own count of the window's completed and skipped scrapes, a cross-check.
        for k in s1:
            result[k.replace("_total", "_in_window")] = int(s1[k] - s0.get(k, 0))
        result["keeps_up"] = stats["missed"] == 0 and stats["failed"] == 0
        if result["fleet_cpu_cores"] > 0.85:
            result["warning"] = "the fleet used most of a core: the fleet may be the limit"
        return result
    except (OSError, RuntimeError) as e:
        result.update({"keeps_up": False, "stopped": str(e)})
        return result
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        fleet.stop()
        subprocess.run(["rm", "-rf", data])


def trial_seconds(args):
    return (args.warmup + args.intervals + 1) * args.interval + 15


def search(kind, binary, args, workdir, emit):
    """Doubling from args.start until a trial fails, then bisection; bounded by the budget.
    Returns (largest passing N or 0, smallest failing N or None, the trial at each)."""
    deadline = time.time() + args.budget_min * 60
    fd_cap = args.max_n
    lo, hi, best, worst = 0, None, None, None
    n = args.start
    while time.time() + trial_seconds(args) * (1 + n / 4000) <= deadline:
        r = run_trial(kind, binary, n, args, workdir)
        emit(r)
        if r["keeps_up"]:
            lo, best = n, r
            if hi is None:
                if n >= fd_cap:
                    break
                n = min(n * 2, fd_cap)
                continue
        else:
            hi, worst = n, r
        if hi is not None:
            step = max(args.resolution, int(lo * 0.05))
            if hi - lo <= step:
                break
            n = (lo + hi) // 2
            n -= n % max(1, args.resolution // 2)
            if n <= lo:
                n = lo + max(1, args.resolution // 2)
    return lo, hi, best, worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default="build/vigil")
    ap.add_argument("--prometheus", default="", help="Prometheus binary (empty: Vigil only)")
    ap.add_argument("--n", default="250,1000", help="comma-separated target counts")
    ap.add_argument("--interval", type=float, default=15)
    ap.add_argument("--intervals", type=int, default=4, help="measured intervals per trial")
    ap.add_argument("--warmup", type=float, default=2, help="warm-up intervals per trial")
    ap.add_argument("--max-rss-gb", type=float, default=0,
                    help="stop a trial whose scraper passes this RSS (default: 70%% of MemAvailable)")
    ap.add_argument("--search", action="store_true", help="find the largest N Vigil keeps up with")
    ap.add_argument("--search-prometheus", action="store_true",
                    help="with --search: also search Prometheus's largest N (same budget again)")
    ap.add_argument("--start", type=int, default=500)
    ap.add_argument("--resolution", type=int, default=250, help="bisection stops at this gap")
    ap.add_argument("--max-n", type=int, default=0,
                    help="largest N tried (default: what the open-files limit allows)")
    ap.add_argument("--budget-min", type=float, default=30, help="time budget of one search")
    ap.add_argument("--compare-n", type=int, default=1000,
                    help="with --search and --prometheus: also run both at this N (0: skip)")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--serve-fleet", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--ready-fd", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_fleet:
        serve_fleet(args.serve_fleet, args.interval, args.ready_fd)
        return 0

    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not args.max_n:
        # Each target holds one connection in the fleet and one in the scraper.
        args.max_n = max(100, hard - 2000)
    if not args.max_rss_gb:
        with open("/proc/meminfo") as f:
            avail = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:"))
        args.max_rss_gb = round(avail * 1024 * 0.7 / (1 << 30), 1)
    if not os.path.exists(args.vigil):
        sys.exit(f"no Vigil binary at {args.vigil} (scripts/build.sh release vigil)")

    results = []

    def emit(r):
        results.append(r)
        print(json.dumps(r), flush=True)

    with tempfile.TemporaryDirectory(prefix="vigil-fleet-", dir=args.workdir or None) as workdir:
        print(json.dumps({"config": {k: v for k, v in vars(args).items()
                                     if k not in ("serve_fleet", "ready_fd")},
                          "cores": os.cpu_count(), "start": time.strftime("%H:%M:%S")}), flush=True)
        if args.search:
            lo, hi, best, worst = search("vigil", args.vigil, args, workdir, emit)
            summary = {"summary": "vigil", "largest_n_kept_up": lo, "smallest_n_failed": hi,
                       "at_largest": best, "at_smallest_failed": worst}
            if args.prometheus:
                if args.search_prometheus:
                    plo, phi, pbest, _ = search("prometheus", args.prometheus, args, workdir, emit)
                    summary["prometheus_largest_n_kept_up"] = plo
                    summary["prometheus_smallest_n_failed"] = phi
                    summary["prometheus_at_largest"] = pbest
                if lo:
                    r = run_trial("prometheus", args.prometheus, lo, args, workdir)
                    emit(r)
                    summary["prometheus_at_vigils_largest"] = r
                if args.compare_n:
                    # Both at one size whose series fit in memory for both, for the CPU
                    # per 1000 scrapes side by side.
                    summary["compare_at_n"] = args.compare_n
                    for kind, binary in (("vigil", args.vigil), ("prometheus", args.prometheus)):
                        r = run_trial(kind, binary, args.compare_n, args, workdir)
                        emit(r)
                        summary[f"{kind}_at_compare_n"] = r
            summary["end"] = time.strftime("%H:%M:%S")
            print(json.dumps(summary), flush=True)
        else:
            for n in [int(x) for x in args.n.split(",")]:
                emit(run_trial("vigil", args.vigil, n, args, workdir))
                if args.prometheus:
                    emit(run_trial("prometheus", args.prometheus, n, args, workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
