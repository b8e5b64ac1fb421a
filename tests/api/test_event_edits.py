"""PATCH/DELETE of events and their history."""
import pytest

from app.models import EventAgent
from tests.conftest import connected


@pytest.fixture
def event(client, auth):
    body = {"title": "JDK upgrade", "agents": ["linux-01"], "severity": "low", "occurred_at": "2026-11-20T10:00:00Z"}
    return client.post("/api/v1/events", json=body, headers=auth.headers()).json


def test_patch_changes_fields_and_history_has_before_after(client, auth, event):
    headers = auth.headers()
    response = client.patch("/api/v1/events/%d" % event["id"], json={"severity": "high", "agents": ["linux-02"]}, headers=headers)
    assert response.status_code == 200
    assert response.json["severity"] == "high" and response.json["agents"] == ["linux-02"]
    assert response.json["title"] == "JDK upgrade"

    history = client.get("/api/v1/events/%d/history" % event["id"], headers=headers).json["items"]
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[1]["before"] == {"severity": "low", "agents": ["linux-01"]}
    assert history[1]["after"] == {"severity": "high", "agents": ["linux-02"]}
    assert history[1]["actor"] == "editor (token test)"


@pytest.mark.parametrize("patch, field, message", [
    ({"count": 5}, "count", "Read-only field."),
    ({"created_by": "mallory"}, "created_by", "Read-only field."),
    ({"severity": "urgent"}, "severity", "Must be one of"),
    ({"title": ""}, "title", "Length"),
    ({"ended_at": "2026-11-19T00:00:00Z"}, "ended_at", "Must not be before"),
])
def test_bad_patch_is_422_and_changes_nothing(client, auth, event, patch, field, message):
    headers = auth.headers()
    response = client.patch("/api/v1/events/%d" % event["id"], json=patch, headers=headers)
    assert response.status_code == 422 and message in " ".join(response.json["errors"][field])
    after = client.get("/api/v1/events/%d" % event["id"], headers=headers).json
    assert after == event


def test_delete_removes_links_and_keeps_the_history(client, auth, event, app):
    headers = auth.headers()
    assert client.delete("/api/v1/events/%d" % event["id"], headers=headers).status_code == 204
    assert client.get("/api/v1/events/%d" % event["id"], headers=headers).status_code == 404
    history = client.get("/api/v1/events/%d/history" % event["id"], headers=headers).json["items"]
    assert [h["action"] for h in history] == ["create", "delete"]
    assert history[1]["before"]["title"] == "JDK upgrade"
    with connected(app):
        assert EventAgent.select().count() == 0


def test_viewer_cannot_edit_or_delete(client, auth, event):
    viewer = {"Authorization": "Bearer " + auth.token(role="viewer", scope="read")}
    assert client.patch("/api/v1/events/%d" % event["id"], json={"title": "x"}, headers=viewer).status_code == 403
    assert client.delete("/api/v1/events/%d" % event["id"], headers=viewer).status_code == 403


def test_history_of_unknown_event_is_404(client, auth):
    assert client.get("/api/v1/events/4242/history", headers=auth.headers()).status_code == 404
