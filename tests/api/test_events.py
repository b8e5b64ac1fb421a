"""POST/GET /api/v1/events: what a pipeline author or script sees."""
import json

import pytest

from app.models import AuditEntry, Event
from tests.conftest import connected

GOOD = {
    "title": "JDK 17.0.8 → 17.0.9 on linux-07",
    "type": "tool_update",
    "severity": "medium",
    "source": "pipeline",
    "occurred_at": "2026-11-20T10:15:00+01:00",
    "agents": ["linux-07", "linux-08"],
    "tools": ["jdk-17"],
    "toolchains": ["java-build"],
    "tags": ["jdk", "upgrade"],
    "description": "Rolled by the platform team",
    "changes": [{"path": "tools/jdk-17/home", "before": "/opt/jdk-17.0.8", "after": "/opt/jdk-17.0.9"}],
    "links": [{"url": "https://wiki.example.test/jdk", "text": "runbook"}],
    "build_url": "http://jenkins:8080/job/infra/42/",
    "metadata": {"job": "infra", "build_number": "42"},
}


def count_rows(app):
    with connected(app):
        return Event.select().count(), AuditEntry.select().where(AuditEntry.entity_type == "event").count()


def test_record_event_round_trips_every_field(client, auth):
    headers = auth.headers()
    created = client.post("/api/v1/events", json=GOOD, headers=headers)
    assert created.status_code == 201, created.json
    event = client.get("/api/v1/events/%d" % created.json["id"], headers=headers).json
    assert event["title"] == GOOD["title"]
    assert event["occurred_at"] == "2026-11-20T09:15:00+00:00"  # stored and returned in UTC
    assert event["agents"] == ["linux-07", "linux-08"]
    assert event["tools"] == ["jdk-17"] and event["toolchains"] == ["java-build"]
    assert event["tags"] == ["jdk", "upgrade"]
    assert event["changes"] == GOOD["changes"] and event["links"] == GOOD["links"]
    assert event["metadata"] == GOOD["metadata"] and event["build_url"] == GOOD["build_url"]
    assert event["count"] == 1 and event["created_by"] == "editor (token test)"


def test_record_event_defaults_and_audit(client, auth, app):
    response = client.post("/api/v1/events", json={"title": "Agent rebooted"}, headers=auth.headers())
    assert response.status_code == 201
    body = response.json
    assert (body["type"], body["severity"], body["source"]) == ("note", "info", "manual")
    assert body["agents"] == [] and body["occurred_at"].endswith("+00:00")
    with connected(app):
        entry = AuditEntry.get((AuditEntry.entity_type == "event") & (AuditEntry.entity_id == str(body["id"])))
    assert entry.action == "create" and entry.actor == "editor (token test)"
    assert entry.after["title"] == "Agent rebooted"


def test_unknown_agents_are_created_once(client, auth):
    headers = auth.headers()
    for _ in range(2):
        assert client.post("/api/v1/events", json={"title": "x", "agents": ["new-agent"]}, headers=headers).status_code == 201
    listed = client.get("/api/v1/events?agent=new-agent", headers=headers).json["items"]
    assert len(listed) == 2


