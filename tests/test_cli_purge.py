"""`changetracker purge`, through Flask's CliRunner: what goes, what stays, the prompt, the bad inputs."""
import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from app.accounts import audit
from app.accounts.audit import Actor
from app.cli import main
from app.db import to_db_time
from app.ledger import comments
from app.ledger.events import record_event
from app.models import Agent, AuditEntry, Comment, DedupeSlot, Event, EventAgent, InboxItem
from tests.conftest import connected

SEED = Actor("seed")


def _event(title, occurred_at, **extra):
    return record_event({"title": title, "occurred_at": occurred_at, "agents": ["linux-01"], **extra}, SEED)[0]["id"]


def _inbox(state, received_at):
    InboxItem.create(source_name="ci", kind="generic", body="{}", body_sha256=hashlib.sha256(b"{}").hexdigest(),
                     state=state, received_at=to_db_time(datetime.fromisoformat(received_at)))


@pytest.fixture
def ledger(app):
    """Events either side of 2026-01-01, an outage that spans it, comments, a rollback, inbox items."""
    with connected(app):
        ids = {
            "old": _event("JDK 11 on linux-01", "2025-06-01T00:00:00Z", tools=["jdk"], tags=["java"]),
            "old repeat": _event("Proxy restarted", "2025-12-31T23:59:59Z", dedupe_key="proxy-restart"),
            "spanning": _event("Proxy outage", "2025-12-31T22:00:00Z", type="outage", ended_at="2026-01-01T02:00:00Z"),
            "new": _event("JDK 17 on linux-01", "2026-01-01T00:00:00Z"),
        }
        ids["rollback"] = _event("Back to JDK 11", "2026-02-01T00:00:00Z", type="rollback", reverts=ids["old"])
        comments.add_comment(ids["old"], {"body": "broke the nightly"}, SEED)
        comments.add_comment(ids["new"], {"body": "fine so far"}, SEED)
        _inbox("done", "2025-10-01T00:00:00+00:00")
        _inbox("dead", "2025-10-01T00:00:00+00:00")
        _inbox("pending", "2025-10-01T00:00:00+00:00")  # never purged: the worker has not seen it yet
        _inbox("done", "2026-01-02T00:00:00+00:00")
        DedupeSlot.update(last_seen=datetime(2025, 12, 31, 23, 59, 59)).execute()
    return ids


def counts(app):
    with connected(app):
        return {"events": Event.select().count(), "comments": Comment.select().count(),
                "inbox": InboxItem.select().count(), "audit": AuditEntry.select().count()}


EXPECTED = "2 events, 1 comment, 4 links, 1 dedupe slot, 2 inbox items"


def test_dry_run_counts_and_deletes_nothing(app, runner, ledger):
    before = counts(app)
    result = runner.invoke(main, ["purge", "--before", "2026-01-01", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("dry run: would purge, from before 2026-01-01T00:00:00Z: %s; nothing was deleted"
                                     % EXPECTED)
    assert counts(app) == before


def test_purge_deletes_old_events_with_their_comments_and_links_and_records_one_audit_entry(app, runner, ledger):
    result = runner.invoke(main, ["purge", "--before", "2026-01-01T00:00:00Z", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "purged, from before 2026-01-01T00:00:00Z: %s" % EXPECTED
    with connected(app):
        assert sorted(e.title for e in Event.select()) == ["Back to JDK 11", "JDK 17 on linux-01", "Proxy outage"]
        assert Event.get_by_id(ledger["rollback"]).reverts_id is None  # the rollback stays, unlinked
        assert [c.body for c in Comment.select()] == ["fine so far"]
        assert EventAgent.select().where(EventAgent.event.in_([ledger["old"], ledger["old repeat"]])).count() == 0
        assert Agent.select().where(Agent.name == "linux-01").exists()  # the catalogue stays
        assert sorted((i.state, i.received_at.year) for i in InboxItem.select()) == [("done", 2026), ("pending", 2025)]
        assert DedupeSlot.select().count() == 0
        # The trail of the purged events stays; the purge itself is one entry with the cutoff and the counts.
        assert [e["action"] for e in audit.history("event", ledger["old"])] == ["create"]
        entry = AuditEntry.get(AuditEntry.action == "purge")
        assert (entry.actor, entry.entity_type, entry.entity_id) == ("cli", "retention", "2026-01-01T00:00:00Z")
        assert entry.after == {"before": "2026-01-01T00:00:00Z", "events": 2, "comments": 1, "links": 4,
                               "dedupe_slots": 1, "inbox_items": 2}

    again = runner.invoke(main, ["purge", "--before", "2026-01-01", "--yes"])
    assert again.exit_code == 0 and "nothing to purge from before 2026-01-01T00:00:00Z" in again.output
    with connected(app):
        assert AuditEntry.select().where(AuditEntry.action == "purge").count() == 1


def test_purge_asks_first_and_deletes_nothing_unless_confirmed(app, runner, ledger):
    before = counts(app)
    result = runner.invoke(main, ["purge", "--before", "2026-01-01"])  # no terminal, no answer
    assert result.exit_code == 1
    assert "Purging from before 2026-01-01T00:00:00Z: %s." % EXPECTED in result.output
    assert "not confirmed; nothing was deleted" in result.output and "--yes" in result.output
    assert runner.invoke(main, ["purge", "--before", "2026-01-01"], input="n\n").exit_code == 1
    assert counts(app) == before

    result = runner.invoke(main, ["purge", "--before", "2026-01-01"], input="y\n")
    assert result.exit_code == 0, result.output
    assert counts(app)["events"] == before["events"] - 2


def test_older_than_counts_days_back_from_now(app, runner):
    now = datetime.now(timezone.utc)
    with connected(app):
        _event("forty days ago", (now - timedelta(days=40)).isoformat())
        _event("twenty days ago", (now - timedelta(days=20)).isoformat())
    result = runner.invoke(main, ["purge", "--older-than", "30", "--yes"])
    assert result.exit_code == 0, result.output
    assert "purged, from before %s" % (now - timedelta(days=30)).strftime("%Y-%m-%d") in result.output
    with connected(app):
        assert [e.title for e in Event.select()] == ["twenty days ago"]


@pytest.mark.parametrize("args, message", [
    ([], "Give either a date (before) or a number of days (older_than)"),
    (["--before", "2026-01-01", "--older-than", "30"], "Give either a date"),
    (["--before", "last tuesday"], "before: Not an ISO 8601 date or time"),
    (["--before", "2026-13-01"], "before: Not an ISO 8601 date or time"),
    (["--before", "2999-01-01"], "before: Must not be in the future"),
    (["--older-than", "0"], "older_than: Must be a whole number of days, at least 1"),
    (["--older-than", "-5"], "older_than: Must be a whole number of days, at least 1"),
    (["--older-than", "a month"], "'a month' is not a valid integer"),
])
def test_bad_cutoffs_are_refused_before_anything_is_deleted(app, runner, ledger, args, message):
    before = counts(app)
    for extra in ([], ["--dry-run"], ["--yes"]):
        result = runner.invoke(main, ["purge", *args, *extra])
        assert result.exit_code == 2
        assert message in result.output
    assert counts(app) == before
