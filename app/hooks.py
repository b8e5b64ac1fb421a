"""Webhook receivers: POST /hooks/jenkins|registry|generic/<source> → 202 {"id": <inbox item id>}.

Public routes that authenticate by the source's own secret (see app.domain.webhooks); the body is committed to
the inbox before the 202 goes out, and the worker turns it into events.
"""
import logging
import sqlite3
import threading

from flask import Blueprint, abort, current_app, request
from flask_limiter.util import get_remote_address
from peewee import SqliteDatabase

from app.db import database
from app.domain import sources, webhooks
from app.errors import error_response
from app.extensions import limiter

log = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__, url_prefix="/hooks")


def _source_limit():
    return current_app.config["WEBHOOK_RATE_LIMIT"]


def _source_key():
    return "hook:%s" % (request.view_args or {}).get("source", "")


def _failure_limit():
    return current_app.config["WEBHOOK_AUTH_FAILURE_LIMIT"]


def _counts_for_source(response):
    # Only authenticated deliveries spend the source's budget, so strangers cannot use it up.
    return response.status_code not in (401, 404)


def _auth_failed(response):
    return response.status_code == 401


@bp.post("/<any(jenkins, registry, generic):kind>/<source>")
@limiter.limit(_source_limit, key_func=_source_key, deduct_when=_counts_for_source)
@limiter.limit(_failure_limit, key_func=lambda: "hook-auth:" + (get_remote_address() or ""), deduct_when=_auth_failed)
def receive(kind, source):
    _keep_wal_open()
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


_keeper = {"path": None, "connection": None}
_keeper_lock = threading.Lock()


def _keep_wal_open():
    """Keep one idle connection per process to a SQLite database.

    Connections live for one request (app.db), and SQLite checkpoints and deletes the WAL whenever the last
    connection to a database closes, then recreates it on the next write: two fsyncs per webhook, which cut the
    acceptance rate several times over (bench/ingest.py). A connection that has read the database once and stays
    open keeps the WAL in place; it holds no lock, so automatic checkpoints go on as usual. Opened lazily, i.e.
    after gunicorn has forked. (Belongs with the connection handling in app.db, where every route would gain.)
    """
    if not isinstance(database.obj, SqliteDatabase) or _keeper["path"] == database.obj.database:
        return
    with _keeper_lock:
        path = database.obj.database
        if _keeper["path"] == path:
            return
        if _keeper["connection"] is not None:
            _keeper["connection"].close()
        connection = sqlite3.connect(path, check_same_thread=False)
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        _keeper.update(path=path, connection=connection)


@bp.errorhandler(webhooks.Refused)
def _refused(exc):
    headers = {"WWW-Authenticate": 'Bearer realm="changetracker-hooks"'} if exc.status == 401 else None
    return error_response(exc.status, exc.message, headers=headers)
