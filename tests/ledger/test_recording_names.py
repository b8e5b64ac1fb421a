"""Recording links events to catalogue names that each process remembers having seen (app.ledger.inserts):
the memory is only a hint, so renames, deletions and concurrent first uses never link an event wrongly."""
from app.accounts.audit import Actor
from app.dialect import write_transaction
from app.ledger import catalogue
from app.ledger.events import get_event, record_event
from app.ledger.inserts import NAMES_SEEN
from app.models import Agent, EventAgent, Tag, Tool
from tests.conftest import concurrently, connected

BOT = Actor("bot")


def test_after_a_rename_the_old_name_names_a_new_agent_and_history_keeps_the_renamed_one(app):
    with connected(app):
        first, _ = record_event({"title": "JDK on linux-07", "agents": ["linux-07"], "tools": ["jdk-17"]}, BOT)
        catalogue.update_item(catalogue.AGENTS, "linux-07", {"name": "linux-07-retired"}, BOT)
        catalogue.update_item(catalogue.TOOLS, "jdk-17", {"name": "jdk-17-old"}, BOT)
        second, _ = record_event({"title": "JDK on the new linux-07", "agents": ["linux-07"], "tools": ["jdk-17"]},
                                 BOT)
        assert get_event(first["id"])["agents"] == ["linux-07-retired"]
        assert get_event(first["id"])["tools"] == ["jdk-17-old"]
        assert get_event(second["id"])["agents"] == ["linux-07"]
        assert get_event(second["id"])["tools"] == ["jdk-17"]
        assert sorted(a.name for a in Agent.select()) == ["linux-07", "linux-07-retired"]


def test_a_deleted_name_is_created_again_when_an_event_names_it(app):
    with connected(app):
        record_event({"title": "first", "agents": ["linux-08"], "tags": ["night"]}, BOT)
        catalogue.delete_item(catalogue.AGENTS, "linux-08", BOT, force=True)
        Tag.delete().execute()
        again, _ = record_event({"title": "second", "agents": ["linux-08"], "tags": ["night"]}, BOT)
        assert get_event(again["id"])["agents"] == ["linux-08"]
        assert get_event(again["id"])["tags"] == ["night"]


def test_a_name_remembered_from_elsewhere_but_not_in_this_database_is_added(app):
    NAMES_SEEN.add(Agent, ["ghost-agent"])  # as another database (or a process's stale memory) left it
    NAMES_SEEN.add(Tool, ["ghost-tool"])
    with connected(app):
        event, _ = record_event({"title": "x", "agents": ["ghost-agent"], "tools": ["ghost-tool"]}, BOT)
        assert get_event(event["id"])["agents"] == ["ghost-agent"]
        assert get_event(event["id"])["tools"] == ["ghost-tool"]


def test_concurrent_first_uses_of_a_name_make_one_row_and_link_every_event(app):
    """Each thread writes in a transaction of its own, on its own connection (concurrently on PostgreSQL;
    one after another on SQLite, whose write lock serialises them)."""
    NAMES_SEEN.forget(Agent)

    def first_sight(n):
        with write_transaction():
            return record_event({"title": "first sight %d" % n, "agents": ["brand-new", "linux-%02d" % n]}, BOT)

    threads = 8
    outcomes = concurrently([(first_sight, (n,)) for n in range(threads)])
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    with connected(app):
        brand_new = Agent.select().where(Agent.name == "brand-new")
        assert brand_new.count() == 1
        assert EventAgent.select().where(EventAgent.agent == brand_new.get().id).count() == threads
        assert Agent.select().count() == threads + 1
