"""`changetracker db copy TARGET_URL`: a SQLite deployment moved into another database (the suite's: PostgreSQL
under `make test-postgres`, SQLite otherwise) with every event, link, comment, user, token and audit entry intact."""
import pytest

from app import create_app, migrations
from app.cli import main
from app.db import database, open_database
from app.models import MODELS, AuditEntry, Event
from app.ops.transfer import LEFT_OUT
from tests.conftest import PASSWORD, AuthActions, connected
from tests.webhook_support import REGISTRY_TYPE, deliver, make_source, tagged_push


TIMELINE = "/api/v1/timeline?bucket=day&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"


def make_app(url, tmp_path):
    return create_app({"TESTING": True, "ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "test-secret-key",
                       "LOGIN_RATE_LIMIT": "1000 per minute", "INSTANCE_PATH": str(tmp_path)})


@pytest.fixture
def source(tmp_path):
    """A SQLite deployment with something in every table the copy carries."""
    url = "sqlite:///%s" % (tmp_path / "source.db")
    db = open_database(url)
    migrations.upgrade(db)
    db.close()
    app = make_app(url, tmp_path)
    client = app.test_client()
    auth = AuthActions(app, client)
    editor = {"Authorization": "Bearer " + auth.token("editor", "write", username="ann")}
    auth.token("admin", "admin", username="root")
    created = []
    for n, (agents, tools, severity) in enumerate([(["linux-07", "linux-08"], ["jdk"], "high"),
                                                   (["linux-07"], ["maven", "jdk"], "low"),
                                                   ([], ["docker:base"], "info")]):
        response = client.post("/api/v1/events", headers=editor, json={
            "title": "Change %d" % n, "type": "tool_update", "severity": severity, "agents": agents, "tools": tools,
            "toolchains": ["java"], "tags": ["night", "t%d" % n], "occurred_at": "2026-11-%02dT10:00:00Z" % (10 + n),
            "changes": [{"path": "version", "before": "1", "after": "2"}], "metadata": {"ticket": "OPS-%d" % n},
            "links": [{"url": "https://ci.example.com/%d" % n, "text": "build"}], "dedupe_key": "change-%d" % n})
        assert response.status_code == 201, response.json
        created.append(response.json["id"])
    # An earlier event reverting a later one: the copy must not trip over the order.
    assert client.patch("/api/v1/events/%d" % created[0], headers=editor,
                        json={"reverts": created[2], "title": "Rolled back"}).status_code == 200
    assert client.post("/api/v1/events/%d/comments" % created[2], headers=editor,
                       json={"body": "Seen on linux-07 too"}).status_code == 201
    assert client.post("/api/v1/saved-searches", headers=editor,
                       json={"name": "night", "query": "?tag=night"}).status_code == 201
    assert client.delete("/api/v1/events/%d" % created[1], headers=editor).status_code == 204
    make_source(app, "hub", "registry")
    assert deliver(client, "registry", "hub", tagged_push("1.0"), REGISTRY_TYPE).status_code == 202
    with connected(app):
        from app.ingest import inbox
        from app.polling import snapshots

        inbox.drain("w1", inbox.Settings())
        snapshots.submit("docker_image", "hub/library/test:1.0", None, {"digest": "sha256:" + "c" * 64})
    return url, app


def rows(url):
    """Every carried table's rows, in primary-key order."""
    db = open_database(url)
    found = {}
    with db.bind_ctx(MODELS):
        for model in MODELS:
            if model in LEFT_OUT:
                continue
            key = model._meta.primary_key
            order = [model._meta.fields[n] for n in key.field_names] if model._meta.composite_key else [key]
            found[model._meta.table_name] = list(model.select().order_by(*order).dicts())
    db.close()
    return found


def test_copy_carries_every_row_and_id_and_the_target_works(source, database_url, tmp_path):
    url, app = source
    before = rows(url)
    assert all(before[t] for t in ("user", "api_token", "event", "event_agent", "event_tool", "event_toolchain",
                                   "event_tag", "comment", "audit_entry", "saved_search", "webhook_source",
                                   "inbox_item", "snapshot", "dedupe_slot"))
    reader = {"Authorization": "Bearer " + AuthActions(app, None).token("viewer", "read", username="v")}
    timeline = app.test_client().get(TIMELINE, headers=reader).json
    timeline.pop("now")  # when it was asked, not what it holds
    before = rows(url)  # the reader's user and token too
    result = app.test_cli_runner().invoke(main, ["db", "copy", database_url])
    assert result.exit_code == 0, result.output
    assert "copied into" in result.output and "event 3" in result.output  # 2 recorded by hand, 1 by the webhook
    assert rows(database_url) == before

    if not database.is_closed():
        database.close()
    target = make_app(database_url, tmp_path)
    client = target.test_client()
    auth = AuthActions(target, client)
    assert auth.login("ann", PASSWORD).status_code == 302  # the argon2 hash came along
    viewer = {"Authorization": "Bearer " + auth.token("viewer", "read", username="v2")}
    copied = client.get(TIMELINE, headers=viewer).json
    copied.pop("now")
    assert copied == timeline
    editor = {"Authorization": "Bearer " + auth.token("editor", "write", username="ann")}
    with connected(target):
        newest = max(e.id for e in Event.select())
        audit_count = AuditEntry.select().count()
    made = client.post("/api/v1/events", headers=editor, json={"title": "After the move", "type": "note"})
    assert made.status_code == 201 and made.json["id"] > newest  # new ids follow the copied ones
    with connected(target):
        assert AuditEntry.select().count() == audit_count + 1


def test_copy_refuses_a_target_that_holds_anything(source, database_url, tmp_path):
    url, app = source
    assert app.test_cli_runner().invoke(main, ["db", "copy", database_url]).exit_code == 0
    again = app.test_cli_runner().invoke(main, ["db", "copy", database_url])
    assert again.exit_code == 1
    assert "not empty" in again.output and "event: 3 rows" in again.output
    assert len(rows(database_url)["event"]) == 3


def test_copy_refuses_an_unreachable_target(source):
    _, app = source
    result = app.test_cli_runner().invoke(main, ["db", "copy", "postgresql://nobody:pw@127.0.0.1:1/none"])
    assert result.exit_code == 1 and "Cannot open the target database" in result.output
    assert "pw" not in result.output.replace("password", "")
