"""A database connection for each request: checked out of the process's pool (app.db) before the view runs,
handed back on teardown. Endpoints in NO_DATABASE_ENDPOINTS (static files, liveness) never take one."""
from flask import request

from app.db import database


def connect_per_request(app):
    """A connection checked out of the pool for each of ``app``'s requests and handed back on teardown."""

    @app.before_request
    def _connect():
        if request.endpoint in app.config.get("NO_DATABASE_ENDPOINTS", ()):
            return
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()
