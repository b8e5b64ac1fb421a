"""Reading what the pollers did (their PollRun rows), for /readyz and /admin/inbox. Pollers write them."""
from peewee import fn

from app.db import from_db_time
from app.models import PollRun


def recent(limit=20):
    """The newest runs of every poller, newest first."""
    return [run_view(r) for r in PollRun.select().order_by(PollRun.started_at.desc(), PollRun.id.desc()).limit(limit)]


def latest_per_poller():
    """Each poller's newest run, by poller name."""
    newest = (PollRun.select(PollRun.poller, fn.MAX(PollRun.id).alias("last_id")).group_by(PollRun.poller))
    ids = [row.last_id for row in newest]
    if not ids:
        return []
    return [run_view(r) for r in PollRun.select().where(PollRun.id.in_(ids)).order_by(PollRun.poller)]


def run_view(run):
    return {
        "id": run.id,
        "poller": run.poller,
        "status": run.status,
        "started_at": from_db_time(run.started_at),
        "finished_at": from_db_time(run.finished_at),
        "observed": run.observed,
        "changed": run.changed,
        "events": run.events,
        "errors": run.errors,
    }
