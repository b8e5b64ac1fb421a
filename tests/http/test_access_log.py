"""Webhook secrets sent as ?token= never reach gunicorn's logs: however the name is encoded, and also for
requests that the service or gunicorn itself refuses."""
import os
import socket
import sys
from datetime import timedelta

import pytest
from gunicorn.config import Config

from app.http.access_log import RedactingLogger, redact
from tests.conftest import free_port, server_process
from tests.webhook_support import make_source


def test_redact_hides_only_the_token_value():
    assert redact("POST /hooks/jenkins/ci?token=s3cret&x=1 HTTP/1.1") == \
        "POST /hooks/jenkins/ci?token=[redacted]&x=1 HTTP/1.1"
    assert redact("a=1&TOKEN=abc") == "a=1&TOKEN=[redacted]"
    assert redact("mytoken=abc") == "mytoken=abc"
    assert redact("?x=token=abc") == "?x=token=abc"


@pytest.mark.parametrize("query", [
    "%74oken=s3cret", "tok%65n=s3cret", "TOK%45N=s3cret", "%2574oken=s3cret",  # the name percent-encoded (twice)
    "token%00=s3cret", "token%09=s3cret", "%00token=s3cret",  # what the service refuses: logged all the same
    "a=1&tok%65n=s3cret&b=2", "a=1;token=s3cret",
])
def test_redact_decodes_the_name_before_matching(query):
    line = redact("POST /hooks/jenkins/ci?%s HTTP/1.1" % query)
    assert "s3cret" not in line and "[redacted]" in line


def test_the_logger_redacts_the_request_line_query_and_referer():
    logger = RedactingLogger(Config())

    class Response:
        status = "202 Accepted"
        response_length = 9
        sent = 9
        headers = []

    class Req:
        headers = [("REFERER", "https://ci.example.com/?tok%65n=s3cret")]

    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/hooks/jenkins/ci?%74oken=s3cret",
               "PATH_INFO": "/hooks/jenkins/ci", "QUERY_STRING": "%74oken=s3cret", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": "https://ci.example.com/?tok%65n=s3cret"}
    atoms = logger.atoms(Response(), Req(), environ, timedelta(milliseconds=3))
    assert "s3cret" not in atoms["r"] + atoms["q"] + atoms["f"]


