"""Webhook receivers: POST /hooks/jenkins|registry|generic/<source> → 202 {"id": <inbox item id>}.

Public routes that authenticate by the source's own secret (see app.domain.webhooks); the body is committed to
the inbox before the 202 goes out, and the worker turns it into events.

They are served by an app of their own (create_hooks_app), mounted in front of the main one (Mount).
"""
import functools
import logging
import math
import time

from flask import Blueprint, Flask, abort, current_app, g, request
from flask.sessions import SessionInterface
from limits import parse as parse_limit
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.domain import sources, webhooks
from app.errors import error_response
from app.extensions import limiter

log = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__, url_prefix="/hooks")


def create_hooks_app(app):
    """The receivers' own Flask app, with ``app``'s config (the same object) and database, its JSON errors,
    security headers and NUL check, and nothing of what serves people: no session, login, CSRF or
    Flask-Limiter. Senders are machines that authenticate by their source's secret, and those steps, run on
    every request of the main app, cost a delivery more than checking and storing it (bench/ingest.py)."""
    from app import access, db, errors, http_rules, metrics

    hooks_app = Flask(__name__, static_folder=None, instance_path=app.instance_path)
    hooks_app.config = app.config
    hooks_app.json.sort_keys = False
    hooks_app.session_interface = _NoSessions()
    metrics.instrument(hooks_app, durations=False)
    hooks_app.before_request(http_rules.reject_nul_characters)
    db.connect_per_request(hooks_app)
    hooks_app.after_request(http_rules.security_headers)
    errors.register(hooks_app)
    hooks_app.register_blueprint(bp)
    # Nothing here runs app.access.enforce: every route must check its caller itself.
    unchecked = {rule.endpoint for rule in hooks_app.url_map.iter_rules()} - access.SELF_AUTHENTICATED
    if unchecked:
        raise RuntimeError("routes served without app.access.enforce must be SELF_AUTHENTICATED: %s"
                           % sorted(unchecked))
    return hooks_app


class _NoSessions(SessionInterface):
    """Flask's null session for every request: nothing to read, sign or save."""

    def open_session(self, app, request):
        return None

    def save_session(self, app, session, response):
        pass


class Mount:
    """WSGI middleware: requests under /hooks/ go to the receivers' app, every other one to the main app.

    Unlike werkzeug's DispatcherMiddleware it leaves the path alone (no prefix moved to SCRIPT_NAME), so the
    receivers see the URLs, the JSON error shape and the access-log lines they always had.
    """

    PREFIX = "/hooks/"

    def __init__(self, main, hooks_app):
        self.main = main
        self.hooks_app = hooks_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(self.PREFIX):
            return self.hooks_app(environ, start_response)
        return self.main(environ, start_response)


@bp.post("/<any(jenkins, registry, generic):kind>/<source>")
def receive(kind, source):
    try:
        found = sources.receiving_source(kind, source, sources.cipher(current_app.config["SECRET_KEY"]),
                                         current_app.config["WEBHOOK_SOURCE_CACHE_SECONDS"])
    except sources.SecretUnavailable as exc:
        log.error("%s", exc)
        return error_response(401, "This source's secret cannot be checked; an admin must set it again.")
    if found is None:
        abort(404, description="No active %s webhook source named %r." % (kind, source))
    found, secret = found
    request.max_content_length = current_app.config["WEBHOOK_MAX_BYTES"]
    body = request.get_data(cache=False)  # a 413 past the limit, before anything is verified or stored
    item_id = webhooks.receive(found, kind, secret, body, request.headers, request.mimetype, request.mimetype_params,
                               query_token=request.args.get("token"), remote_addr=request.remote_addr)
    return {"id": item_id}, 202


# --- budgets ----------------------------------------------------------------------------------------
# WEBHOOK_RATE_LIMIT is each source's budget, spent only by deliveries that authenticated (so strangers cannot
# use it up: 413 and 415 are answered before the secret is checked); WEBHOOK_AUTH_FAILURE_LIMIT is each client
# address's budget of failed authentications (401).
# Counted with the limits library in the storage RATELIMIT_STORAGE_URI names, like the login limits, but not
# through Flask-Limiter (which the receivers' app does not load): its per-request machinery (limit resolution,
# exemption scopes, conditional deductions, headers) cost more than verifying and storing the delivery
# (bench/ingest.py).

class _SweptMemoryStorage(MemoryStorage):
    """The limits library's in-process storage, minus its timer: MemoryStorage starts a thread to drop expired
    counters whenever its last one (10 ms) has ended, i.e. every few deliveries during a burst, and each start
    waits for the new thread to get the GIL. Expired counters are dropped on read anyway; the rest are swept
    here, at most once a second, by whoever counts."""

    SWEEP_SECONDS = 1.0

    def __init__(self):
        super().__init__()
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self):  # the (name-mangled) hook MemoryStorage calls on every change
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()


@bp.record_once
def _open_budgets(state):
    uri = state.app.config["RATELIMIT_STORAGE_URI"]
    storage = (_SweptMemoryStorage() if uri.startswith("memory://")
               else storage_from_string(uri, **state.app.config.get("RATELIMIT_STORAGE_OPTIONS", {})))
    state.app.extensions["hook_budgets"] = FixedWindowRateLimiter(storage)


@functools.lru_cache(maxsize=16)
def _limit(text):
    return parse_limit(text)


@bp.before_request
def _check_budgets():
    """429 when the source's budget or the caller's budget of failures is spent; else the deliveries' budgets
    are left for _spend_budgets to charge once the response is known."""
    if not limiter.enabled or request.view_args is None:
        return None
    counter, config = current_app.extensions["hook_budgets"], current_app.config
    budgets = ((_limit(config["WEBHOOK_RATE_LIMIT"]), "source", request.view_args.get("source", "")),
               (_limit(config["WEBHOOK_AUTH_FAILURE_LIMIT"]), "auth-failures", request.remote_addr or ""))
    for limit, kind, key in budgets:
        if not counter.test(limit, "hooks", kind, key):
            reset_at = counter.get_window_stats(limit, "hooks", kind, key).reset_time
            return error_response(429, "Too many requests (limit: %s). Wait a little and try again." % limit,
                                  headers={"Retry-After": str(max(1, math.ceil(reset_at - time.time())))})
    g.hook_budgets = budgets
    return None


AUTHENTICATED = (202, 400, 422)  # accepted, or refused for what an authenticated body says


@bp.after_request
def _spend_budgets(response):
    budgets = g.pop("hook_budgets", None)
    if budgets is not None and (response.status_code == 401 or response.status_code in AUTHENTICATED):
        limit, kind, key = budgets[1] if response.status_code == 401 else budgets[0]
        current_app.extensions["hook_budgets"].hit(limit, "hooks", kind, key)
    return response


@bp.errorhandler(webhooks.Refused)
def _refused(exc):
    headers = {"WWW-Authenticate": 'Bearer realm="changetracker-hooks"'} if exc.status == 401 else None
    return error_response(exc.status, exc.message, headers=headers)
