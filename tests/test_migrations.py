"""Migrations: upgrade → downgrade → upgrade on the suite's database, and the result matches the models."""
import pytest
from peewee import IntegrityError, PostgresqlDatabase

from app import migrations
from app.db import open_database
from app.models import MODELS


@pytest.fixture
def db(database_url):
    database = open_database(database_url)
    database.connect()
    yield database
    database.close()


def tables(db):
    return set(db.get_tables())


def test_migrated_schema_matches_models(db):
    assert not migrations.drift(db), str(migrations.drift(db))
    assert migrations.pending(db) == []


def test_upgrade_downgrade_upgrade(db):
    model_tables = {m._meta.table_name for m in MODELS}
    assert model_tables <= tables(db)

    names = [name for _, name, _ in migrations.status(db)]
    assert names[0] == "0001_core_ledger"
    assert migrations.downgrade(db, to=0) == list(reversed(names))
    assert not (model_tables & tables(db))
    assert all(applied is None for _, _, applied in migrations.status(db))

    assert migrations.upgrade(db, to=1) == ["0001_core_ledger"]
    assert migrations.upgrade(db) == names[1:]
    assert model_tables <= tables(db)
    assert not migrations.drift(db)
    assert migrations.upgrade(db) == []


def test_indexes_serve_the_timeline_queries(db):
    def indexed(table):
        return [tuple(i.columns) for i in db.get_indexes(table)]

    assert ("occurred_at",) in indexed("event")
    for column in ("type", "severity", "source"):
        assert (column,) in indexed("event")
    assert ("agent_id", "occurred_at") in indexed("event_agent")
    assert ("tool_id", "occurred_at") in indexed("event_tool")
    assert ("toolchain_id", "occurred_at") in indexed("event_toolchain")
    assert ("tag_id", "occurred_at") in indexed("event_tag")


JUNCTIONS = (("event_agent", "agent_id"), ("event_tool", "tool_id"), ("event_toolchain", "toolchain_id"),
             ("event_tag", "tag_id"))


@pytest.mark.parametrize("table, entity", JUNCTIONS)
def test_links_have_two_indexes_and_every_lookup_uses_one(db, table, entity):
    """Migration 0013: the primary key serves lookups by event, the (entity, occurred_at) index those by entity
    (the timeline, the foreign key's check when an agent, tool, toolchain or tag goes); nothing else is kept."""
    indexes = {tuple(i.columns) for i in db.get_indexes(table)}
    assert indexes == {("event_id", entity), (entity, "occurred_at")}
    postgresql = isinstance(db, PostgresqlDatabase)
    if postgresql:  # a few rows: the planner would read the table whatever indexes it has
        db.execute_sql("SET enable_seqscan = off")
    try:
        for column in ("event_id", entity):
            sql = "SELECT occurred_at FROM %s WHERE %s = %s" % (table, column, db.param)
            plan = " ".join(str(row) for row in db.execute_sql(
                ("EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN ") + sql, (1,)).fetchall())
            assert ("Index" in plan) if postgresql else ("USING" in plan and "INDEX" in plan), plan
    finally:
        if postgresql:
            db.execute_sql("RESET enable_seqscan")


def test_foreign_keys_are_enforced_with_their_cascade_rules(app, client, auth):
    from peewee import IntegrityError

    from app.db import database
    from app.models import Agent, ApiToken, AuditEntry, Event, EventAgent, User
    from tests.conftest import connected

    headers = auth.headers()
    event_id = client.post("/api/v1/events", json={"title": "x", "agents": ["a1"]}, headers=headers).json["id"]
    with connected(app):
        with pytest.raises(IntegrityError):  # an agent that history references cannot just vanish
            with database.atomic():
                Agent.delete().where(Agent.name == "a1").execute()
        Event.delete().where(Event.id == event_id).execute()
        assert EventAgent.select().count() == 0  # the event's links went with it

        user = User.get(User.username == "editor")
        User.delete().where(User.id == user.id).execute()
        assert ApiToken.select().count() == 0  # tokens go with their owner
        assert AuditEntry.select().where(AuditEntry.actor.startswith("editor")).count() >= 1  # the trail stays


