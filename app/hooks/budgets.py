"""The receivers' budgets: WEBHOOK_RATE_LIMIT is each source's budget, spent only by deliveries that authenticated
(so strangers cannot use it up: 413 and 415 are answered before the secret is checked); WEBHOOK_AUTH_FAILURE_LIMIT
is each client address's budget of failed authentications (401).

Counted with the limits library in the storage RATELIMIT_STORAGE_URI names, like the login limits, but not through
Flask-Limiter (which the receivers' app does not load): its per-request machinery (limit resolution, exemption
scopes, conditional deductions, headers) cost more than verifying and storing the delivery (bench/ingest.py).
"""
import functools
import math
import time

from flask import current_app, g, request
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.http.errors import error_response
from app.http.extensions import limiter


def open_counter(app):
    """The counter of every budget, in the storage RATELIMIT_STORAGE_URI names (kept in ``app.extensions``)."""
    uri = app.config["RATELIMIT_STORAGE_URI"]
    storage = storage_from_string(uri, **app.config.get("RATELIMIT_STORAGE_OPTIONS", {}))
    app.extensions["hook_budgets"] = FixedWindowRateLimiter(storage)


@functools.lru_cache(maxsize=16)
def _limit(text):
    return parse_limit(text)


def check():
    """429 when the source's budget or the caller's budget of failures is spent; else the deliveries' budgets
    are left for ``spend`` to charge once the response is known."""
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


def spend(response):
    budgets = g.pop("hook_budgets", None)
    if budgets is not None and (response.status_code == 401 or response.status_code in AUTHENTICATED):
        limit, kind, key = budgets[1] if response.status_code == 401 else budgets[0]
        current_app.extensions["hook_budgets"].hit(limit, "hooks", kind, key)
    return response
