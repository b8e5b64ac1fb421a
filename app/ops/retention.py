"""Retention: deleting the events older than a cutoff, what hangs off them, and old processed inbox items.

An event is purged when it occurred before the cutoff and, if it is an interval, also ended before it. Its comments
and its agent/tool/toolchain/tag links go with it (ON DELETE CASCADE); a newer rollback that reverts it stays, with
``reverts`` cleared (SET NULL); de-duplication slots left pointing at nothing are dropped too. Agents, tools,
toolchains and tags stay, even when no event references them any more.

The audit trail is kept: it is the record of who did what, including the create/update entries of purged events.
Each run adds one audit entry (action ``purge``, entity ``retention``) holding the cutoff and the counts; it is
written with the first batch and its counts move on with every batch, so an interrupted purge still says what it
removed.

Events are deleted with plain DELETE statements, BATCH_SIZE per transaction: triggers the database keeps on the event
table and its links (the search index, the per-day timeline counts) stay right, and no transaction grows with the
size of the ledger.
"""
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError

from app import dialect
from app.accounts import audit
from app.db import to_db_time
from app.dialect import write_transaction
from app.ingest import inbox
from app.models import (
    AuditEntry,
    Comment,
    DedupeSlot,
    Event,
    EventAgent,
    EventTag,
    EventTool,
    EventToolchain,
    InboxItem,
)

BATCH_SIZE = 500
LINKS = (EventAgent, EventTool, EventToolchain, EventTag)
COUNTS = ("events", "comments", "links", "dedupe_slots", "inbox_items")


def cutoff(before=None, older_than_days=None, now=None):
    """The aware UTC cutoff from an ISO 8601 date or time (``before``; without an offset it is UTC) or a number of
    days before ``now``. ValidationError when neither or both are given, or the cutoff is not in the past."""
    now = now or datetime.now(timezone.utc)
    if (before is None) == (older_than_days is None):
        raise ValidationError({"before": ["Give either a date (before) or a number of days (older_than)."]})
    if older_than_days is not None:
        if isinstance(older_than_days, bool) or not isinstance(older_than_days, int) or older_than_days < 1:
            raise ValidationError({"older_than": ["Must be a whole number of days, at least 1."]})
        return now - timedelta(days=older_than_days)
    try:
        parsed = datetime.fromisoformat(before.strip())
    except (AttributeError, ValueError):
        raise ValidationError({"before": ["Not an ISO 8601 date or time, e.g. 2025-01-01 or 2025-01-01T00:00:00Z."]}) \
            from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if parsed > now:
        raise ValidationError({"before": ["Must not be in the future."]})
    return parsed.astimezone(timezone.utc)


def expired(at):
    """Events that occurred before ``at`` and, if they are intervals, ended before it."""
    limit = to_db_time(at)
    return (Event.occurred_at < limit) & (Event.ended_at.is_null() | (Event.ended_at < limit))


def count(at):
    """What ``purge(at)`` would delete, by kind; deletes nothing."""
    events = Event.select(Event.id).where(expired(at))
    return {
        "events": Event.select().where(expired(at)).count(),
        "comments": Comment.select().where(Comment.event.in_(events)).count(),
        "links": sum(link.select().where(link.event.in_(events)).count() for link in LINKS),
        "dedupe_slots": DedupeSlot.select().where(_stale_slots(at) & (DedupeSlot.event.is_null()
                                                                      | DedupeSlot.event.in_(events))).count(),
        "inbox_items": InboxItem.select().where(inbox.finished(to_db_time(at), to_db_time(at))).count(),
    }


def purge(at, actor=audit.SYSTEM, batch_size=BATCH_SIZE):
    """Delete what ``count(at)`` counts, a batch of events per transaction; returns the counts."""
    totals = dict.fromkeys(COUNTS, 0)
    entry = None
    while True:
        with write_transaction():
            # Locked: no comment or edit lands on a row between counting and deleting.
            query = dialect.locked(Event.select(Event.id).where(expired(at)).order_by(Event.id).limit(batch_size))
            ids = [i for (i,) in query.tuples()]
            if not ids:
                break
            totals["comments"] += Comment.select().where(Comment.event.in_(ids)).count()
            totals["links"] += sum(link.select().where(link.event.in_(ids)).count() for link in LINKS)
            totals["events"] += Event.delete().where(Event.id.in_(ids)).execute()
            entry = _record(entry, actor, at, totals)
        if len(ids) < batch_size:
            break
    with write_transaction():
        totals["dedupe_slots"] = DedupeSlot.delete().where(_stale_slots(at) & DedupeSlot.event.is_null()).execute()
        totals["inbox_items"] = inbox.purge(to_db_time(at), to_db_time(at))
        if totals["dedupe_slots"] or totals["inbox_items"]:
            entry = _record(entry, actor, at, totals)
    return totals


def _record(entry, actor, at, totals):
    after = {"before": at.strftime("%Y-%m-%dT%H:%M:%SZ"), **totals}
    if entry is None:
        return audit.record(actor, "purge", "retention", after["before"], after=after)
    AuditEntry.update(after=after).where(AuditEntry.id == entry.id).execute()
    return entry


def _stale_slots(at):
    return DedupeSlot.last_seen < to_db_time(at)
