"""De-duplication: explicit keys within a window, machine fingerprints, and concurrent posts."""
from datetime import timedelta

import pytest

from app.accounts.audit import Actor
from app.db import utcnow
from app.ledger.dedupe import normalise_title
from app.ledger.events import record_event
from app.models import DedupeSlot, Event
from tests.conftest import concurrently, connected

BOT = Actor("bot")


@pytest.mark.parametrize("a, b", [
    ("Build #41 of infra-agents failed", "Build #42 of infra-agents failed"),
    ("Image maven:3.9 now sha256:0123456789abcdef0123", "Image maven:3.9 now sha256:fedcba9876543210fedc"),
    ("Snapshot at 2026-11-20T10:00:00Z", "Snapshot at 2026-11-21 11:30:05+01:00"),
    ("Agent  LINUX-07 relabelled", "agent linux-07 relabelled"),
])
def test_normalised_titles_match(a, b):
    assert normalise_title(a) == normalise_title(b)


def test_different_words_do_not_match():
    assert normalise_title("JDK upgraded") != normalise_title("JDK downgraded")


def test_machine_repeats_fold_without_a_key(app):
    with connected(app):
        first, created = record_event({"title": "Config of linux-07 changed (rev 11)", "source": "poller",
                                        "agents": ["linux-07"], "type": "agent_config"}, BOT)
        again, folded = record_event({"title": "Config of linux-07 changed (rev 12)", "source": "poller",
                                      "agents": ["linux-07"], "type": "agent_config"}, BOT)
        other_agent, other = record_event({"title": "Config of linux-08 changed (rev 12)", "source": "poller",
                                           "agents": ["linux-08"], "type": "agent_config"}, BOT)
        manual, manual_created = record_event({"title": "Config of linux-07 changed (rev 11)", "source": "manual",
                                               "agents": ["linux-07"], "type": "agent_config"}, BOT)
        manual2, manual2_created = record_event({"title": "Config of linux-07 changed (rev 11)", "source": "manual",
                                                 "agents": ["linux-07"], "type": "agent_config"}, BOT)
    assert (created, folded, other, manual_created, manual2_created) == (True, False, True, True, True)
    assert again["id"] == first["id"] and again["count"] == 2
    assert other_agent["id"] != first["id"]


def test_repeat_outside_the_window_is_a_new_event(app):
    with connected(app):
        first, _ = record_event({"title": "x", "dedupe_key": "k"}, BOT, dedupe_window=timedelta(hours=1))
        two_hours_ago = utcnow() - timedelta(hours=2)
        Event.update(last_seen=two_hours_ago).execute()
        DedupeSlot.update(last_seen=two_hours_ago).execute()
        second, created = record_event({"title": "x", "dedupe_key": "k"}, BOT, dedupe_window=timedelta(hours=1))
        third, folded = record_event({"title": "x", "dedupe_key": "k"}, BOT, dedupe_window=timedelta(hours=1))
    assert created and second["id"] != first["id"]
    assert not folded and third["id"] == second["id"] and third["count"] == 2


def test_concurrent_posts_with_one_key_make_one_event(app):
    """Eight threads, each on its own connection (peewee keeps them per thread), post one key at once."""
    posts_per_thread, threads = 5, 8

    def post_repeatedly():
        for _ in range(posts_per_thread):
            record_event({"title": "Image re-tagged", "dedupe_key": "img:maven", "source": "webhook"}, BOT)

    outcomes = concurrently([(post_repeatedly, ())] * threads)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    with connected(app):
        events = list(Event.select())
    assert len(events) == 1 and events[0].count == posts_per_thread * threads