def test_upgrading_flags_the_changes_recorded_before_with_no_intent(db):
    """Migration 0006 flags existing events by the rule of app.ledger.unplanned with the default window (2 h)."""
    from datetime import datetime

    from peewee import Table

    migrations.downgrade(db, to=5)
    event = Table("event").bind(db)
    link = Table("event_agent", ("event_id", "agent_id", "occurred_at")).bind(db)
    agent = Table("agent", ("id", "name", "labels", "description", "offline", "created_at")).bind(db)
    now = datetime(2026, 11, 20, 12, 0)
    for number, name in ((1, "linux-07"), (2, "linux-08")):
        agent.insert(id=number, name=name, labels="[]", description="", offline=False, created_at=now).execute()
    rows = [  # (title, source, type, time, agent)
        ("pipeline relabels linux-07", "pipeline", "agent_config", datetime(2026, 11, 20, 10, 30), 1),
        ("poller: linux-07 relabelled", "poller", "agent_config", datetime(2026, 11, 20, 12, 0, 0, 250000), 1),
        ("poller: linux-08 relabelled", "poller", "agent_config", datetime(2026, 11, 20, 12, 0), 2),
        ("webhook: linux-07 image, 3 h later", "webhook", "docker_image", datetime(2026, 11, 20, 13, 45), 1),
        ("poller: linux-08 rebooted", "poller", "note", datetime(2026, 11, 20, 12, 5), 2),
    ]
    for number, (title, source, kind, at, agent_id) in enumerate(rows, start=1):
        event.insert(id=number, title=title, description="", type=kind, severity="info", source=source,
                     occurred_at=at, changes="[]", links="[]", metadata="{}", count=1, first_seen=at, last_seen=at,
                     created_at=at, updated_at=at).execute()
        link.insert(event_id=number, agent_id=agent_id, occurred_at=at).execute()
    try:
        migrations.upgrade(db)
        flagged = sorted(title for (title,) in db.execute_sql("SELECT title FROM event WHERE unplanned"))
        assert flagged == ["poller: linux-08 relabelled", "webhook: linux-07 image, 3 h later"]
    finally:
        for table in ("event_agent", "event", "agent", "timeline_count", "timeline_count_delta"):
            db.execute_sql("DELETE FROM %s" % table)


def test_0007_renames_users_whose_names_differ_only_by_case_and_keeps_the_oldest(db):
    """Before 0007, VIEWER1 and viewer1 could both exist; afterwards the first keeps the name, the others are
    renamed <name>-<id> (past a name already taken), with an audit entry, and their sessions end."""
    migrations.downgrade(db, to=5)

    def add(name):
        db.execute_sql('INSERT INTO "user" ("username", "password_hash", "role", "active", "created_at") '
                       "VALUES ({p}, 'x', 'viewer', {p}, '2026-01-01 00:00:00')".format(p=db.param), (name, True))
        return db.execute_sql('SELECT "id" FROM "user" WHERE "username" = {p}'.format(p=db.param), (name,)).fetchone()[0]

    ids = {name: add(name) for name in ["viewer1", "VIEWER1", "ops", "Viewer1", "OPS"]}
    squatter = "viewer1-%d" % ids["VIEWER1"]  # the name VIEWER1 would get is taken already
    ids[squatter] = add(squatter)
    migrations.upgrade(db)
    rows = dict(db.execute_sql('SELECT "id", "username" FROM "user"').fetchall())
    assert rows[ids["viewer1"]] == "viewer1" and rows[ids["ops"]] == "ops"
    assert rows[ids["VIEWER1"]] == "VIEWER1-%d-2" % ids["VIEWER1"]
    assert rows[ids["Viewer1"]] == "Viewer1-%d" % ids["Viewer1"]
    assert rows[ids["OPS"]] == "OPS-%d" % ids["OPS"]
    assert rows[ids[squatter]] == squatter  # no clash of its own: untouched
    assert len({name.lower() for name in rows.values()}) == len(rows)
    versions = dict(db.execute_sql('SELECT "id", "session_version" FROM "user"').fetchall())
    assert versions[ids["VIEWER1"]] == 2 and versions[ids["viewer1"]] == 1
    audit = db.execute_sql('SELECT "entity_id", "before" FROM "audit_entry" WHERE "action" = {p}'
                           .format(p=db.param), ("rename",)).fetchall()
    assert sorted(entity for entity, _ in audit) == sorted([rows[ids[n]] for n in ("VIEWER1", "Viewer1", "OPS")])
    with pytest.raises(IntegrityError):
        with db.atomic():
            db.execute_sql('INSERT INTO "user" ("username", "password_hash", "role", "active", "created_at", '
                           '"session_version") VALUES ({p}, \'x\', \'viewer\', {p}, \'2026-01-01 00:00:00\', 1)'
                           .format(p=db.param), ("Ops", True))
