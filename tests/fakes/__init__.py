"""Local HTTP servers that answer like the real services (Jenkins, a Docker registry, package indexes).

Each runs a ThreadingHTTPServer with HTTP/1.1 keep-alive on a free loopback port, logs the requests
it got, and can be told to misbehave (latency, 500s, hangs, truncated bodies).
"""
import base64
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from app.ops.demo_jenkins import LoopbackServer


class Reply:
    def __init__(self, status=200, body=b"", headers=None, content_type="application/json;charset=utf-8"):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.headers = dict(headers or {})
        if content_type and "Content-Type" not in self.headers:
            self.headers["Content-Type"] = content_type


class FakeServer(LoopbackServer):
    """Subclasses implement ``handle(request) -> Reply``; ``request`` has method, path, query, headers."""

    latency = 0.0  # seconds added to every request

    def __init__(self):
        super().__init__()
        self.requests = []
        self.hang = {}  # path -> seconds to sleep before answering (a server that times out)

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in one write, and without Nagle: otherwise every keep-alive response
            # waits for the client's delayed ACK (~40 ms), which no real Jenkins does.
            disable_nagle_algorithm = True
            wbufsize = 64 * 1024

            def do_GET(self):
                self._serve("GET")

            def do_HEAD(self):
                self._serve("HEAD")

            def do_POST(self):
                self._serve("POST")

            def _serve(self, method):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(method, unquote(parts.path), parse_qs(parts.query), self.headers,
                                  self.rfile.read(length) if length else b"")
                fake.requests.append(request)
                if fake.latency:
                    time.sleep(fake.latency)
                delay = fake.hang.get(request.path) or fake.hang.get("*")
                if delay:
                    time.sleep(delay)
                reply = fake.handle(request)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

            def log_message(self, *args):
                pass

        return Handler

    def handle(self, request):  # pragma: no cover - subclasses answer
        return Reply(404, "")

    def paths(self, method=None):
        return [r.path for r in self.requests if method is None or r.method == method]


class Request:
    def __init__(self, method, path, query, headers, body):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def arg(self, name, default=None):
        return self.query.get(name, [default])[0]

    def basic_auth(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        return user, password

    def bearer(self):
        header = self.headers.get("Authorization", "")
        return header[7:] if header.startswith("Bearer ") else None
