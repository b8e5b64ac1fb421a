"""The receivers' budgets: WEBHOOK_RATE_LIMIT is each source's budget, spent only by deliveries that authenticated
(so strangers cannot use it up: 413 and 415 are answered before the secret is checked); WEBHOOK_AUTH_FAILURE_LIMIT
is each client address's budget of failed authentications (401).

Counted with the limits library in the storage RATELIMIT_STORAGE_URI names, like the login limits, but not through
Flask-Limiter (which the receivers' app does not load): its per-request machinery (limit resolution, exemption
scopes, conditional deductions, headers) cost more than verifying and storing the delivery (bench/ingest.py).
The in-process storage overrides a private method of limits' MemoryStorage: setup.cfg pins limits to the major
version it was written for, and tests/hooks/test_budgets.py fails if that method goes away.
"""
import functools
import math
import time

from flask import current_app, g, request
from limits import parse as parse_limit
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.http.errors import error_response
from app.http.extensions import limiter


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


def open_counter(app):
    """The counter of every budget, in the storage RATELIMIT_STORAGE_URI names (kept in ``app.extensions``)."""
    uri = app.config["RATELIMIT_STORAGE_URI"]
    storage = (_SweptMemoryStorage() if uri.startswith("memory://")
               else storage_from_string(uri, **app.config.get("RATELIMIT_STORAGE_OPTIONS", {})))
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
