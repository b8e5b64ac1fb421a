"""GET /api/v1/events: every filter, text search, sorts and keyset pagination."""
import base64
import json

import pytest

from app.models import Agent
from tests.conftest import connected


@pytest.fixture
def ledger(client, auth, app):
    headers = auth.headers()

    def post(title, when, **extra):
        response = client.post("/api/v1/events", json={"title": title, "occurred_at": when, **extra}, headers=headers)
        assert response.status_code == 201, response.json
        return response.json["id"]

    post("JDK 17.0.9 rolled out", "2026-11-01T00:00:00Z", agents=["linux-01"], tools=["jdk-17"], severity="low",
         tags=["jdk"], source="poller", type="tool_update", metadata={"ticket": "OPS-4411"})
    post("Docker daemon restarted", "2026-11-05T00:00:00Z", agents=["linux-02"], tools=["docker"], severity="high",
         toolchains=["containers"], type="maintenance", description="after the storage driver change")
    post("Artifact proxy outage", "2026-11-10T00:00:00Z", severity="critical", type="outage", tags=["network"])
    post("Maven 3.9.6 on windows", "2026-11-15T00:00:00Z", agents=["win-01"], tools=["maven-3"], severity="info",
         toolchains=["java-build"], source="pipeline", type="tool_update")
    with connected(app):
        Agent.update(labels=["linux", "docker"]).where(Agent.name.in_(["linux-01", "linux-02"])).execute()
        Agent.update(labels=["windows"]).where(Agent.name == "win-01").execute()
    return headers


def titles(client, headers, query):
    response = client.get("/api/v1/events" + query, headers=headers)
    assert response.status_code == 200, response.json
    return [e["title"] for e in response.json["items"]]


@pytest.mark.parametrize("query, expected", [
    ("?label=docker", ["Docker daemon restarted", "JDK 17.0.9 rolled out"]),
    ("?label=windows&label=docker", ["Maven 3.9.6 on windows", "Docker daemon restarted", "JDK 17.0.9 rolled out"]),
    ("?label=nosuchlabel", []),
    ("?tool=jdk-17&tool=maven-3", ["Maven 3.9.6 on windows", "JDK 17.0.9 rolled out"]),
    ("?toolchain=containers", ["Docker daemon restarted"]),
    ("?tag=network", ["Artifact proxy outage"]),
    ("?source=poller", ["JDK 17.0.9 rolled out"]),
    ("?type=tool_update&severity=info", ["Maven 3.9.6 on windows"]),
    ("?label=docker&severity=high", ["Docker daemon restarted"]),
    ("?agent=nobody", []),
    ("?q=docker", ["Docker daemon restarted"]),
    ("?q=storage+driver", ["Docker daemon restarted"]),
    ("?q=OPS-4411", ["JDK 17.0.9 rolled out"]),
    ("?q=linux-02", []),
    ("?q=17.0.9", ["JDK 17.0.9 rolled out"]),
    ("?q=prox", ["Artifact proxy outage"]),
    ("?q=%22%27%29%3B--", []),
    ("?sort=occurred_at", ["JDK 17.0.9 rolled out", "Docker daemon restarted", "Artifact proxy outage", "Maven 3.9.6 on windows"]),
    ("?sort=-severity", ["Artifact proxy outage", "Docker daemon restarted", "JDK 17.0.9 rolled out", "Maven 3.9.6 on windows"]),
    ("?sort=title", ["Artifact proxy outage", "Docker daemon restarted", "JDK 17.0.9 rolled out", "Maven 3.9.6 on windows"]),
])
def test_filters(client, ledger, query, expected):
    assert titles(client, ledger, query) == expected


@pytest.mark.parametrize("sort", ["-occurred_at", "occurred_at", "severity", "-severity", "title"])
def test_cursor_walks_every_event_exactly_once(client, ledger, sort):
    seen, cursor = [], None
    for _ in range(10):
        query = "?limit=1&sort=%s" % sort + ("&cursor=%s" % cursor if cursor else "")
        body = client.get("/api/v1/events" + query, headers=ledger).json
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 4


