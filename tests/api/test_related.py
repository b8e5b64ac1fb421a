"""GET /api/v1/events/<id>/related: what else happened to the same agents, tools and toolchains around an event."""
import pytest

from app.accounts.audit import Actor
from app.ledger.events import record_event
from tests.conftest import connected

CENTER = {"title": "JDK 17.0.9 on linux-07", "type": "tool_update", "occurred_at": "2026-11-20T10:00:00Z",
          "agents": ["linux-07"], "tools": ["jdk-17"], "toolchains": ["java-build"]}
OTHERS = [
    {"title": "linux-07 rebooted", "occurred_at": "2026-11-20T10:00:00Z", "agents": ["linux-07"]},
    {"title": "Docker 27.3 on linux-07", "occurred_at": "2026-11-20T09:30:00Z", "agents": ["linux-07"], "tools": ["docker"]},
    {"title": "Maven image rebuilt", "occurred_at": "2026-11-20T11:00:00+01:00", "toolchains": ["java-build"],
     "tools": ["maven"]},
    {"title": "JDK 17.0.9 on linux-08", "occurred_at": "2026-11-20T08:00:00Z", "agents": ["linux-08"], "tools": ["jdk-17"]},
    {"title": "linux-07 JDK home moved", "occurred_at": "2026-11-21T09:00:00Z", "agents": ["linux-07", "linux-08"],
     "tools": ["jdk-17"]},
    {"title": "Old change on linux-07", "occurred_at": "2026-11-18T10:00:00Z", "agents": ["linux-07"]},
    {"title": "Python 3.12 on linux-09", "occurred_at": "2026-11-20T10:05:00Z", "agents": ["linux-09"], "tools": ["python"]},
    {"title": "Artifact proxy outage", "occurred_at": "2026-11-20T10:10:00Z", "type": "outage"},
]
ROLLBACK = {"title": "Roll back JDK 17.0.9", "type": "rollback", "occurred_at": "2026-11-25T10:00:00Z"}


@pytest.fixture
def ledger(app):
    """{title: id} of the events around CENTER, plus a rollback of it five days later."""
    with connected(app):
        ids = {CENTER["title"]: record_event(CENTER, Actor("t"))[0]["id"]}
        for payload in OTHERS:
            ids[payload["title"]] = record_event(payload, Actor("t"))[0]["id"]
        ids[ROLLBACK["title"]] = record_event(dict(ROLLBACK, reverts=ids[CENTER["title"]]), Actor("t"))[0]["id"]
    return ids


def related(client, auth, event_id, query=""):
    response = client.get("/api/v1/events/%d/related%s" % (event_id, query), headers=auth.headers("viewer", "read"))
    assert response.status_code == 200, response.json
    return response.json


AT_ONCE = ("linux-07 rebooted", ["same agent linux-07"], "at the same time")
MAVEN = ("Maven image rebuilt", ["same toolchain java-build"], "at the same time")  # 11:00+01:00 is 10:00Z
DOCKER = ("Docker 27.3 on linux-07", ["same agent linux-07"], "30m earlier")
JDK_08 = ("JDK 17.0.9 on linux-08", ["same tool jdk-17"], "2h earlier")
HOME = ("linux-07 JDK home moved", ["same agent linux-07", "same tool jdk-17"], "23h later")
OLD = ("Old change on linux-07", ["same agent linux-07"], "2d earlier")
ROLLED = ("Roll back JDK 17.0.9", ["reverts this event"], "5d later")


@pytest.mark.parametrize("query, expected", [
    ("", [AT_ONCE, MAVEN, DOCKER, JDK_08, HOME,
          ROLLED]),
    ("?window=24h", [AT_ONCE, MAVEN, DOCKER,
                     JDK_08, HOME, ROLLED]),
    ("?window=30m", [AT_ONCE, MAVEN, DOCKER,
                     ROLLED]),
    ("?window=3d", [AT_ONCE, MAVEN, DOCKER,
                    JDK_08, HOME, OLD, ROLLED]),
    # The limit caps the neighbours; a rollback partner is always there.
    ("?window=24h&limit=1", [AT_ONCE, ROLLED]),
])
def test_related_events_closest_first_with_reasons(client, auth, ledger, query, expected):
    body = related(client, auth, ledger[CENTER["title"]], query)
    got = [(item["event"]["title"], item["reasons"], item["offset"]) for item in body["items"]]
    assert got == [(title, reasons, offset) for title, reasons, offset in expected]
    assert CENTER["title"] not in [title for title, _, _ in got]


