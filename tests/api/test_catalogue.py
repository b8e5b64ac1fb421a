"""Agents, tools and toolchains through /api/v1/<kind>[/<name>]: CRUD, renames, guarded deletes, audit."""
from urllib.parse import quote

import pytest

from app.models import Agent, AuditEntry, Event, EventAgent, Tool, ToolchainTool
from tests.conftest import connected

KINDS = ["agents", "tools", "toolchains"]
# A body with every writable field, per kind.
FULL = {
    "agents": {"name": "linux-07", "labels": ["linux", "docker"], "description": "big box", "url": "https://ci/computer/linux-07",
               "os": "Debian 12", "executors": 4, "offline": True, "last_seen_at": "2026-01-31T12:00:00Z"},
    "tools": {"name": "jdk-17", "kind": "jdk", "description": "Temurin", "url": "https://adoptium.net"},
    "toolchains": {"name": "java", "description": "the JVM stack", "tools": ["jdk-17", "maven"]},
}
EVENT_KEY = {"agents": "agents", "tools": "tools", "toolchains": "toolchains"}


@pytest.fixture
def editor(auth):
    return auth.headers(role="editor", scope="write")


@pytest.fixture
def viewer(auth):
    return auth.headers(role="viewer", scope="read")


def url(kind, name=None):
    return "/api/v1/%s" % kind + ("" if name is None else "/" + quote(name, safe=""))


