"""Webhook secrets sent as ?token= never reach gunicorn's access log."""
from datetime import timedelta

from gunicorn.config import Config

from app.http.access_log import RedactingLogger, redact


def test_redact_hides_only_the_token_value():
    assert redact("POST /hooks/jenkins/ci?token=s3cret&x=1 HTTP/1.1") == \
        "POST /hooks/jenkins/ci?token=[redacted]&x=1 HTTP/1.1"
    assert redact("a=1&TOKEN=abc") == "a=1&TOKEN=[redacted]"
    assert redact("mytoken=abc") == "mytoken=abc"


def test_the_logger_redacts_the_request_line_and_query():
    logger = RedactingLogger(Config())

    class Response:
        status = "202 Accepted"
        response_length = 9
        sent = 9
        headers = []

    class Req:
        headers = []

    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/hooks/jenkins/ci?token=s3cret", "PATH_INFO": "/hooks/jenkins/ci",
               "QUERY_STRING": "token=s3cret", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    atoms = logger.atoms(Response(), Req(), environ, timedelta(milliseconds=3))
    assert "s3cret" not in atoms["r"] and "s3cret" not in atoms["q"]
