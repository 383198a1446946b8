"""Helpers for Vigil's end-to-end tests: start the real binary on 127.0.0.1 with a
temporary data directory, push remote_write, read data back.

Runs under Debian's /usr/bin/python3 (python3-snappy is the only non-stdlib module).
The remote_write protobuf is encoded by hand from the public spec, so the tests do not
share code with the server's decoder.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import snappy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def vigil_bin():
    path = os.environ.get("VIGIL_BIN") or os.path.join(ROOT, "build", "vigil")
    if not os.path.exists(path):
        raise RuntimeError(f"vigil binary not found at {path}; build first (scripts/build.sh)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- protobuf wire format (remote_write 1.0) -------------------------------------------

def _varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _field_bytes(num, payload):
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def encode_write_request(series):
    """series: list of (labels dict, [(ts_ms, value), ...]) -> snappy-compressed body."""
    body = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):
            lab = _field_bytes(1, name.encode()) + _field_bytes(2, str(labels[name]).encode())
            ts += _field_bytes(1, lab)
        for t, v in samples:
            s = b"\x09" + struct.pack("<d", v) + _varint(2 << 3 | 0) + _varint(t)
            ts += _field_bytes(2, s)
        body += _field_bytes(1, bytes(ts))
    return snappy.compress(bytes(body))


# --- the server ------------------------------------------------------------------------

class Server:
    """A `vigil server` process on a free port with its own data directory."""

    def __init__(self, data_dir=None, args=(), port=None):
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="vigil-test-")
            data_dir = self._tmp.name
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.proc = None
        self._log = None
        self.log_path = os.path.join(os.path.dirname(data_dir.rstrip("/")) or ".",
                                     f"vigil-{self.port}.log")

    def start(self, wait=True, timeout=60):
        cmd = [vigil_bin(), "server", f"--storage.tsdb.path={self.data_dir}",
               f"--web.listen-address=127.0.0.1:{self.port}"] + self.args
        if self._log is None:
            self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, _ = self.get("/-/ready")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"vigil not ready after {timeout}s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops the server; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"vigil did not stop within {timeout}s after {sig}:\n{self.log()}")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    # --- HTTP ---
    def request(self, method, path, body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path, **params):
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        return self.request("GET", path)

    def get_json(self, path, **params):
        status, body = self.get(path, **params)
        return status, json.loads(body) if body else None

    def remote_write(self, series):
        return self.request("POST", "/api/v1/write", encode_write_request(series), {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "snappy",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        })

    def export(self, match, start=None, end=None):
        """Every series matching `match` as {labels-tuple: [(t, v), ...]}."""
        params = {"match[]": match}
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        status, body = self.get("/api/v1/export", **params)
        if status != 200:
            raise RuntimeError(f"export {match}: HTTP {status}: {body[:500]!r}")
        out = {}
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            key = tuple(sorted(row["metric"].items()))
            out.setdefault(key, []).extend(zip(row["timestamps"], row["values"]))
        return out

    def metrics(self):
        """Vigil's own /metrics as {name{labels}: value}."""
        status, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics: HTTP {status}")
        out = {}
        for line in body.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
        return out
