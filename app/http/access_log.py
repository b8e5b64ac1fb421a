"""Request logs: one line per request from gunicorn, as JSON (the default of ``changetracker serve``) or as
gunicorn's plain text for development, never with a secret or a body.

A JSON line holds: ``time`` (UTC), ``method``, ``path`` (no query string), ``route`` (the URL rule, e.g.
``/api/v1/events/<id:event_id>``, so lines group by route), ``status``, ``duration_ms``, ``actor`` (the user, the
token's user and name, or ``webhook:<source>``; null when anonymous), ``request_id``, ``remote_addr``, ``bytes``
and ``user_agent``. The request id is the caller's ``X-Request-ID`` when it is a plain token of at most 128
characters, else a new one; either way it is answered in ``X-Request-ID``, so a caller can quote it and an
operator find the line.

Both apps (the main one and the webhook receivers') note the route, actor and request id in the WSGI environ
(``note_request`` / ``answer_request_id``), which gunicorn hands to the logger class. Plain text keeps gunicorn's
format with ``?token=`` values replaced by ``[redacted]``: senders that cannot sign (the Jenkins Notification
plugin) put the source's secret there.

Use with ``gunicorn --logger-class app.http.access_log.JsonLogger`` (or ``RedactingLogger`` for plain text);
``changetracker serve --log-format json|text`` (``CHANGETRACKER_LOG_FORMAT``) picks one.
"""
import json
import re
import traceback
import uuid
from datetime import datetime, timezone

from flask import g, request
from gunicorn.glogging import Logger

_TOKEN = re.compile(r"((?:^|[?&])token=)[^&\s]*", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,128}$")
HEADER = "X-Request-ID"
ROUTE, ACTOR, REQUEST_ID = "changetracker.route", "changetracker.actor", "changetracker.request_id"
FORMATS = {"json": "app.http.access_log.JsonLogger", "text": "app.http.access_log.RedactingLogger"}


def redact(text):
    return _TOKEN.sub(r"\1[redacted]", text) if text else text


# --- in the apps --------------------------------------------------------------------------------------------

def take_request_id():
    """before_request (registered first): the caller's X-Request-ID when it is a plain token, else a new one."""
    presented = request.headers.get(HEADER, "")
    request.environ[REQUEST_ID] = presented if _REQUEST_ID.match(presented) else uuid.uuid4().hex


def answer_request_id(response):
    """after_request: the request id back to the caller, and what the log line needs into the environ."""
    environ = request.environ
    request_id = environ.get(REQUEST_ID) or uuid.uuid4().hex
    response.headers[HEADER] = request_id
    environ[ROUTE] = request.url_rule.rule if request.url_rule is not None else None
    actor = g.get("actor")
    environ[ACTOR] = actor.name if actor is not None else g.get("log_actor")
    return response


def install(app):
    app.before_request_funcs.setdefault(None, []).insert(0, take_request_id)
    app.after_request(answer_request_id)


# --- in gunicorn --------------------------------------------------------------------------------------------

class RedactingLogger(Logger):
    """gunicorn's plain-text access log, ``?token=`` values redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


class JsonLogger(RedactingLogger):
    """One JSON object per request (see the module's docstring)."""

    def access(self, resp, req, environ, request_time):
        if not getattr(self, "access_log_enabled", self.cfg.accesslog):
            return
        try:
            self.access_log.info(json.dumps(access_record(resp, environ, request_time), ensure_ascii=False))
        except Exception:
            self.error(traceback.format_exc())


def access_record(resp, environ, request_time):
    status = getattr(resp, "status_code", None) or int(str(resp.status).split(None, 1)[0])
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "route": environ.get(ROUTE),
        "status": status,
        "duration_ms": round(request_time.total_seconds() * 1000, 3),
        "actor": environ.get(ACTOR),
        "request_id": environ.get(REQUEST_ID),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "bytes": getattr(resp, "sent", None),
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }
