"""Leases: which worker holds a duty (the schedule) until when. One row per duty in worker_lease.

Taking and renewing are one conditional UPDATE each ("mine, or expired"), atomic on both databases, so two
workers can never both believe they hold the same lease. Expiry uses the clock of whoever writes: keep the
workers' clocks in sync (NTP), and the lease several times longer than the renewal interval.
"""
from datetime import timedelta

from app.db import from_db_time, utcnow
from app.dialect import write_transaction
from app.models import WorkerLease

SCHEDULER = "scheduler"


def hold(name, holder, seconds):
    """Take or renew lease ``name`` for ``holder`` for ``seconds``; True when ``holder`` now holds it."""
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    with write_transaction():
        WorkerLease.insert(name=name, holder=holder, expires_at=expires).on_conflict_ignore().execute()
        taken = (WorkerLease.update(holder=holder, expires_at=expires)
                 .where((WorkerLease.name == name) & ((WorkerLease.holder == holder) | (WorkerLease.expires_at < now)))
                 .execute())
    return taken == 1


def release(name, holder):
    """Give the lease up (on shutdown) so another worker takes over at once instead of after expiry."""
    with write_transaction():
        return WorkerLease.delete().where((WorkerLease.name == name) & (WorkerLease.holder == holder)).execute() == 1


def current(name):
    """{"holder", "expires_at", "expired"} of lease ``name``, or None."""
    lease = WorkerLease.get_or_none(WorkerLease.name == name)
    if lease is None:
        return None
    return {"holder": lease.holder, "expires_at": from_db_time(lease.expires_at), "expired": lease.expires_at < utcnow()}