def test_dedupe_key_folds_repeats(client, auth):
    headers = auth.headers()
    first = client.post("/api/v1/events", json={"title": "Image re-tagged", "dedupe_key": "img:maven:3.9"}, headers=headers)
    again = client.post("/api/v1/events", json={"title": "Image re-tagged", "dedupe_key": "img:maven:3.9"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and again.json["count"] == 2
    assert again.json["last_seen"] >= first.json["last_seen"]


def test_the_configured_dedupe_window_decides_what_folds(app, client, auth):
    """CHANGETRACKER_DEDUPE_WINDOW_MINUTES=0: no repeat is recent enough to fold."""
    from app.ingest import inbox

    app.config["DEDUPE_WINDOW_MINUTES"] = 0
    headers = auth.headers()
    first = client.post("/api/v1/events", json={"title": "Image re-tagged", "dedupe_key": "img:maven:3.9"}, headers=headers)
    again = client.post("/api/v1/events", json={"title": "Image re-tagged", "dedupe_key": "img:maven:3.9"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json["id"] != first.json["id"] and again.json["count"] == 1

    # The worker's inbox settings carry the same window for events it records one by one.
    assert inbox.Settings.from_config(app.config).dedupe_window.total_seconds() == 0


BAD_INPUT = [
    ({"title": ""}, "title", "Length must be between 1 and 200."),
    ({"title": "x" * 201}, "title", "Length must be between 1 and 200."),
    ({}, "title", "Missing data for required field."),
    ({"title": 5}, "title", "Not a valid string."),
    ({"title": "x", "type": "upgrade"}, "type", "Must be one of:"),
    ({"title": "x", "severity": "urgent"}, "severity", "Must be one of:"),
    ({"title": "x", "source": "cron"}, "source", "Must be one of:"),
    ({"title": "x", "occurred_at": "2026-11-20T10:00:00"}, "occurred_at", "Must include a UTC offset"),
    ({"title": "x", "occurred_at": "yesterday"}, "occurred_at", "Not a valid ISO 8601 datetime."),
    ({"title": "x", "occurred_at": "2026-02-30T10:00:00Z"}, "occurred_at", "Not a valid ISO 8601 datetime."),
    ({"title": "x", "occurred_at": "2026-11-20T10:00:00Z", "ended_at": "2026-11-20T09:00:00Z"}, "ended_at", "Must not be before"),
    ({"title": "x", "metadata": ["not", "an", "object"]}, "metadata", "Not a valid mapping type."),
    ({"title": "x", "metadata": {"blob": "y" * 70000}}, "metadata", "Must be at most 64 KiB"),
    ({"title": "x", "agents": "linux-01"}, "agents", "Not a valid list."),
    ({"title": "x", "agents": [""]}, "agents", "Must be 1 to 200 characters."),
    # The name rules (docs/api.md) hold for names that events bring in, as for the catalogue's own API.
    ({"title": "x", "agents": ["a/../b"]}, "agents", "Must not be '.' or '..', nor have them between '/'."),
    ({"title": "x", "tools": ["a//b"]}, "tools", "Must not start or end with '/' or contain '//'"),
    ({"title": "x", "toolchains": ["line\nbreak"]}, "toolchains", "Must contain printable characters only"),
    ({"title": "x", "agents": ["tab\there"]}, "agents", "Must contain printable characters only"),
    ({"title": "x", "agents": ["esc\x1b[31m"]}, "agents", "Must contain printable characters only"),
    # Times that exist only in their own offset: UTC has no such instant.
    ({"title": "x", "occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at", "Out of range: in UTC"),
    ({"title": "x", "ended_at": "9999-12-31T23:30:00-01:00"}, "ended_at", "Out of range: in UTC"),
    ({"title": "\ud800"}, "title", "Must be valid Unicode: a lone surrogate"),
    ({"title": "x", "tags": ["ok", "\udfff"]}, "tags", "Item 2: Must be valid Unicode"),
    ({"title": "x", "metadata": {"note": "\ud800"}}, "metadata", "Must be valid Unicode"),
    ({"title": "x", "metadata": {"\ud800": 1}}, "metadata", "Must be valid Unicode"),
    ({"title": "x", "\ud800": 1}, "\ufffd", "Unknown field."),  # the refused key named, never echoed raw
    ({"title": "x", "changes": [{"path": "p", "after": ["\udc00"]}]}, "changes.0.after", "Must be valid Unicode"),
    ({"title": "x", "reverts": 2**63}, "reverts", "less than or equal to 9223372036854775807"),
    ({"title": "x", "changes": [{"before": 1}]}, "changes.0.path", "Missing data for required field."),
    ({"title": "x", "links": [{"url": "javascript:alert(1)"}]}, "links", "Not a valid URL."),
    ({"title": "x", "build_url": "not a url"}, "build_url", "Not a valid URL."),
    ({"title": "x", "reverts": 999}, "reverts", "No event with id 999."),
    ({"title": "x", "reverts": "1"}, "reverts", "Not a valid integer."),
    ({"title": "x", "colour": "red"}, "colour", "Unknown field."),
    ({"title": "a\x00b"}, "title", "Must not contain NUL"),
    ({"title": "x", "agents": ["linux\x0001"]}, "agents", "Must not contain NUL"),
]


@pytest.mark.parametrize("body, field, message", BAD_INPUT, ids=[f"{f}-{i}" for i, (_, f, _m) in enumerate(BAD_INPUT)])
def test_bad_input_is_422_naming_the_field_and_writes_nothing(client, auth, app, body, field, message):
    headers = auth.headers()
    before = count_rows(app)
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json["code"] == 422
    named = {k: v for k, v in response.json["errors"].items() if k == field or k.startswith(field + ".")}
    assert named, response.json["errors"]
    assert all(isinstance(m, str) for v in named.values() for m in v)
    assert message in json.dumps(named, ensure_ascii=False)
    assert count_rows(app) == before


@pytest.mark.parametrize("raw, message", [
    (b"{\"title\": ", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "must be a JSON object, not an array"),
    (b"\xff\xfe{}", "not UTF-8"),
    # JSON that strict parsers refuse, or that no client could read back alike, is refused before any field.
    (b'{"title": "x", "metadata": {"n": NaN}}', "NaN is not JSON: numbers must be finite."),
    (b'{"title": "x", "metadata": {"n": Infinity}}', "Infinity is not JSON"),
    (b'{"title": "x", "metadata": {"n": 1e999}}', "Numbers must be finite"),
    (b'{"title": "x", "metadata": {"n": ' + b"7" * 5000 + b"}}", "Integers must fit in 64 bits"),
    (b'{"title": "x", "metadata": {"n": 18446744073709551616}}', "Integers must fit in 64 bits"),
    (b'{"title": "x", "metadata": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", "Nested more than 64 levels deep."),
    (b"[" * 100000, "Nested more than 64 levels deep."),
])
def test_malformed_body_is_400(client, auth, app, raw, message):
    before = count_rows(app)
    response = client.post("/api/v1/events", data=raw, headers={**auth.headers(), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert message in response.json["message"]
    assert response.json["errors"] == {}
    assert count_rows(app) == before


def test_huge_body_is_413(client, auth, app):
    response = client.post("/api/v1/events", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                           headers={**auth.headers(), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json["code"] == 413


@pytest.mark.parametrize("header, message", [
    (None, "Authentication required"),
    ("Bearer nonsense", "Invalid token."),
    ("Bearer ct_000000000000_" + "a" * 43, "Invalid token."),
])
def test_missing_or_invalid_token_is_401(client, header, message, app):
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/v1/events", json={"title": "x"}, headers=headers)
    assert response.status_code == 401
    assert message in response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count_rows(app) == (0, 0)


def test_revoked_and_expired_tokens_are_401(client, auth, app):
    from datetime import timedelta

    from app.db import utcnow
    from app.models import ApiToken

    secret = auth.token()
    with connected(app):
        ApiToken.update(revoked_at=utcnow()).execute()
    response = client.get("/api/v1/events", headers={"Authorization": "Bearer " + secret})
    assert (response.status_code, response.json["message"]) == (401, "Token has been revoked.")

    secret = auth.token(username="other")
    with connected(app):
        ApiToken.update(expires_at=utcnow() - timedelta(seconds=1)).where(ApiToken.revoked_at.is_null()).execute()
    response = client.get("/api/v1/events", headers={"Authorization": "Bearer " + secret})
    assert (response.status_code, response.json["message"]) == (401, "Token has expired.")


def test_read_token_cannot_write(client, auth, app):
    headers = {"Authorization": "Bearer " + auth.token(role="editor", scope="read")}
    assert client.get("/api/v1/events", headers=headers).status_code == 200
    response = client.post("/api/v1/events", json={"title": "x"}, headers=headers)
    assert response.status_code == 403
    assert "record" in response.json["message"], "recording needs the record scope (or more)"
    assert count_rows(app) == (0, 0)


def test_viewer_token_is_capped_by_role(auth):
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as raised:
        auth.token(role="viewer", scope="write")
    assert "scopes" in raised.value.messages


def test_unknown_event_is_404(client, auth):
    response = client.get("/api/v1/events/12345", headers=auth.headers())
    assert response.status_code == 404
    assert response.json == {"code": 404, "message": "No event with id 12345.", "errors": {}}


def test_list_filters_and_order(client, auth):
    headers = auth.headers()

    def post(title, when, **extra):
        assert client.post("/api/v1/events", json={"title": title, "occurred_at": when, **extra}, headers=headers).status_code == 201

    post("old", "2026-11-01T00:00:00Z", agents=["a1"], severity="high")
    post("mid", "2026-11-10T00:00:00Z", agents=["a2"], type="outage")
    post("new", "2026-11-20T00:00:00Z", agents=["a1", "a2"], severity="low")

    def titles(query):
        response = client.get("/api/v1/events" + query, headers=headers)
        assert response.status_code == 200, response.json
        return [e["title"] for e in response.json["items"]]

    assert titles("") == ["new", "mid", "old"]
    assert titles("?agent=a1") == ["new", "old"]
    assert titles("?agent=a1&agent=a2") == ["new", "mid", "old"]
    assert titles("?severity=high&severity=low") == ["new", "old"]
    assert titles("?type=outage") == ["mid"]
    assert titles("?from=2026-11-05T00:00:00Z&to=2026-11-15T00:00:00Z") == ["mid"]
    assert titles("?agent=a2&severity=low") == ["new"]
    assert titles("?limit=1") == ["new"]


@pytest.mark.parametrize("query, field", [
    ("?limit=0", "limit"),
    ("?limit=501", "limit"),
    ("?limit=ten", "limit"),
    ("?from=2026-11-20T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
    ("?from=last-week", "from"),
    ("?severity=urgent", "severity"),
    ("?type=upgrade", "type"),
])
def test_bad_list_filters_are_422(client, auth, query, field):
    response = client.get("/api/v1/events" + query, headers=auth.headers())
    assert response.status_code == 422
    assert field in response.json["errors"]


@pytest.mark.parametrize("path", ["/api/v1/events?agent=a%00b", "/api/v1/users/a%00b", "/api/v1/events/99999999999999999999999"])
def test_hostile_urls_get_a_clear_4xx(client, auth, path):
    response = client.get(path, headers=auth.headers(role="admin", scope="admin"))
    assert response.status_code in (400, 404)
    assert response.json["message"]


@pytest.mark.parametrize("query", ["agent=a%00b", "agent=a&agent=b%00c", "label=x&label=%F1%9E%85%94%00"])
def test_a_nul_in_any_query_value_is_refused(client, auth, query):
    """Repeated parameters included: not only the first value of each name."""
    response = client.get("/api/v1/events?" + query, headers=auth.headers(role="viewer", scope="read"))
    assert response.status_code == 400 and "NUL" in response.json["message"]
