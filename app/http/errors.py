"""One error shape from one place: JSON {"code", "message", "errors"} on the API, a page in the browser."""
import logging

from flask import jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app import dialect
from app.errors import Conflict, Forbidden, NotFound
from app.fields import without_surrogates
from app.http import metrics
from app.http.guard import Unauthorized

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/hooks/", "/healthz", "/readyz", "/metrics")
RETRY_AFTER_SECONDS = 5


def wants_json():
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


def field_messages(exc):
    """marshmallow's messages as the contract's ``{field: [messages]}``; nested ones are flattened into
    dotted names ("changes.0.path") and list items into "item N: ..." so every value is a list of strings."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                if isinstance(key, int) and all(isinstance(m, str) for m in _as_list(inner)):
                    flat.setdefault(prefix, []).extend("Item %d: %s" % (key + 1, m) for m in _as_list(inner))
                else:
                    key = without_surrogates(str(key))  # a refused key is named, never echoed raw
                    walk("%s.%s" % (prefix, key) if prefix else key, inner)
        else:
            flat.setdefault(prefix or "_schema", []).extend(_as_list(value))

    walk("", messages)
    return flat


def _as_list(value):
    return value if isinstance(value, list) else [value]


def error_response(code, message, errors=None, headers=None, extra=None):
    if wants_json():
        response = jsonify({"code": code, "message": message, "errors": errors or {}, **(extra or {})})
    else:
        response = render_template("error.html", code=code, message=message, errors=errors or {})
    return response, code, headers or {}


def register(app):
    @app.errorhandler(ValidationError)
    def _invalid(exc):
        messages = field_messages(exc)
        return error_response(422, "The request has invalid fields: %s." % ", ".join(sorted(messages)), messages)

    @app.errorhandler(Unauthorized)
    def _unauthorized(exc):
        if not wants_json():
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        return error_response(401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="changetracker"'})

    @app.errorhandler(NotFound)
    def _missing(exc):
        return error_response(404, str(exc))

    @app.errorhandler(Conflict)
    def _conflict(exc):
        return error_response(409, exc.message, exc.errors)

    @app.errorhandler(Forbidden)
    def _forbidden(exc):
        return error_response(403, str(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(400, "CSRF check failed: %s Reload the page and try again." % exc.description)

    @app.errorhandler(429)
    def _too_many(exc):
        # Flask-Limiter adds Retry-After to the response itself.
        limit = getattr(getattr(exc, "limit", None), "limit", exc.description)
        return error_response(429, "Too many requests (limit: %s). Wait a little and try again." % limit)

    @app.errorhandler(HTTPException)
    def _http(exc):
        return error_response(exc.code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _crash(exc):
        if dialect.is_busy(exc):
            return _busy(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal error; it has been logged.")


def _busy(exc):
    """503 with Retry-After: the database stayed busy (e.g. SQLite's write lock held by a big import past the
    wait), so nothing was written and the same request should succeed a little later; webhook senders and
    recordChange retry. Counted on /metrics."""
    metrics.BUSY.labels(request.endpoint or "unmatched").inc()
    log.warning("database busy on %s %s: %s", request.method, request.path, exc)
    return error_response(503, "The database is busy; nothing was written. Try again in %d seconds."
                          % RETRY_AFTER_SECONDS, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
