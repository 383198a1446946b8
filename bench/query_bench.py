#!/usr/bin/python3
"""Server CPU time per query of the shared benchmark's query set, against a Vigil binary
started on a copy of an already ingested data directory (no ingest in the loop).

  bench/query_bench.py --bin build/release/vigil --wal /tmp/bench-vigil/wal \
      --workload /tmp/bench-workloads/default [--runs 10] [--only cpu_total_15s,...]

The data directory is made fresh from --wal (a WAL written by `run.sh vigil`), so each run
replays the same head. Per query: one warm-up, then --runs timed requests on one keep-alive
connection; reported are the median wall time and the server's CPU time (utime+stime of
the server process, all threads, from /proc/PID/stat) per request, which is what to compare
on a shared machine. The result checksum of queries.py is printed too, so a change that
alters an answer shows at once. --json-out writes everything for later comparison.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

CLK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK


def vm_hwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--wal", required=True, help="WAL directory of an ingested workload")
    ap.add_argument("--workload", required=True, help="workload directory (for meta.json)")
    ap.add_argument("--bench-dir", default="/work/shared/bench", help="where queries.py lives")
    ap.add_argument("--data-dir", default="/tmp/query-bench-data")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--only", default="", help="comma-separated query ids")
    ap.add_argument("--json-out")
    ap.add_argument("--args", default="", help="extra server flags")
    ap.add_argument("--perf", help="record a `perf record -g` profile of the timed queries to this file")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds to wait after ready, so the background loop has re-encoded the replayed "
                         "complete chunks, as it has after the shared benchmark's ingest and snapshot")
    a = ap.parse_args()

    sys.path.insert(0, a.bench_dir)
    import queries  # noqa: E402  (the shared query set and its checksum)

    meta = json.load(open(os.path.join(a.workload, "meta.json")))
    end = meta["query_end_s"]
    start = end - 3600
    host = "host-%05d:9100" % (meta["hosts"] // 2)

    shutil.rmtree(a.data_dir, ignore_errors=True)
    os.makedirs(a.data_dir)
    shutil.copytree(a.wal, os.path.join(a.data_dir, "wal"))
    port = free_port()
    log = open(a.data_dir + ".log", "w")
    argv = [os.path.abspath(a.bin), "server", "--storage.tsdb.path=" + a.data_dir,
            "--web.listen-address=127.0.0.1:%d" % port] + a.args.split()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        t0 = time.time()
        while True:
            if proc.poll() is not None:
                sys.exit("server exited; see %s.log" % a.data_dir)
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/-/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() - t0 > 300:
                sys.exit("server not ready after 300 s")
            time.sleep(0.2)
        ready_cpu = cpu_ms(proc.pid)
        time.sleep(a.settle)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        only = set(x for x in a.only.split(",") if x)
        perf = None
        if a.perf:
            perf = subprocess.Popen(["perf", "record", "-g", "-o", a.perf, "-p", str(proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        out = {"bin": a.bin, "runs": a.runs, "replay_cpu_ms": ready_cpu, "queries": []}
        print("replay cpu %.0f ms, rss hwm %.0f MiB" % (ready_cpu, vm_hwm_mib(proc.pid)))
        print("%-24s %9s %9s %9s  %7s %8s %-8s %s" % ("query", "cpu_ms", "wall_med", "wall_min",
                                                     "series", "points", "lbl", "vsum"))
        for qid, kind, step, expr in queries.QUERIES:
            if only and qid not in only:
                continue
            expr = expr.replace("HOST", host)
            if kind == "range":
                path = "/api/v1/query_range"
                params = dict(query=expr, start=start, end=end, step=step)
            else:
                path = "/api/v1/query"
                params = dict(query=expr, time=end)
            url = path + "?" + urllib.parse.urlencode(params)
            walls, cpus = [], []
            body = b""
            for i in range(a.runs + 1):
                c0 = cpu_ms(proc.pid)
                w0 = time.perf_counter()
                conn.request("GET", url)
                r = conn.getresponse()
                body = r.read()
                w1 = time.perf_counter()
                c1 = cpu_ms(proc.pid)
                if r.status != 200:
                    sys.exit("%s: status %d: %s" % (qid, r.status, body[:300]))
                if i:
                    walls.append((w1 - w0) * 1000)
                    cpus.append(c1 - c0)
            cs = queries.checksum(json.loads(body))
            walls.sort()
            rec = dict(id=qid, cpu_ms=sum(cpus) / len(cpus), wall_med=walls[len(walls) // 2],
                       wall_min=walls[0], **cs)
            out["queries"].append(rec)
            print("%-24s %9.1f %9.1f %9.1f  %7d %8d %-8s %s" % (
                qid, rec["cpu_ms"], rec["wall_med"], rec["wall_min"], cs["series"], cs["points"],
                cs["lbl"], cs["vsum"]), flush=True)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        out["rss_hwm_mib"] = vm_hwm_mib(proc.pid)
        print("rss hwm %.0f MiB" % out["rss_hwm_mib"])
        if a.json_out:
            with open(a.json_out, "w") as f:
                json.dump(out, f, indent=1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(a.data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