@pytest.mark.parametrize("query", ["", "&to=2026-11-03T00:00:00Z", "&agent=linux-01", "&from=2026-11-02T00:00:00Z"])
def test_pages_through_events_of_one_instant_with_a_window_lose_and_repeat_nothing(client, ledger, query):
    """The cursor tightens `to` to just above itself (filters.ordered): events sharing the cursor's
    microsecond, on either side of a page break, must all still come, once."""
    for n in range(5):
        client.post("/api/v1/events", json={"title": "same instant %d" % n, "occurred_at": "2026-11-02T12:00:00.000001Z",
                                            "agents": ["linux-01"]}, headers=ledger)
    expected = [e["id"] for e in client.get("/api/v1/events?limit=500" + query, headers=ledger).json["items"]]
    seen, cursor = [], None
    for _ in range(20):
        body = client.get("/api/v1/events?limit=2" + query + ("&cursor=%s" % cursor if cursor else ""),
                          headers=ledger).json
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == expected and len(expected) >= 5


def test_cursor_stays_correct_when_events_arrive_between_pages(client, ledger):
    first = client.get("/api/v1/events?limit=2", headers=ledger).json
    client.post("/api/v1/events", json={"title": "Arrived meanwhile", "occurred_at": "2026-11-20T00:00:00Z"}, headers=ledger)
    second = client.get("/api/v1/events?limit=2&cursor=" + first["next_cursor"], headers=ledger).json
    assert [e["title"] for e in first["items"] + second["items"]] == [
        "Maven 3.9.6 on windows", "Artifact proxy outage", "Docker daemon restarted", "JDK 17.0.9 rolled out"]
    assert second["next_cursor"] is None


def forged(*parts):
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize("query, field, message", [
    ("?cursor=garbage", "cursor", "Not a cursor"),
    # Cursors are opaque but only base64 JSON: edited ones are refused before they reach a query.
    ("?cursor=" + forged("-occurred_at", "2026-11-01T00:00:00+00:00", 10**30), "cursor", "Not a cursor"),
    ("?cursor=" + forged("-occurred_at", "2026-11-01T00:00:00+00:00", True), "cursor", "Not a cursor"),
    ("?cursor=" + forged("-occurred_at", "0001-01-01T00:30:00+01:00", 1), "cursor", "Not a cursor"),
    ("?cursor=" + forged("-occurred_at", "2026-11-01T00:00:00", 1), "cursor", "Not a cursor"),
    ("?cursor=" + forged("-occurred_at", ["2026"], 1), "cursor", "Not a cursor"),
    ("?sort=title&cursor=" + forged("title", ["x"], 1), "cursor", "Not a cursor"),
    ("?sort=title&cursor=" + forged("title", {"$gt": ""}, 1), "cursor", "Not a cursor"),
    ("?sort=severity&cursor=" + forged("severity", 10**30, 1), "cursor", "Not a cursor"),
    ("?sort=severity&cursor=" + forged("severity", "high", 1), "cursor", "Not a cursor"),
    ("?cursor=" + forged("-occurred_at", "2026-11-01T00:00:00+00:00"), "cursor", "Not a cursor"),
    ("?cursor=" + base64.urlsafe_b64encode(b"[" * 5000).decode(), "cursor", "Not a cursor"),
    ("?cursor=" + base64.urlsafe_b64encode(b'["-occurred_at", NaN, 1]').decode(), "cursor", "Not a cursor"),
    ("?sort=colour", "sort", "Must be one of"),
    ("?limit=%EF%BC%95", "limit", "Not a valid integer."),  # fullwidth 5: a digit to int(), not to us
    ("?limit=%E0%A5%AB", "limit", "Not a valid integer."),  # devanagari 5
    ("?limit=1_0", "limit", "Not a valid integer."),
    ("?label=", None, None),
])
def test_bad_query_arguments(client, ledger, query, field, message):
    response = client.get("/api/v1/events" + query, headers=ledger)
    if field is None:
        assert response.status_code == 200  # an empty repeatable value is ignored, not an error
        return
    assert response.status_code == 422
    assert message in " ".join(response.json["errors"][field])


def test_cursor_from_another_sort_is_refused(client, ledger):
    cursor = client.get("/api/v1/events?limit=1&sort=title", headers=ledger).json["next_cursor"]
    response = client.get("/api/v1/events?limit=1&sort=-occurred_at&cursor=" + cursor, headers=ledger)
    assert response.status_code == 422 and "sort=title" in response.json["errors"]["cursor"][0]


def test_search_follows_edits_and_deletes(client, ledger):
    event_id = client.get("/api/v1/events?q=docker", headers=ledger).json["items"][0]["id"]
    client.patch("/api/v1/events/%d" % event_id, json={"title": "Podman daemon restarted", "description": ""}, headers=ledger)
    assert titles(client, ledger, "?q=docker") == []
    assert titles(client, ledger, "?q=podman") == ["Podman daemon restarted"]
    client.delete("/api/v1/events/%d" % event_id, headers=ledger)
    assert titles(client, ledger, "?q=podman") == []
