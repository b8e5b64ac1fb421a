"""Liveness and readiness probes."""
from flask import Blueprint

from app import schema
from app.db import database

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        database.execute_sql("SELECT 1")
        checks["database"] = "ok"
        waiting = schema.pending(database.obj)
        checks["migrations"] = "ok" if not waiting else "pending: " + ", ".join(waiting)
    except Exception as exc:  # readiness reports failures instead of raising them
        checks.setdefault("database", "error: %s" % type(exc).__name__)
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
