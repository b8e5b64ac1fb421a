"""The inbox processor: atomic claims, retries with backoff, dead letters, replay, idempotence."""
import json
import threading
from datetime import timedelta

import pytest

from app.db import utcnow
from app.ingest import inbox, mappings, sources
from app.models import AuditEntry, DedupeSlot, Event, InboxItem
from app.errors import Conflict
from tests.conftest import connected
from tests.webhook_support import REGISTRY_TYPE, deliver, fixture_bytes, make_source, tagged_push

SETTINGS = inbox.Settings(batch_size=10, max_attempts=3, retry_base_seconds=10, retry_max_seconds=15,
                          claim_timeout_seconds=300)


def notification(number, phase="COMPLETED", job="asgard"):
    payload = json.loads(fixture_bytes("notification-plugin-completed.json"))
    payload["url"] = "job/%s/" % job
    payload["build"].update(number=number, phase=phase, url="job/%s/%d/" % (job, number),
                            full_url="http://localhost:8080/job/%s/%d/" % (job, number))
    return json.dumps(payload).encode()


def accept(client, count, start=1, **kwargs):
    return [deliver(client, "jenkins", "ci", notification(n, **kwargs)).json["id"] for n in range(start, start + count)]


def drain(app, worker="w1", settings=SETTINGS):
    with connected(app):
        return inbox.drain(worker, settings)


def item(app, item_id):
    with connected(app):
        return inbox.get_item(item_id)


def event_count(app):
    with connected(app):
        return Event.select().count()


def test_each_item_becomes_its_event_once_even_when_processed_again(app, client):
    make_source(app, "ci", "jenkins")
    make_source(app, "hub", "registry")
    ids = accept(client, 3)
    ids += accept(client, 1, start=1, phase="FINALIZED")  # the same build, a later phase: no second event
    ids.append(deliver(client, "registry", "hub", tagged_push(), REGISTRY_TYPE).json["id"])
    assert drain(app) == {"done": 5}
    assert event_count(app) == 4
    assert item(app, ids[3]).last_error == "Already recorded as event %d." % item(app, ids[0]).event_ids[0]
    with connected(app):
        events = {e.dedupe_key: e for e in Event.select()}
        assert all(e.source == "webhook" and e.created_by in ("webhook:ci", "webhook:hub") for e in events.values())
        assert events["jenkins:ci:job/asgard/1/"].count == 1
        # Long after the dedupe window, the same items processed again still make nothing new.
        DedupeSlot.update(last_seen=utcnow() - timedelta(days=30)).execute()
        InboxItem.update(state="pending", attempts=0).execute()
    assert drain(app) == {"done": 5}
    assert event_count(app) == 4
    with connected(app):
        assert [e.count for e in Event.select()] == [1, 1, 1, 1]


def test_ignored_items_say_why_and_replay_after_the_mapping_is_fixed(app, client, auth):
    make_source(app, "ci", "jenkins", mapping={"jobs": [{"pattern": "infra/*"}]})
    [started] = accept(client, 1, phase="STARTED")
    [other] = accept(client, 1, start=2)
    assert drain(app) == {"ignored": 2}
    assert "only COMPLETED and FINALIZED" in item(app, started).last_error
    assert "matches no infrastructure-job pattern" in item(app, other).last_error
    with connected(app):
        sources.update_source("ci", {"mapping": {"jobs": [{"pattern": "asg*", "type": "maintenance"}]}},
                              sources.cipher(app.config["SECRET_KEY"]))
        replayed = inbox.replay(other)
        assert (replayed.state, replayed.attempts) == ("pending", 0)
        assert AuditEntry.select().where(AuditEntry.action == "replay").count() == 1
    assert drain(app) == {"done": 1}
    with connected(app):
        assert Event.get_by_id(item(app, other).event_ids[0]).type == "maintenance"
        with pytest.raises(Conflict):
            inbox.replay(other)  # done: nothing to replay


def test_unusable_payloads_are_dead_at_once_with_the_reason(app, client):
    make_source(app, "gen", "generic", mapping={"fields": {"title": "what", "type": "kind"}})
    missing = deliver(client, "generic", "gen", b'{"other": 1}').json["id"]
    bad_type = deliver(client, "generic", "gen", b'{"what": "x", "kind": "bogus"}').json["id"]
    assert drain(app) == {"dead": 2}
    dead = item(app, missing)
    assert dead.attempts == 1 and "No title: what is missing" in dead.last_error
    assert "Not a valid event" in item(app, bad_type).last_error and "type" in item(app, bad_type).last_error
    with connected(app):
        sources.update_source("gen", {"mapping": {"fields": {"title": "what"}, "defaults": {"title": "fallback"}}},
                              sources.cipher(app.config["SECRET_KEY"]))
        inbox.replay(missing)
        inbox.replay(bad_type)
    assert drain(app) == {"done": 2}
    assert event_count(app) == 2


