"""app.ops.retention: the cutoff, batches under one audit entry, the counts the database keeps by triggers."""
from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from app.accounts.audit import Actor
from app.ledger import buckets
from app.ledger.events import record_event
from app.models import AuditEntry, Event, TimelineCount
from app.ops import retention
from tests.conftest import connected

ME = Actor("tester")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("before, older_than, expected", [
    ("2026-01-01", None, datetime(2026, 1, 1, tzinfo=timezone.utc)),
    ("2026-01-01T06:30:00", None, datetime(2026, 1, 1, 6, 30, tzinfo=timezone.utc)),
    ("2026-01-01T06:30:00Z", None, datetime(2026, 1, 1, 6, 30, tzinfo=timezone.utc)),
    ("2026-01-01T08:30:00+02:00", None, datetime(2026, 1, 1, 6, 30, tzinfo=timezone.utc)),
    (" 2026-01-01 ", None, datetime(2026, 1, 1, tzinfo=timezone.utc)),
    (None, 30, NOW - timedelta(days=30)),
    (None, 1, NOW - timedelta(days=1)),
])
def test_cutoff(before, older_than, expected):
    assert retention.cutoff(before, older_than, now=NOW) == expected


@pytest.mark.parametrize("before, older_than, field, message", [
    (None, None, "before", "Give either"),
    ("2026-01-01", 3, "before", "Give either"),
    ("yesterday", None, "before", "Not an ISO 8601"),
    ("2026-11-27", None, "before", "Must not be in the future"),
    (None, 0, "older_than", "at least 1"),
    (None, True, "older_than", "at least 1"),
    (None, "30", "older_than", "at least 1"),
])
def test_bad_cutoffs(before, older_than, field, message):
    with pytest.raises(ValidationError) as caught:
        retention.cutoff(before, older_than, now=NOW)
    assert message in " ".join(caught.value.messages[field])


def _timeline_counts():
    buckets.fold_counts()  # PostgreSQL's triggers write deltas; fold them in before reading the counts
    return {(str(day), lane, severity): n for day, lane, severity, n in
            TimelineCount.select(TimelineCount.day, TimelineCount.lane, TimelineCount.severity, TimelineCount.n)
            .where(TimelineCount.n != 0).tuples()}


def test_purge_runs_in_batches_and_keeps_one_audit_entry_with_the_running_counts(app):
    cutoff = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with connected(app):
        for day in range(7):
            record_event({"title": "old %d" % day, "occurred_at": (cutoff - timedelta(days=day + 1)).isoformat(),
                          "agents": ["linux-%d" % (day % 3)], "severity": "high" if day % 2 else "low"}, ME)
            record_event({"title": "new %d" % day, "occurred_at": (cutoff + timedelta(days=day)).isoformat(),
                          "agents": ["linux-%d" % (day % 3)]}, ME)
        assert retention.count(cutoff)["events"] == 7

        purged = retention.purge(cutoff, actor=ME, batch_size=3)  # 3 + 3 + 1

        assert purged == {"events": 7, "comments": 0, "links": 7, "dedupe_slots": 0, "inbox_items": 0}
        assert sorted(e.title for e in Event.select()) == ["new %d" % d for d in range(7)]
        entries = list(AuditEntry.select().where(AuditEntry.action == "purge"))
        assert len(entries) == 1 and entries[0].actor == "tester"
        assert entries[0].after == {"before": "2026-01-01T00:00:00Z", **purged}
        # The per-day counts the database keeps by triggers still equal a recount from the events.
        kept = _timeline_counts()
        buckets.recount()
        assert kept == _timeline_counts() and kept
        assert retention.count(cutoff) == dict.fromkeys(retention.COUNTS, 0)
        assert retention.purge(cutoff, actor=ME) == dict.fromkeys(retention.COUNTS, 0)
        assert AuditEntry.select().where(AuditEntry.action == "purge").count() == 1
