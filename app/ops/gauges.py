"""The deployment's vital signs, read from the database (so every process reports the same): what the ledger
holds, what waits in the inbox, how each poller last ran and whether a worker runs the schedule. /metrics
exposes them; /readyz shows part of them."""
from datetime import timedelta

from app.db import utcnow
from app.ingest import inbox
from app.models import Event
from app.ops import leases
from app.polling import poll_runs


def figures(stale_after):
    """Plain data: ``stale_after`` is the poll-run timeout (a run still running past it shows as abandoned)."""
    lease = leases.current(leases.SCHEDULER)
    by_state = inbox.counts()
    return {
        "events": Event.select().count(),
        # Read through the partial index of flagged events (migration 0006), never the whole ledger.
        "unplanned_events": Event.select().where(Event.unplanned).count(),
        "unplanned_events_last_day": Event.select().where(Event.unplanned,
                                                          Event.occurred_at >= utcnow() - timedelta(days=1)).count(),
        "inbox": by_state,
        "inbox_oldest_waiting_age_seconds": inbox.backlog(by_state)["oldest_pending_age_seconds"] or 0.0,
        "poll_runs": poll_runs.latest_per_poller(stale_after),
        "schedule_held": bool(lease and not lease["expired"]),
    }
