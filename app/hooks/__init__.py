"""Webhook receivers: POST /hooks/jenkins|registry|generic/<source> → 202 {"id": <inbox item id>}.

Public routes that authenticate by the source's own secret (see app.ingest.webhooks); the body is committed to
the inbox before the 202 goes out, and the worker turns it into events.

They are served by an app of their own (create_hooks_app), mounted in front of the main one (Mount).
"""
import logging

from flask import Blueprint, Flask, abort, current_app, g, request
from flask.sessions import SessionInterface

from app.hooks import budgets
from app.http import access_log, metrics
from app.http.errors import error_response
from app.ingest import sources, webhooks

log = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__, url_prefix="/hooks")


def create_hooks_app(app):
    """The receivers' own Flask app, with ``app``'s config (the same object) and database, its JSON errors,
    security headers and NUL check, and nothing of what serves people: no session, login, CSRF or
    Flask-Limiter. Senders are machines that authenticate by their source's secret, and those steps, run on
    every request of the main app, cost a delivery more than checking and storing it (bench/ingest.py)."""
    from app.accounts import access
    from app.http import connections, errors, rules

    hooks_app = Flask(__name__, static_folder=None, instance_path=app.instance_path)
    hooks_app.config = app.config
    hooks_app.json.sort_keys = False
    hooks_app.session_interface = _NoSessions()
    metrics.instrument(hooks_app, durations=False)
    access_log.install(hooks_app)
    hooks_app.before_request(rules.reject_nul_characters)
    connections.connect_per_request(hooks_app)
    hooks_app.after_request(rules.security_headers)
    errors.register(hooks_app)
    hooks_app.register_blueprint(bp)
    # Nothing here runs app.http.guard.enforce: every route must check its caller itself.
    unchecked = {rule.endpoint for rule in hooks_app.url_map.iter_rules()} - access.SELF_AUTHENTICATED
    if unchecked:
        raise RuntimeError("routes served without app.http.guard.enforce must be SELF_AUTHENTICATED: %s"
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
    g.hook_source = source  # a source that exists: a bounded label for the refusal and drop counters
    request.max_content_length = current_app.config["WEBHOOK_MAX_BYTES"]
    body = request.get_data(cache=False)  # a 413 past the limit, before anything is verified or stored
    receipt = webhooks.receive(found, kind, secret, body, request.headers, request.mimetype, request.mimetype_params,
                               query_token=request.args.get("token"), remote_addr=request.remote_addr)
    g.log_actor = "webhook:%s" % source
    if receipt.dropped:
        metrics.count_dropped(kind, source, receipt.dropped)
        return {"id": receipt.item_id, "dropped": receipt.dropped}, 202
    return {"id": receipt.item_id}, 202


@bp.record_once
def _open_budgets(state):
    budgets.open_counter(state.app)


bp.before_request(budgets.check)
bp.after_request(budgets.spend)


@bp.after_request
def _count_refusals(response):
    if not 200 <= response.status_code < 300:
        kind = (request.view_args or {}).get("kind", "unknown")
        metrics.count_refused(kind, g.get("hook_source", "unknown"), response.status_code)
    return response


@bp.errorhandler(webhooks.Refused)
def _refused(exc):
    headers = {"WWW-Authenticate": 'Bearer realm="changetracker-hooks"'} if exc.status == 401 else None
    return error_response(exc.status, exc.message, headers=headers)
