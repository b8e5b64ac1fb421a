"""Group commit: concurrent record_event calls share transactions, each caller gets its own outcome after the
commit, and a failing event fails alone."""
import threading
import time

import pytest
from marshmallow import ValidationError

from app.accounts.audit import Actor
from app.ledger import events
from app.ledger.group_commit import GroupCommit
from app.models import AuditEntry, Event, EventAgent
from tests.conftest import concurrently, connected

BOT = Actor("bot")


def test_callers_waiting_for_the_turn_are_written_together_and_each_gets_its_outcome():
    first_batch_started, release = threading.Event(), threading.Event()
    batches = []

    def write(items):
        batches.append(list(items))
        if len(batches) == 1:  # hold the turn until the others are waiting for it
            first_batch_started.set()
            release.wait(10)
        return [ValueError("refused %d" % item) if item % 3 == 0 else item * 10 for item in items]

    group = GroupCommit(write)
    outcomes = {}

    def call(item):
        try:
            outcomes[item] = group.submit(item)
        except ValueError as exc:
            outcomes[item] = str(exc)

    leader = threading.Thread(target=call, args=(1,))
    leader.start()
    first_batch_started.wait(10)
    followers = [threading.Thread(target=call, args=(n,)) for n in range(2, 8)]
    for thread in followers:
        thread.start()
    deadline = time.monotonic() + 10
    while len(group._waiting) < 6 and time.monotonic() < deadline:  # every follower queued behind the turn
        time.sleep(0.01)
    release.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert batches[0] == [1]
    assert sorted(item for batch in batches[1:] for item in batch) == list(range(2, 8))
    assert len(batches) == 2  # the six that waited went in one batch
    assert outcomes == {1: 10, 2: 20, 3: "refused 3", 4: 40, 5: 50, 6: "refused 6", 7: 70}


def test_a_batch_that_raises_fails_every_caller_in_it():
    group = GroupCommit(lambda items: (_ for _ in ()).throw(RuntimeError("database is locked")))
    with pytest.raises(RuntimeError, match="locked"):
        group.submit("x")


def _record_concurrently(payloads):
    return concurrently([(events.record_event, (payload, BOT)) for payload in payloads])


def test_concurrent_events_are_all_stored_with_links_and_audit_and_a_bad_one_fails_alone(app):
    payloads = [{"title": "Upgrade JDK on linux-%02d" % n, "agents": ["linux-%02d" % n, "shared-agent"],
                 "tools": ["jdk-21"], "tags": ["rollout"]} for n in range(11)]
    payloads.append({"title": "Rollback of nothing", "reverts": 999999})
    outcomes = _record_concurrently(payloads)
    assert isinstance(outcomes[11], ValidationError)
    assert outcomes[11].messages == {"reverts": ["No event with id 999999."]}
    created = [outcomes[n] for n in range(11)]
    assert all(made for _, made in created)
    with connected(app):
        assert Event.select().count() == 11
        for event, _ in created:
            stored = events.get_event(event["id"])
            assert stored["title"] == event["title"] and stored["agents"] == sorted(event["agents"])
            assert stored["tools"] == ["jdk-21"] and stored["tags"] == ["rollout"]
            assert events.event_history(event["id"])[0]["action"] == "create"
        assert AuditEntry.select().where(AuditEntry.entity_type == "event").count() == 11
        assert EventAgent.select().count() == 22


def test_repeats_of_one_key_in_one_batch_fold_and_each_answer_counts_itself(app):
    outcomes = _record_concurrently([{"title": "Image re-tagged", "dedupe_key": "img"} for _ in range(6)])
    answers = sorted((event["count"], created) for event, created in outcomes)
    assert answers == [(1, True), (2, False), (3, False), (4, False), (5, False), (6, False)]
    assert len({event["id"] for event, _ in outcomes}) == 1
    with connected(app):
        assert [e.count for e in Event.select()] == [6]
