"""What the HTTP benchmarks share: gunicorn serving a contender on loopback, and a bounded load generator.

Every contender runs under the same gunicorn settings (``--workers``/``--threads``, the ``changetracker serve``
defaults), on 127.0.0.1 only. The load generator is a thread pool posting a fixed list of requests over
keep-alive connections; it reports requests per second, each request's latency and the status codes.
"""
import http.client
import math
import os
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trivial_app(path, status):
    """The yardstick: Flask with one endpoint, POST ``path``, that reads the body and answers ``status``, nothing
    else (and GET /healthz, for Server to know it is up)."""
    from flask import Flask, request

    app = Flask("trivial")

    @app.post(path)
    def accept():
        request.get_data()
        return {"id": 1}, status

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


class Server:
    """gunicorn serving ``target`` on a free loopback port, with the settings every contender shares."""

    def __init__(self, target, workers, threads, env):
        self.port = free_port()
        self.args = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:%d" % self.port,
                     "--workers", str(workers), "--threads", str(threads), "--log-level", "warning", target]
        self.env = env

    def __enter__(self):
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not come up: %s" % " ".join(self.args))

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Result:
    """One load: ``rate`` (requests/s over the whole load), ``latencies`` (s, one per request), ``statuses``."""

    def __init__(self, rate, latencies, statuses):
        self.rate, self.latencies, self.statuses = rate, latencies, statuses


def load(port, path, requests, clients, headers=None):
    """POST every ``(body, extra headers)`` of ``requests`` to ``path`` once, over ``clients`` keep-alive
    connections started together."""
    chunks = [requests[i::clients] for i in range(clients)]
    statuses, latencies, lock = {}, [], threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        seen, took = {}, []
        start.wait()
        for body, extra in chunk:
            began = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=dict(headers or {}, **extra))
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:  # counted as an error, on a new connection
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = "connection error"
            took.append(time.perf_counter() - began)
            seen[status] = seen.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(took)
            for status, n in seen.items():
                statuses[status] = statuses.get(status, 0) + n

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return Result(len(requests) / (time.perf_counter() - began), latencies, statuses)


def percentile(samples, share):
    """Nearest-rank percentile (``share`` 0.5, 0.99) of ``samples``."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