def test_offsets_and_echoed_window(client, auth, ledger):
    body = related(client, auth, ledger[CENTER["title"]], "?window=1440m")
    assert body["window"] == "24h"
    assert (body["from"], body["to"]) == ("2026-11-19T10:00:00+00:00", "2026-11-21T10:00:00+00:00")
    offsets = {item["event"]["title"]: item["offset_seconds"] for item in body["items"]}
    assert offsets["Docker 27.3 on linux-07"] == -1800 and offsets["linux-07 JDK home moved"] == 23 * 3600
    assert offsets["Roll back JDK 17.0.9"] == 5 * 86400


def test_a_rollback_lists_what_it_reverted(client, auth, ledger):
    body = related(client, auth, ledger["Roll back JDK 17.0.9"])
    assert [(item["event"]["title"], item["reasons"], item["offset"]) for item in body["items"]] == [
        ("JDK 17.0.9 on linux-07", ["reverted by this event"], "5d earlier")]


@pytest.mark.parametrize("window, message", [
    ("2y", "Not a window: use a number and a unit, e.g. 30m, 24h or 7d."),
    ("24", "Not a window: use a number and a unit, e.g. 30m, 24h or 7d."),
    ("-1h", "Not a window: use a number and a unit, e.g. 30m, 24h or 7d."),
    ("1.5h", "Not a window: use a number and a unit, e.g. 30m, 24h or 7d."),
    ("\u0662\u0664h", "Not a window: use a number and a unit, e.g. 30m, 24h or 7d."),  # ٢٤h: ASCII digits only
    ("\uff12\uff14h", "Not a window: use a number and a unit, e.g. 30m, 24h or 7d."),  # fullwidth 24h
    ("0m", "Must be longer than zero, e.g. 30m, 24h or 7d."),
    ("91d", "Must be at most 90d."),
    ("13w", "Must be at most 90d."),
])
def test_bad_window_is_422_naming_window(client, auth, ledger, window, message):
    response = client.get("/api/v1/events/%d/related?window=%s" % (ledger[CENTER["title"]], window),
                          headers=auth.headers("viewer", "read"))
    assert response.status_code == 422
    assert response.json["errors"] == {"window": [message]}


@pytest.mark.parametrize("window, echoed", [("30m", "30m"), ("24H", "24h"), ("7d", "7d"), ("90d", "90d"), ("2w", "14d"), ("90m", "90m"),
                                            ("60m", "1h"), ("2880m", "2d")])
def test_window_forms(client, auth, ledger, window, echoed):
    assert related(client, auth, ledger[CENTER["title"]], "?window=" + window)["window"] == echoed


def test_unknown_event_is_404(client, auth, ledger):
    response = client.get("/api/v1/events/999999/related", headers=auth.headers("viewer", "read"))
    assert response.status_code == 404 and response.json["message"] == "No event with id 999999."


def test_route_does_not_clash_with_other_event_routes(app, client, auth, ledger):
    urls = app.url_map.bind("localhost")
    assert urls.match("/api/v1/events/7/related") == ("api.correlation.related_events", {"event_id": 7})
    assert urls.match("/api/v1/events/7") == ("api.events.get_event", {"event_id": 7})
    assert urls.match("/api/v1/events/7/history") == ("api.events.event_history", {"event_id": 7})
    headers = auth.headers("viewer", "read")
    assert client.get("/api/v1/events/related", headers=headers).status_code == 404
    assert client.post("/api/v1/events/%d/related" % ledger[CENTER["title"]], headers=auth.headers()).status_code == 405


def test_anonymous_is_401(client, ledger):
    response = client.get("/api/v1/events/%d/related" % ledger[CENTER["title"]])
    assert response.status_code == 401 and "Authentication required" in response.json["message"]
