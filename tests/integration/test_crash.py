"""Crash test: SIGKILL `vigil server` at random points while remote_write senders push,
restart it on the same data directory, and check what survived.

With --storage.tsdb.wal-sync=always every acknowledged (HTTP 204) sample must be there
after the restart; samples whose request was cut off may or may not be, but nothing may
appear twice and nothing that was never sent may appear. Bounded: a fixed number of
rounds of at most a couple of seconds of writing each.
Run: /usr/bin/python3 -m unittest tests/integration/test_crash.py
"""

import http.client
import os
import random
import threading
import time
import unittest

from vigil_testlib import Server, encode_write_request

ROUNDS = int(os.environ.get("VIGIL_CRASH_ROUNDS", "6"))
SERIES_PER_BATCH = 200
WRITERS = 3


class Writer(threading.Thread):
    """Sends batches until the server dies; remembers which were acknowledged."""

    def __init__(self, port, writer_id, round_no, t0):
        super().__init__(daemon=True)
        self.port, self.writer_id, self.round_no, self.t0 = port, writer_id, round_no, t0
        self.acked = []      # list of (timestamp, value) acknowledged for every series
        self.attempted = []  # every (timestamp, value) sent, acknowledged or not

    def series(self, t, v):
        return [({"__name__": "crash_test", "writer": str(self.writer_id), "s": str(i)}, [(t, v + i)])
                for i in range(SERIES_PER_BATCH)]

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        k = 0
        while True:
            t = self.t0 + k * 10
            v = float(self.round_no * 1_000_000 + k)
            body = encode_write_request(self.series(t, v))
            self.attempted.append((t, v))
            try:
                conn.request("POST", "/api/v1/write", body, {
                    "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                return
            if resp.status != 204:
                raise AssertionError(f"unexpected HTTP {resp.status}")
            self.acked.append((t, v))
            k += 1


class CrashTest(unittest.TestCase):
    def test_acknowledged_samples_survive_sigkill(self):
        rng = random.Random(int(os.environ.get("VIGIL_CRASH_SEED", "1234")))
        server = Server(args=["--storage.tsdb.wal-sync=always"])
        acked = {}      # (writer, s) -> set of (t, v)
        attempted = {}  # (writer, s) -> set of (t, v)
        base = int(time.time() * 1000) - 3600_000
        try:
            server.start()
            for round_no in range(ROUNDS):
                t0 = base + round_no * 60_000
                writers = [Writer(server.port, w, round_no, t0) for w in range(WRITERS)]
                for w in writers:
                    w.start()
                time.sleep(rng.uniform(0.05, 1.5))
                server.kill()
                for w in writers:
                    w.join(30)
                    self.assertFalse(w.is_alive())
                    for i in range(SERIES_PER_BATCH):
                        key = (str(w.writer_id), str(i))
                        acked.setdefault(key, set()).update((t, v + i) for t, v in w.acked)
                        attempted.setdefault(key, set()).update((t, v + i) for t, v in w.attempted)
                server.start()  # replays the WAL, repairing a torn tail if the kill left one
                got = server.export("crash_test", start=base / 1000 - 1)
                total_acked = sum(len(v) for v in acked.values())
                self.assertGreater(total_acked, 0, "no write was acknowledged before the kill")
                for labels, samples in got.items():
                    d = dict(labels)
                    key = (d["writer"], d["s"])
                    ts = [t for t, _ in samples]
                    self.assertEqual(len(ts), len(set(ts)), f"duplicate samples in {d}")
                    pairs = {(t, float(v)) for t, v in samples}
                    self.assertTrue(pairs <= attempted[key], f"samples never sent appeared in {d}")
                for key, want in acked.items():
                    labels = tuple(sorted({"__name__": "crash_test", "writer": key[0], "s": key[1]}.items()))
                    have = {(t, float(v)) for t, v in got.get(labels, [])}
                    missing = want - have
                    self.assertFalse(missing, f"round {round_no}: {len(missing)} acknowledged samples of "
                                              f"{key} lost, e.g. {sorted(missing)[:3]}\n{server.log()}")
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
