"""Liveness and readiness probes, and the Prometheus metrics."""
from flask import Blueprint, current_app

from app import __version__, migrations
from app.db import database
from app.http import metrics as prometheus

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok", "version": __version__}


@bp.get("/metrics")
def metrics():
    return prometheus.exposition()


@bp.get("/readyz")
def readyz():
    checks = {}
    try:
        database.execute_sql("SELECT 1")
        checks["database"] = "ok"
        waiting = migrations.pending(database.obj)
        checks["migrations"] = "ok" if not waiting else "pending: " + ", ".join(waiting)
    except Exception as exc:  # readiness reports failures instead of raising them
        checks.setdefault("database", "error: %s" % type(exc).__name__)
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    if ready:
        body.update(_ingestion())
    return body, 200 if ready else 503


def _ingestion():
    """The inbox backlog and each poller's last run: reported, never a reason to take the web app out of service
    (they depend on the worker, not on this process). A run whose process died shows as abandoned."""
    from app.ingest import inbox
    from app.polling import poll_runs

    try:
        runs = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in run.items() if k != "errors"}
                | {"errors": len(run["errors"] or [])}
                for run in poll_runs.latest_per_poller(poll_runs.timeout(current_app.config))]
        return {"inbox": inbox.backlog(), "poll_runs": runs}
    except Exception as exc:  # readiness reports failures instead of raising them
        return {"inbox": "error: %s" % type(exc).__name__}