def record(client, headers, title="x", **links):
    response = client.post("/api/v1/events", json={"title": title, **links}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def audit_entries(app, entity_type, action=None):
    with connected(app):
        query = AuditEntry.select().where(AuditEntry.entity_type == entity_type).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return [(e.action, e.entity_id, e.before, e.after) for e in query]


@pytest.mark.parametrize("kind", KINDS)
def test_create_get_list_update_delete(client, editor, app, kind):
    body = FULL[kind]
    created = client.post(url(kind), json=body, headers=editor)
    assert created.status_code == 201, created.json
    item = created.json
    for field, value in body.items():
        expected = value.replace("Z", "+00:00") if field == "last_seen_at" else value
        assert item[field] == expected
    assert item["event_count"] == 0 and item["last_event_at"] is None

    assert client.get(url(kind, body["name"]), headers=editor).json == item
    assert [i["name"] for i in client.get(url(kind), headers=editor).json["items"]] == (
        sorted([body["name"]] + (body.get("tools") or [])) if kind == "tools" else [body["name"]])

    changed = client.patch(url(kind, body["name"]), json={"description": "changed"}, headers=editor)
    assert changed.status_code == 200 and changed.json["description"] == "changed"
    assert changed.json["id"] == item["id"]

    assert client.delete(url(kind, body["name"]), headers=editor).status_code == 204
    assert client.get(url(kind, body["name"]), headers=editor).status_code == 404

    trail = [entry for entry in audit_entries(app, kind[:-1]) if entry[1] == str(item["id"])]
    assert [action for action, *_ in trail] == ["create", "update", "delete"]
    create, update, delete = trail
    assert create[3]["name"] == body["name"] and create[2] is None
    assert update[2] == {"name": body["name"], "description": body["description"]}
    assert update[3] == {"name": body["name"], "description": "changed"}
    assert delete[2]["description"] == "changed" and delete[2]["unlinked_events"] == [] and delete[3] is None


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_name_is_required(client, editor, kind):
    created = client.post(url(kind), json={"name": "bare"}, headers=editor)
    assert created.status_code == 201
    defaults = {"agents": {"labels": [], "offline": False, "executors": None, "os": None},
                "tools": {"kind": "other", "toolchains": []}, "toolchains": {"tools": []}}[kind]
    assert {k: created.json[k] for k in defaults} == defaults


NAMES = [
    "jdk-17.0.9",
    "a.b.c",
    "...",
    "trailing.",
    "linux 07",
    "ünïcødé ☃ агент",
    "what?#%",
    "x&y=z+1",
    "50% off",
    "back\\slash",
    "x" * 200,
    "library/python",
    "registry.internal/ci/build-images/jdk:17",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", KINDS)
def test_names_with_dots_spaces_and_unicode_route_url_encoded(client, editor, kind, name):
    assert client.post(url(kind), json={"name": name}, headers=editor).status_code == 201
    found = client.get(url(kind, name), headers=editor)
    assert found.status_code == 200 and found.json["name"] == name
    assert client.patch(url(kind, name), json={"description": "d"}, headers=editor).status_code == 200
    assert client.delete(url(kind, name), headers=editor).status_code == 204
    assert client.get(url(kind, name), headers=editor).status_code == 404


@pytest.mark.parametrize("name, message", [
    ("", "1 to 200"),
    ("x" * 201, "1 to 200"),
    ("/lead", "'/'"),
    ("trail/", "'/'"),
    ("a//b", "'//'"),
    (".", "'.' or '..'"),
    ("..", "'.' or '..'"),
    ("a/../b", "'.' or '..'"),
    ("a/.", "'.' or '..'"),
    (" padded", "whitespace"),
    ("padded ", "whitespace"),
    ("tab\there", "printable"),
    ("line\nbreak", "printable"),
    ("nul\x00", "NUL"),
    (7, "Not a valid string"),
    (None, "may not be null"),
])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_names_are_422_naming_the_field(client, editor, app, kind, name, message):
    response = client.post(url(kind), json={"name": name}, headers=editor)
    assert response.status_code == 422
    assert message in " ".join(response.json["errors"]["name"])
    assert audit_entries(app, kind[:-1]) == []


@pytest.mark.parametrize("kind, body, field, message", [
    ("agents", {"labels": ["two words"]}, "labels", "single words"),
    ("agents", {"labels": "linux"}, "labels", "Not a valid list"),
    ("agents", {"executors": -1}, "executors", "greater than or equal to 0"),
    ("agents", {"executors": "2"}, "executors", "Not a valid integer"),
    ("agents", {"url": "ftp://ci/agent"}, "url", "Not a valid URL"),
    ("agents", {"last_seen_at": "2026-01-31T12:00:00"}, "last_seen_at", "UTC offset"),
    ("agents", {"last_seen_at": "yesterday"}, "last_seen_at", "ISO 8601"),
    ("agents", {"offline": "maybe"}, "offline", "Not a valid boolean"),
    ("agents", {"os": "x" * 101}, "os", "Longer than maximum"),
    ("agents", {"colour": "blue"}, "colour", "Unknown field"),
    ("tools", {"kind": "JDK 17"}, "kind", "lower-case"),
    ("tools", {"kind": ""}, "kind", "between 1 and 50"),
    ("tools", {"description": "x" * 20001}, "description", "Longer than maximum"),
    ("toolchains", {"tools": ["a//b"]}, "tools", "'//'"),
    ("toolchains", {"tools": "jdk"}, "tools", "Not a valid list"),
])
def test_bad_fields_are_422_naming_the_field(client, editor, app, kind, body, field, message):
    response = client.post(url(kind), json={"name": "n", **body}, headers=editor)
    assert response.status_code == 422
    assert message in str(response.json["errors"][field])
    assert client.get(url(kind, "n"), headers=editor).status_code == 404

    assert client.post(url(kind), json={"name": "n"}, headers=editor).status_code == 201
    patched = client.patch(url(kind, "n"), json=body, headers=editor)
    assert patched.status_code == 422 and field in patched.json["errors"]


@pytest.mark.parametrize("field", ["id", "created_at", "event_count", "last_event_at"])
def test_read_only_fields_cannot_be_patched(client, editor, field):
    client.post(url("agents"), json={"name": "a"}, headers=editor)
    response = client.patch(url("agents", "a"), json={field: 5}, headers=editor)
    assert response.status_code == 422 and response.json["errors"][field] == ["Read-only field."]


@pytest.mark.parametrize("body, message", [
    (b"", "empty"),
    (b"[1]", "JSON object"),
    (b"{nope", "not valid JSON"),
])
def test_bodies_that_are_not_json_objects_are_400(client, editor, body, message):
    response = client.post(url("tools"), data=body, headers={**editor, "Content-Type": "application/json"})
    assert response.status_code == 400 and message in response.json["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_taken_name_is_409(client, editor, app, kind):
    assert client.post(url(kind), json={"name": "dup"}, headers=editor).status_code == 201
    again = client.post(url(kind), json={"name": "dup"}, headers=editor)
    assert again.status_code == 409
    assert again.json["errors"] == {"name": ["Already taken."]} and "dup" in again.json["message"]
    assert len(audit_entries(app, kind[:-1])) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_names_are_404(client, editor, kind):
    assert client.get(url(kind, "ghost"), headers=editor).status_code == 404
    assert client.patch(url(kind, "ghost"), json={"description": "x"}, headers=editor).status_code == 404
    response = client.delete(url(kind, "ghost"), headers=editor)
    assert response.status_code == 404 and "ghost" in response.json["message"]
    assert client.get(url(kind, "nul\x00"), headers=editor).status_code in (400, 404)
    assert client.get("/api/v1/%s/a%%2Fb" % kind, headers=editor).status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_rename_keeps_history_linked(client, editor, app, kind):
    event = record(client, editor, **{EVENT_KEY[kind]: ["old-name"]})
    before = client.get(url(kind, "old-name"), headers=editor).json

    renamed = client.patch(url(kind, "old-name"), json={"name": "new name.v2"}, headers=editor)
    assert renamed.status_code == 200
    assert renamed.json["id"] == before["id"] and renamed.json["name"] == "new name.v2"
    assert renamed.json["event_count"] == 1

    assert client.get(url(kind, "old-name"), headers=editor).status_code == 404
    assert client.get("/api/v1/events/%d" % event["id"], headers=editor).json[EVENT_KEY[kind]] == ["new name.v2"]
    listed = client.get("/api/v1/events", query_string={kind[:-1]: "new name.v2"}, headers=editor).json["items"]
    assert [e["id"] for e in listed] == [event["id"]]
    (_, entity_id, old, new), = audit_entries(app, kind[:-1], "update")
    assert entity_id == str(before["id"]) and old == {"name": "old-name"} and new == {"name": "new name.v2"}


@pytest.mark.parametrize("kind", KINDS)
def test_rename_onto_a_taken_name_is_409_and_changes_nothing(client, editor, app, kind):
    client.post(url(kind), json={"name": "first"}, headers=editor)
    client.post(url(kind), json={"name": "second"}, headers=editor)
    response = client.patch(url(kind, "first"), json={"name": "second", "description": "lost"}, headers=editor)
    assert response.status_code == 409 and response.json["errors"] == {"name": ["Already taken."]}
    assert client.get(url(kind, "first"), headers=editor).json["description"] == ""
    assert audit_entries(app, kind[:-1], "update") == []
    assert client.patch(url(kind, "first"), json={"name": "first"}, headers=editor).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_deleting_what_events_reference_is_409_with_the_count(client, editor, app, kind):
    record(client, editor, "one", **{EVENT_KEY[kind]: ["busy"]})
    record(client, editor, "two", **{EVENT_KEY[kind]: ["busy"]})
    response = client.delete(url(kind, "busy"), headers=editor)
    assert response.status_code == 409
    assert "2 events reference" in response.json["message"] and "force=true" in response.json["message"]
    assert "events" in response.json["errors"]
    assert client.get(url(kind, "busy"), headers=editor).json["event_count"] == 2
    assert client.delete(url(kind, "busy"), query_string={"force": "false"}, headers=editor).status_code == 409

    bad = client.delete(url(kind, "busy"), query_string={"force": "perhaps"}, headers=editor)
    assert bad.status_code == 422 and "force" in bad.json["errors"]


@pytest.mark.parametrize("kind", KINDS)
def test_force_delete_unlinks_the_events_and_audits(client, editor, app, kind):
    first = record(client, editor, "one", **{EVENT_KEY[kind]: ["busy", "other"]})
    second = record(client, editor, "two", **{EVENT_KEY[kind]: ["busy"]})
    item_id = client.get(url(kind, "busy"), headers=editor).json["id"]

    assert client.delete(url(kind, "busy"), query_string={"force": "true"}, headers=editor).status_code == 204

    assert client.get(url(kind, "busy"), headers=editor).status_code == 404
    assert client.get("/api/v1/events/%d" % first["id"], headers=editor).json[EVENT_KEY[kind]] == ["other"]
    assert client.get("/api/v1/events/%d" % second["id"], headers=editor).json[EVENT_KEY[kind]] == []
    (_, entity_id, before, after), = audit_entries(app, kind[:-1], "delete")
    assert entity_id == str(item_id) and before["name"] == "busy" and after is None
    assert before["unlinked_events"] == [first["id"], second["id"]]
    for event in (first, second):
        history = client.get("/api/v1/events/%d/history" % event["id"], headers=editor).json["items"]
        assert history[-1]["action"] == "unlink" and history[-1]["before"] == {kind[:-1]: "busy"}
    assert client.get(url(kind, "other"), headers=editor).json["event_count"] == 1


def test_the_database_still_refuses_to_drop_referenced_rows(client, editor, app):
    """The domain counts first, but the RESTRICT foreign key is the last word (e.g. a racing ingest)."""
    from peewee import IntegrityError

    from app.db import database

    record(client, editor, agents=["a1"])
    with connected(app):
        with pytest.raises(IntegrityError):
            with database.atomic():
                Agent.delete().where(Agent.name == "a1").execute()
        assert EventAgent.select().count() == 1


def test_get_one_has_event_count_and_newest_event_time(client, editor):
    record(client, editor, "old", agents=["a"], occurred_at="2026-01-01T00:00:00Z")
    record(client, editor, "new", agents=["a"], occurred_at="2026-03-01T10:30:00+02:00")
    record(client, editor, "elsewhere", agents=["b"], occurred_at="2026-04-01T00:00:00Z")
    agent = client.get(url("agents", "a"), headers=editor).json
    assert agent["event_count"] == 2 and agent["last_event_at"] == "2026-03-01T08:30:00+00:00"
    listed = {a["name"]: a["event_count"] for a in client.get(url("agents"), headers=editor).json["items"]}
    assert listed == {"a": 2, "b": 1}


def test_list_filters_by_name_substring_and_labels(client, editor):
    for name, labels in [("linux-01", ["linux", "docker"]), ("linux-02", ["linux"]), ("win-01", ["windows"]),
                         ("mac-01", ["macos", "lin"]), ("odd", ['quote"linux'])]:
        assert client.post(url("agents"), json={"name": name, "labels": labels}, headers=editor).status_code == 201

    def names(**query):
        response = client.get(url("agents"), query_string=query, headers=editor)
        assert response.status_code == 200, response.json
        return [a["name"] for a in response.json["items"]]

    assert names(q="LINUX") == ["linux-01", "linux-02"]
    assert names(q="-01") == ["linux-01", "mac-01", "win-01"]
    assert names(q="%") == [] and names(q="_") == []
    assert names(label="linux") == ["linux-01", "linux-02"]  # exact labels, not substrings
    assert names(label="lin") == ["mac-01"]
    assert names(label=["docker", "windows"]) == ["linux-01", "win-01"]
    assert names(label="docker", q="02") == []
    assert names(label="LINUX") == []


def test_list_pages_with_a_cursor(client, editor):
    for i in range(7):
        client.post(url("tools"), json={"name": "tool-%d" % i}, headers=editor)
    seen, cursor = [], None
    while True:
        page = client.get(url("tools"), query_string={"limit": 3, **({"cursor": cursor} if cursor else {})},
                          headers=editor).json
        seen += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["tool-%d" % i for i in range(7)]


@pytest.mark.parametrize("query, field", [
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"cursor": "!!!"}, "cursor"),
    ({"q": "x" * 201}, "q"),
])
def test_bad_list_queries_are_422(client, editor, query, field):
    response = client.get(url("agents"), query_string=query, headers=editor)
    assert response.status_code == 422 and field in response.json["errors"]


def test_toolchain_tools_are_kept_in_the_junction_and_unknown_tools_created(client, editor, app):
    client.post(url("tools"), json={"name": "jdk-17", "kind": "jdk"}, headers=editor)
    created = client.post(url("toolchains"), json={"name": "java", "tools": ["maven", "jdk-17", "maven"]}, headers=editor)
    assert created.status_code == 201 and created.json["tools"] == ["jdk-17", "maven"]
    assert client.get(url("tools", "maven"), headers=editor).json["toolchains"] == ["java"]
    assert [after["name"] for _, _, _, after in audit_entries(app, "tool", "create")] == ["jdk-17", "maven"]

    changed = client.patch(url("toolchains", "java"), json={"tools": ["gradle"]}, headers=editor)
    assert changed.status_code == 200 and changed.json["tools"] == ["gradle"]
    (_, _, before, after), = audit_entries(app, "toolchain", "update")
    assert before["tools"] == ["jdk-17", "maven"] and after["tools"] == ["gradle"]
    assert client.get(url("tools", "maven"), headers=editor).json["toolchains"] == []

    assert client.delete(url("tools", "gradle"), headers=editor).status_code == 204
    assert client.get(url("toolchains", "java"), headers=editor).json["tools"] == []
    with connected(app):
        assert ToolchainTool.select().count() == 0
        assert Tool.select().count() == 2


@pytest.mark.parametrize("method, path, body, viewer_status", [
    ("GET", "/api/v1/agents", None, 200),
    ("GET", "/api/v1/agents/linux-07", None, 200),
    ("POST", "/api/v1/tools", {"name": "new"}, 403),
    ("PATCH", "/api/v1/toolchains/java", {"description": "x"}, 403),
    ("DELETE", "/api/v1/agents/linux-07", None, 403),
])
def test_viewers_read_editors_write_anonymous_nothing(client, auth, method, path, body, viewer_status):
    editor = auth.headers(role="editor", scope="write")
    client.post(url("agents"), json={"name": "linux-07"}, headers=editor)
    client.post(url("toolchains"), json={"name": "java"}, headers=editor)

    assert client.open(path, method=method, json=body).status_code == 401
    assert client.open(path, method=method, json=body, headers=auth.headers("viewer", "read")).status_code == viewer_status
    # An editor's read-only token is held to its scope.
    read_token = {"Authorization": "Bearer " + auth.token(role="editor", scope="read")}
    assert client.open(path, method=method, json=body, headers=read_token).status_code == viewer_status
    assert client.open(path, method=method, json=body, headers=editor).status_code in (200, 201, 204)


def test_session_writes_need_the_csrf_token(client, auth):
    auth.login("ed", role="editor")
    refused = client.post(url("agents"), json={"name": "a"})
    assert refused.status_code == 400 and "CSRF" in refused.json["message"]
    token = auth.csrf_token("/agents")
    assert client.post(url("agents"), json={"name": "a"}, headers={"X-CSRFToken": token}).status_code == 201
    with connected(auth.app):
        entry = AuditEntry.get(AuditEntry.entity_type == "agent")
    assert entry.actor == "ed" and entry.user_id is not None


def test_ingest_and_the_catalogue_share_rows(client, editor, app):
    client.post(url("agents"), json={"name": "linux-07", "labels": ["linux"]}, headers=editor)
    record(client, editor, agents=["linux-07", "fresh-agent"])
    with connected(app):
        assert Agent.select().count() == 2
        assert Event.select().count() == 1
    assert client.get(url("agents", "linux-07"), headers=editor).json["labels"] == ["linux"]
    assert client.get(url("agents", "fresh-agent"), headers=editor).json["event_count"] == 1