def test_transient_failures_back_off_exponentially_then_go_dead(app, client, monkeypatch):
    make_source(app, "ci", "jenkins")
    [item_id] = accept(client, 1)
    def database_away(*args, **kwargs):
        raise RuntimeError("database away")

    # Writing is what can fail for a while (mapping reads no database: see the next test).
    monkeypatch.setattr(inbox, "record_events", database_away)
    monkeypatch.setattr(inbox, "record_event", database_away)
    delays = []
    for attempt in (1, 2):
        before = utcnow()
        assert drain(app) == {"pending": 1}
        current = item(app, item_id)
        assert current.attempts == attempt and "database away" in current.last_error
        delays.append(round((current.next_attempt_at - before).total_seconds()))
        assert drain(app) == {}  # not due yet
        with connected(app):
            InboxItem.update(next_attempt_at=utcnow()).execute()
    assert delays == [10, 15]  # 10 s, then 20 s capped at 15 s
    assert drain(app) == {"dead": 1}
    assert item(app, item_id).last_error.startswith("Gave up after 3 attempts. Last error: RuntimeError: database away")
    monkeypatch.undo()
    with connected(app):
        inbox.replay(item_id)
    assert drain(app) == {"done": 1}


def test_a_mapping_that_fails_on_a_payload_dead_letters_it_at_once(app, client, monkeypatch):
    """A mapping is a function of the payload alone: it would fail the same way on every retry."""
    make_source(app, "ci", "jenkins")
    [item_id] = accept(client, 1)
    monkeypatch.setattr(mappings, "jenkins_events", lambda *a: 1 / 0)
    assert drain(app) == {"dead": 1}
    current = item(app, item_id)
    assert current.attempts == 1
    assert current.last_error.startswith("The mapping failed on this payload (ZeroDivisionError: division by zero)")
    monkeypatch.undo()
    with connected(app):
        inbox.replay(item_id)
    assert drain(app) == {"done": 1}


def test_a_stale_claim_is_taken_over_and_the_slow_worker_rolls_back(app, client):
    make_source(app, "ci", "jenkins")
    accept(client, 2)
    with connected(app):
        slow = inbox.claim("slow", 10, 300)
        assert len(slow) == 2 and inbox.claim("fast", 10, 300) == []  # claimed and fresh: not for others
        InboxItem.update(claimed_at=utcnow() - timedelta(seconds=301)).execute()
        fast = inbox.claim("fast", 10, 300)
        assert [i.id for i in fast] == [i.id for i in slow] and all(i.attempts == 2 for i in fast)
        assert inbox.process(slow, "slow", SETTINGS) == {"lost": 2}
        assert Event.select().count() == 0
        assert inbox.process(fast, "fast", SETTINGS) == {"done": 2}
        assert Event.select().count() == 2


def test_items_of_a_deleted_source_are_dead_lettered(app, client):
    make_source(app, "ci", "jenkins")
    [item_id] = accept(client, 1)
    with connected(app):
        sources.delete_source("ci")
    assert drain(app) == {"dead": 1}
    dead = item(app, item_id)
    assert dead.source_name == "ci" and "was deleted" in dead.last_error


def test_two_workers_never_process_the_same_item(app, client):
    make_source(app, "ci", "jenkins")
    ids = accept(client, 120)
    claimed = {"a": [], "b": []}
    errors = []

    def work(name):
        try:
            with connected(app):
                while True:
                    items = inbox.claim(name, 7, 300)
                    if not items:
                        return
                    claimed[name].extend(i.id for i in items)
                    inbox.process(items, name, SETTINGS)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert not set(claimed["a"]) & set(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == ids
    with connected(app):
        assert Event.select().count() == 120
        assert {i.state for i in InboxItem.select()} == {"done"}
        assert all(len(i.event_ids) == 1 for i in InboxItem.select())


def test_backlog_counts_and_purge(app, client):
    make_source(app, "ci", "jenkins")
    accept(client, 3)
    with connected(app):
        backlog = inbox.backlog()
        assert backlog["pending"] == 3 and backlog["oldest_pending_age_seconds"] >= 0
    drain(app)
    with connected(app):
        assert inbox.backlog() == {"pending": 0, "processing": 0, "dead": 0, "oldest_pending_age_seconds": None}
        InboxItem.update(received_at=utcnow() - timedelta(days=40)).where(InboxItem.id == 1).execute()
        now = utcnow()
        assert inbox.purge(now - timedelta(days=30), now - timedelta(days=90)) == 1
        assert inbox.counts()["done"] == 2


def test_when_the_bulk_write_fails_the_batch_is_redone_item_by_item(app, client, monkeypatch, caplog):
    make_source(app, "ci", "jenkins")
    make_source(app, "gen", "generic", mapping={"fields": {"title": "what", "type": "kind"}})
    accept(client, 3)
    accept(client, 1, start=1, phase="FINALIZED")
    bad = deliver(client, "generic", "gen", b'{"what": "x", "kind": "bogus"}').json["id"]
    monkeypatch.setattr(inbox, "record_events", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    assert drain(app) == {"done": 4, "dead": 1}
    assert "one by one" in caplog.text
    assert "Not a valid event" in item(app, bad).last_error
    with connected(app):
        assert Event.select().count() == 3 and {e.count for e in Event.select()} == {1}


def test_a_claim_takes_at_most_its_batch_oldest_first(app, client):
    make_source(app, "ci", "jenkins")
    ids = accept(client, 12)
    with connected(app):
        first = inbox.claim("a", 5, 300)
        second = inbox.claim("b", 5, 300)
        assert [i.id for i in first] == ids[:5] and [i.id for i in second] == ids[5:10]
        assert inbox.counts()["pending"] == 2 and inbox.counts()["processing"] == 10
        assert {i.claimed_by for i in first} == {"a"} and all(i.attempts == 1 for i in first + second)