def raw_request(port, request_line, timeout=10):
    """Send one request as raw bytes (clients would fix or refuse such lines); the status line answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_gunicorn_logs_no_secret_for_any_request_it_or_the_service_answers(tmp_path, app, database_url):
    """The real gunicorn with the logger ``changetracker serve`` uses: each request carries a distinct secret,
    and none of them appears in the access or error log."""
    make_source(app, "ci", "jenkins")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "CHANGETRACKER_DATABASE_URL": database_url,
           "CHANGETRACKER_SECRET_KEY": "s" * 64, "HOME": str(tmp_path)}
    command = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--bind", "127.0.0.1:%d" % port,
               "--workers", "1", "--access-logfile", "-", "--logger-class", "app.http.access_log.RedactingLogger",
               "app:create_app()"]
    secrets = {}
    with server_process(command, env, tmp_path, "http://127.0.0.1:%d/healthz" % port):
        for number, query in enumerate(["token=%s", "%%74oken=%s", "tok%%65n=%s", "token%%00=%s",
                                        "a=1&TOK%%45N=%s"]):
            secret = "secret-%d-xyzzy" % number
            answer = raw_request(port, b"POST /hooks/jenkins/ci?" + (query % secret).encode() + b" HTTP/1.1")
            secrets[secret] = answer.split(b"\r\n", 1)[0]
        # Refused by gunicorn before the service sees it: a request line it cannot read, one past its limit.
        answer = raw_request(port, b"POST /hooks/jenkins/ci?token=secret-bad-line-xyzzy HTTP/1.1 trailing")
        secrets["secret-bad-line-xyzzy"] = answer.split(b"\r\n", 1)[0]
        answer = raw_request(port, b"GET /api/v1/events?token=secret-too-long-xyzzy&q=" + b"x" * 5000 + b" HTTP/1.1")
        secrets["secret-too-long-xyzzy"] = answer.split(b"\r\n", 1)[0]
    log = (tmp_path / "server.log").read_text()
    assert secrets["secret-0-xyzzy"].startswith(b"HTTP/1.1 401")  # a wrong secret, but a secret all the same
    assert secrets["secret-3-xyzzy"].startswith(b"HTTP/1.1 400")  # NUL in the query: refused by the service
    assert secrets["secret-bad-line-xyzzy"].startswith(b"HTTP/1.1 400")
    # gunicorn's own limit (limit_request_line, 4094 bytes) answers before the service: an HTML 414 (docs/security.md).
    assert secrets["secret-too-long-xyzzy"].startswith(b"HTTP/1.1 414")
    assert "[redacted]" in log and "Invalid request from ip=" in log
    assert "xyzzy" not in log, log




def serve(tmp_path, database_url, *extra, home=None):
    """The command and environment of `changetracker serve` on a free port, its log in <tmp_path>/server.log."""
    import os
    import sys

    from tests.conftest import free_port

    port = free_port()
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    # The app fixture's secret key, so the webhook sources it made can be read.
    env = {"PATH": os.environ["PATH"], "HOME": str(home or tmp_path), "CHANGETRACKER_DATABASE_URL": database_url,
           "CHANGETRACKER_SECRET_KEY": "test-secret-key", "CHANGETRACKER_INSTANCE_PATH": str(instance)}
    command = [os.path.join(os.path.dirname(sys.executable), "changetracker"), "serve", "--bind",
               "127.0.0.1:%d" % port, "--workers", "1", *extra]
    return command, env, "http://127.0.0.1:%d" % port


def call(url, data=None, headers=None):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, dict(exc.headers)


def test_serve_logs_one_json_line_per_request_without_secrets(tmp_path, database_url, app, auth):
    import json

    from tests.conftest import server_process
    from tests.webhook_support import SECRET, fixture_bytes, make_source

    token = auth.token("viewer", "read", username="ann", name="dashboard")
    make_source(app, "ci", "jenkins")
    command, env, base = serve(tmp_path, database_url)
    with server_process(command, env, str(tmp_path), base + "/healthz"):
        status, headers = call(base + "/api/v1/events?limit=1", headers={
            "Authorization": "Bearer " + token, "X-Request-ID": "build-42.step-7"})
        assert status == 200 and headers["X-Request-ID"] == "build-42.step-7"
        status, headers = call(base + "/api/v1/events", headers={"X-Request-ID": "bad id\u00e9"})
        assert status == 401 and len(headers["X-Request-ID"]) == 32  # not a plain token: a new one is given
        given = headers["X-Request-ID"]
        body = fixture_bytes("notification-plugin-completed.json")
        status, _ = call(base + "/hooks/jenkins/ci?token=" + SECRET, data=body,
                         headers={"Content-Type": "application/json", "User-Agent": "Jenkins"})
        assert status == 202
    text = (tmp_path / "server.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    by_id = {line["request_id"]: line for line in lines}
    listed = by_id["build-42.step-7"]
    assert (listed["method"], listed["route"], listed["status"], listed["actor"]) == (
        "GET", "/api/v1/events", 200, "ann (token dashboard)")
    assert listed["path"] == "/api/v1/events" and listed["duration_ms"] > 0 and listed["time"].endswith("Z")
    assert (by_id[given]["status"], by_id[given]["actor"]) == (401, None)
    [hook] = [line for line in lines if line["path"] == "/hooks/jenkins/ci"]
    assert (hook["route"], hook["status"], hook["actor"], hook["user_agent"]) == (
        "/hooks/<any(jenkins, registry, generic):kind>/<source>", 202, "webhook:ci", "Jenkins")
    assert SECRET not in text and token not in text and "asgard" not in text  # no secret, no body


def test_plain_text_for_development_and_no_shared_control_socket(tmp_path, database_url):
    """Two instances of one user run side by side: gunicorn 27 would put both control sockets at one path in
    $HOME; `serve` opens none unless given a path."""
    from tests.conftest import server_process

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, env, base = serve(tmp_path / "a", database_url, "--log-format", "text", home=tmp_path)
    second, env_b, base_b = serve(tmp_path / "b", database_url, home=tmp_path)
    with server_process(first, env, str(tmp_path / "a"), base + "/healthz"):
        with server_process(second, env_b, str(tmp_path / "b"), base_b + "/healthz"):
            call(base + "/healthz?token=abc")
            call(base_b + "/healthz")
    text = (tmp_path / "a" / "server.log").read_text()
    assert '"GET /healthz?token=[redacted] HTTP/1.1" 200' in text and "abc" not in text
    assert '"route": "/healthz"' in (tmp_path / "b" / "server.log").read_text()
    assert not (tmp_path / ".gunicorn").exists()
