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
plugin) put the source's secret there. A parameter is redacted when its name, percent-decoded (as often as it
decodes: ``%74oken``, ``tok%65n``, ``%2574oken``) with control characters and white space dropped (``token%00``,
which the service refuses), reads ``token`` in any case; the error log's line for a request gunicorn refuses itself
is redacted the same way.

Use with ``gunicorn --logger-class app.http.access_log.JsonLogger`` (or ``RedactingLogger`` for plain text);
``changetracker serve --log-format json|text`` (``CHANGETRACKER_LOG_FORMAT``) picks one.
"""
import json
import logging
import re
import traceback
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote_plus

from flask import g, request
from gunicorn.glogging import Logger

SECRET_PARAMETERS = {"token"}
_PARAMETER = re.compile(r"(^|[?&;])([^=&;?\s]*)=([^&;\s]*)")
_NOT_PART_OF_A_NAME = re.compile(r"[\x00-\x20\x7f-\x9f]")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,128}$")
HEADER = "X-Request-ID"
ROUTE, ACTOR, REQUEST_ID = "changetracker.route", "changetracker.actor", "changetracker.request_id"
FORMATS = {"json": "app.http.access_log.JsonLogger", "text": "app.http.access_log.RedactingLogger"}


def secret_name(name):
    """Whether a query parameter named ``name`` (as sent, encoded) holds a secret."""
    for _ in range(4):  # %25 encodes %: a name encoded several times still ends up in the log decoded
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return _NOT_PART_OF_A_NAME.sub("", name).lower() in SECRET_PARAMETERS


def redact(text):
    """``text`` (a request line or query string) with the values of secret parameters replaced."""
    if not text:
        return text
    return _PARAMETER.sub(lambda m: "%s%s=[redacted]" % (m.group(1), m.group(2)) if secret_name(m.group(2))
                          else m.group(0), text)


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
    """gunicorn's plain-text access log, ``?token=`` values redacted, in the error log too."""

    def __init__(self, cfg):
        super().__init__(cfg)
        # gunicorn logs a request it refuses itself (a malformed request line, say) as an error-log warning that
        # quotes the line.
        if not any(isinstance(f, _RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(_RedactingFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "f"):  # the request line, the query string, the Referer
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


class _RedactingFilter(logging.Filter):
    """Error-log records with their message formatted and redacted (and no args left to format it again)."""

    def filter(self, record):
        record.msg, record.args = redact(record.getMessage()), ()
        return True


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
