"""The per-day timeline counts the database keeps by triggers: always what the events say, and the buckets read from
them equal the buckets grouped from the events, whatever was written, edited, unlinked or deleted."""
import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from peewee import IntegrityError, InternalError, PostgresqlDatabase

from app.accounts.audit import Actor
from app.db import database
from app.ledger import buckets, catalogue
from app.ledger.events import delete_event, record_event, record_events, update_event, validate_event
from app.models import SEVERITIES, Event, EventAgent, TimelineCount, TimelineCountDelta
from tests.conftest import connected

ME = Actor("tester")
START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
AGENTS = ["linux-%02d" % i for i in range(1, 6)]


def stored_counts():
    buckets.fold_counts()  # PostgreSQL's triggers write deltas; fold them in before reading the counts
    return {(str(day), lane, severity): n for day, lane, severity, n in
            TimelineCount.select(TimelineCount.day, TimelineCount.lane, TimelineCount.severity, TimelineCount.n)
            .where(TimelineCount.n != 0).tuples()}


def counts_from_events():
    """What the triggers must have kept: recounted from the events, the way migration 0005 fills the table."""
    buckets.recount()
    return stored_counts()


def event(rng, **extra):
    when = START + timedelta(days=rng.randrange(20), minutes=rng.randrange(24 * 60))
    return dict({"title": "change %d" % rng.randrange(10 ** 6), "occurred_at": when.isoformat(),
                 "severity": rng.choice(SEVERITIES), "agents": rng.sample(AGENTS, rng.randrange(4))}, **extra)


@pytest.fixture
def ledger(app):
    """Sixty events written every way the service writes them, then edited, unlinked and partly deleted."""
    rng = random.Random(11)
    with connected(app):
        ids = [record_event(event(rng), ME)[0]["id"] for _ in range(40)]
        ids += [e["id"] for e in record_events([(validate_event(event(rng)), None) for _ in range(20)], ME)]
        for event_id in rng.sample(ids, 15):
            patch = rng.choice([{"severity": rng.choice(SEVERITIES)},
                                {"occurred_at": (START + timedelta(days=rng.randrange(20), hours=3)).isoformat()},
                                {"agents": rng.sample(AGENTS, rng.randrange(3))},
                                {"agents": [], "severity": "critical"},
                                {"title": "renamed only"}])
            update_event(event_id, patch, ME)
        for event_id in rng.sample(ids, 10):
            delete_event(event_id, ME)
        catalogue.delete_item(catalogue.AGENTS, "linux-03", ME, force=True)  # its events lose that lane
        yield rng


def test_postgresql_deltas_count_before_they_are_folded(app, ledger):
    """On PostgreSQL the triggers append deltas; buckets read before the worker folds them are already right."""
    with connected(app):
        filters = {"from_": START, "to": START + timedelta(days=20)}
        before_fold = buckets.lanes(filters, "day")
        pending = TimelineCountDelta.select().count()
        folded = buckets.fold_counts()
        assert (pending > 0) == (folded > 0) == isinstance(database.obj, PostgresqlDatabase)
        assert TimelineCountDelta.select().count() == 0
        assert buckets.lanes(filters, "day") == before_fold


def test_counts_follow_every_write(app, ledger):
    with connected(app):
        kept = stored_counts()
        assert kept == counts_from_events()
        assert sum(n for (_, lane, _), n in kept.items() if lane == 0) > 0  # the fleet lane is counted too


def test_a_link_never_moves_to_another_event(app, ledger):
    with connected(app):
        link = EventAgent.select().first()
        with pytest.raises((IntegrityError, InternalError), match="cannot change"):
            with database.atomic():
                EventAgent.update(event=link.event_id + 1).where(
                    (EventAgent.event == link.event_id) & (EventAgent.agent == link.agent_id)).execute()


@pytest.mark.parametrize("size", ["day", "week"])
@pytest.mark.parametrize("query", [
    {},
    {"severity": ["high", "critical"]},
    {"agent": ["linux-01", "linux-02"]},
    {"label": ["docker"]},
])
def test_buckets_from_counts_equal_buckets_from_events(app, ledger, size, query, monkeypatch):
    with connected(app):
        catalogue.update_item(catalogue.AGENTS, "linux-04", {"labels": ["docker"]}, ME)
        # Ranges that cut days (and weeks) at both ends, span a single part-day, or hold whole days only.
        ranges = [(START + timedelta(days=2, hours=7, minutes=13), START + timedelta(days=16, hours=5)),
                  (START + timedelta(days=4, hours=1), START + timedelta(days=4, hours=9)),
                  (START + timedelta(days=1), START + timedelta(days=15))]
        seen = 0
        for start, end in ranges:
            filters = dict(query, from_=start, to=end)
            from_counts = buckets.lanes(filters, size)
            monkeypatch.setattr(buckets, "_whole_days", lambda _filters: None)  # every bucket from the events
            from_events = buckets.lanes(filters, size)
            monkeypatch.undo()
            assert from_counts == from_events, (start, end)
            seen += sum(b["count"] for lane in from_counts for b in lane["buckets"])
        assert seen > 10, "the ranges hold events"


def test_other_filters_read_the_events(app, ledger):
    with connected(app):
        TimelineCount.update(n=TimelineCount.n + 100).execute()  # counts that would show if they were read
        lanes = buckets.lanes({"from_": START, "to": START + timedelta(days=20), "type": ["note"]}, "day")
        assert all(b["count"] < 100 for lane in lanes for b in lane["buckets"])


def test_an_agent_named_fleet_shares_the_fleet_lane(app):
    with connected(app):
        for day in range(5):
            when = (START + timedelta(days=day, hours=12)).isoformat()
            record_event({"title": "on the agent called fleet", "occurred_at": when, "agents": ["fleet"]}, ME)
            record_event({"title": "fleet-wide", "occurred_at": when}, ME)
        lanes = buckets.lanes({"from_": START, "to": START + timedelta(days=5)}, "day")
        assert [lane["name"] for lane in lanes] == ["fleet"]
        assert [(b["start"].day, b["count"]) for b in lanes[0]["buckets"]] == [(2 + day, 2) for day in range(5)]


def test_concurrent_batches_neither_deadlock_nor_miscount(app):
    """Four writers at once, each a transaction of events over the same days and severities in its own order
    (as inbox batches of several workers are): every batch commits and the counts match the events."""
    threads, errors = 4, []
    barrier = threading.Barrier(threads)

    def writer(seed):
        rng = random.Random(seed)
        batch = [(validate_event(event(rng, severity=rng.choice(["info", "high"]))), None) for _ in range(30)]
        database.connect(reuse_if_open=True)
        try:
            barrier.wait()
            record_events(batch, ME)
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))
        finally:
            database.close()

    with connected(app):
        pool = [threading.Thread(target=writer, args=(seed,)) for seed in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(60)
        assert not errors
        assert Event.select().count() == 120
        assert stored_counts() == counts_from_events()
