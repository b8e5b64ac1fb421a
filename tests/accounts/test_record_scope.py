"""The record scope: what a pipeline or a poller holds. It appends to the ledger and reads it; it never edits or
deletes history (issue 17: a pipeline's write token answered 204 to DELETE /api/v1/events/1)."""
import pytest

from app.models import Agent, Event
from tests.conftest import connected


def bearer(secret):
    return {"Authorization": "Bearer " + secret}


@pytest.fixture
def record(auth):
    return bearer(auth.token(role="editor", scope="record", username="ci-bot"))


def test_a_record_token_records_events_snapshots_and_poll_runs_and_reads(client, record):
    created = client.post("/api/v1/events", headers=record, json={
        "title": "JDK 21.0.5 on linux-03", "type": "tool_update", "agents": ["linux-03"], "tools": ["jdk-21"],
        "build_url": "https://jenkins.example.com/job/app/7/", "dedupe_key": "jdk-21-linux-03"})
    assert created.status_code == 201, created.json
    again = client.post("/api/v1/events", headers=record, json={
        "title": "JDK 21.0.5 on linux-03", "agents": ["linux-03"], "dedupe_key": "jdk-21-linux-03"})
    assert (again.status_code, again.json["count"]) == (200, 2), "a retried step folds into its event"

    snapshot = client.post("/api/v1/snapshots", headers=record, json={
        "collector": "package", "key": "pypi/requests", "observed_at": "2026-11-20T03:00:00Z",
        "content": {"version": "2.32.3"}})
    assert snapshot.status_code in (200, 201), snapshot.json
    run = client.post("/api/v1/poll-runs", headers=record, json={
        "poller": "packages", "status": "ok", "started_at": "2026-11-20T03:00:00Z",
        "finished_at": "2026-11-20T03:00:05Z", "observed": 1})
    assert run.status_code == 201, run.json

    for path in ("/api/v1/events?agent=linux-03", "/api/v1/suspects?agent=linux-03",
                 "/api/v1/events/%d" % created.json["id"], "/api/v1/fleet", "/api/v1/agents/linux-03"):
        assert client.get(path, headers=record).status_code == 200, path


@pytest.mark.parametrize("method, path, body", [
    ("DELETE", "/api/v1/events/{id}", None),
    ("PATCH", "/api/v1/events/{id}", {"title": "rewritten"}),
    ("DELETE", "/api/v1/agents/linux-03?force=true", None),
    ("PATCH", "/api/v1/agents/linux-03", {"name": "linux-03.old"}),
    ("POST", "/api/v1/agents", {"name": "linux-99"}),
    ("POST", "/api/v1/events/{id}/comments", {"body": "not from a pipeline"}),
    ("POST", "/api/v1/events/import", None),
])
def test_a_record_token_cannot_change_or_delete_history(client, auth, app, record, method, path, body):
    editor = bearer(auth.token(role="editor", scope="write", username="alice"))
    event = client.post("/api/v1/events", headers=editor, json={"title": "JDK 17.0.9 on linux-03",
                                                                "agents": ["linux-03"]}).json

    answer = client.open(path.format(id=event["id"]), method=method, headers=record, json=body)

    assert answer.status_code == 403, answer.json
    assert "needs write access" in answer.json["message"]
    with connected(app):
        assert Event.get_by_id(event["id"]).title == "JDK 17.0.9 on linux-03"
        assert Agent.get(Agent.name == "linux-03") is not None


def test_only_an_editor_or_admin_may_hold_a_record_token(client, auth):
    viewer = bearer(auth.token(role="viewer", scope="read", username="vera"))
    refused = client.post("/api/v1/tokens", json={"scopes": ["record"]}, headers=viewer)
    assert refused.status_code == 422
    assert refused.json["errors"]["scopes"] == ["A viewer may not hold the record scope."]

    record_token = bearer(auth.token(role="editor", scope="record", username="ci-bot"))
    wider = client.post("/api/v1/tokens", json={"scopes": ["write"]}, headers=record_token)
    assert wider.status_code == 422, "a record token cannot mint a write token"
    narrower = client.post("/api/v1/tokens", json={"scopes": ["record"], "name": "rotated"}, headers=record_token)
    assert narrower.status_code == 201 and narrower.json["scopes"] == ["record"]


def test_a_record_token_ends_the_events_it_recorded_and_no_others(client, auth, record):
    """recordChange's block form records the start, then PATCHes the end and outcome with the same token."""
    started = client.post("/api/v1/events", headers=record, json={
        "title": "Upgrade Docker to 27.3", "type": "tool_update", "agents": ["linux-03"]}).json
    ended = client.patch("/api/v1/events/%d" % started["id"], headers=record, json={
        "ended_at": "2030-01-01T00:00:00Z", "severity": "high", "metadata": {"outcome": "failed"}})
    assert ended.status_code == 200, ended.json
    assert (ended.json["severity"], ended.json["metadata"]) == ("high", {"outcome": "failed"})

    retitled = client.patch("/api/v1/events/%d" % started["id"], headers=record, json={"title": "nothing happened"})
    assert retitled.status_code == 403
    assert retitled.json["message"] == ("A record token may change only ended_at, severity, metadata of an event it "
                                        "recorded; title needs write access.")

    other_token = bearer(auth.token(role="editor", scope="record", username="ci-bot", name="nightly"))  # same user
    theirs = client.post("/api/v1/events", headers=other_token, json={"title": "Plugin git 5.2.2"}).json
    refused = client.patch("/api/v1/events/%d" % theirs["id"], headers=record,
                           json={"ended_at": "2030-01-01T00:00:00Z"})
    assert refused.status_code == 403
    assert refused.json["message"] == ("A record token may change only the events it recorded itself; this needs "
                                       "write access.")
    assert client.patch("/api/v1/events/999999", headers=record, json={"severity": "low"}).status_code == 404
