"""GET /api/v1/annotations: ledger events as Grafana draws them (Infinity / JSON API data sources)."""
from datetime import datetime, timedelta, timezone

import pytest

from app.accounts.audit import Actor
from app.ledger.events import record_event
from tests.conftest import connected

LEDGER = [
    {"title": "Artifact proxy outage", "type": "outage", "severity": "critical", "occurred_at": "2026-11-20T08:00:00Z",
     "ended_at": "2026-11-20T09:30:00Z", "tags": ["proxy"]},
    {"title": "JDK 17.0.9 on linux-07", "type": "tool_update", "severity": "medium", "occurred_at": "2026-11-20T11:00:00Z",
     "agents": ["linux-08", "linux-07"], "tools": ["jdk-17"], "tags": ["jdk", "upgrade"]},
    {"title": "Docker 27.3 on linux-09", "type": "tool_update", "occurred_at": "2026-11-20T10:00:00Z",
     "agents": ["linux-09"], "tags": ["docker"]},
    {"title": "Next day", "occurred_at": "2026-11-21T00:00:00Z", "agents": ["linux-07"], "tags": ["jdk"]},
]


def ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


DAY = "from=%d&to=%d" % (ms("2026-11-20T00:00:00Z"), ms("2026-11-21T00:00:00Z"))


@pytest.fixture
def ledger(app):
    with connected(app):
        return {p["title"]: record_event(p, Actor("t"))[0]["id"] for p in LEDGER}


def annotations(client, auth, query):
    response = client.get("/api/v1/annotations?" + query, headers=auth.headers("viewer", "read"))
    assert response.status_code == 200, response.json
    return response.json


def test_grafana_shape(client, auth, ledger):
    body = annotations(client, auth, DAY)
    jdk, outage = ledger["JDK 17.0.9 on linux-07"], ledger["Artifact proxy outage"]
    assert body[0] == {
        "time": ms("2026-11-20T11:00:00Z"),
        "timeEnd": ms("2026-11-20T11:00:00Z"),
        "title": "JDK 17.0.9 on linux-07",
        "text": 'tool_update · medium · agents: linux-07, linux-08<br>'
                '<a href="http://localhost/events/%d">#%d in Change Tracker</a>' % (jdk, jdk),
        "tags": ["jdk", "upgrade", "tool_update"],
        "id": jdk,
    }
    assert body[-1] == {
        "time": ms("2026-11-20T08:00:00Z"),
        "timeEnd": ms("2026-11-20T09:30:00Z"),  # an interval: Grafana draws a region
        "title": "Artifact proxy outage",
        "text": 'outage · critical · fleet-wide<br>'
                '<a href="http://localhost/events/%d">#%d in Change Tracker</a>' % (outage, outage),
        "tags": ["proxy", "outage"],
        "id": outage,
    }


@pytest.mark.parametrize("query, expected", [
    ("", ["JDK 17.0.9 on linux-07", "Docker 27.3 on linux-09", "Artifact proxy outage"]),
    ("&tags=jdk", ["JDK 17.0.9 on linux-07"]),
    ("&tags=linux-09", ["Docker 27.3 on linux-09"]),  # an agent's name works as a tag
    ("&tags=jdk,proxy", ["JDK 17.0.9 on linux-07", "Artifact proxy outage"]),
    ("&tags=jdk&tags=docker", ["JDK 17.0.9 on linux-07", "Docker 27.3 on linux-09"]),
    ("&tags=+jdk+,,", ["JDK 17.0.9 on linux-07"]),
    ("&tags=nope", []),
    ("&tags=", ["JDK 17.0.9 on linux-07", "Docker 27.3 on linux-09", "Artifact proxy outage"]),
    # the /events filters apply as well
    ("&severity=critical", ["Artifact proxy outage"]),
    ("&type=tool_update&tags=linux-07", ["JDK 17.0.9 on linux-07"]),
    ("&agent=linux-09", ["Docker 27.3 on linux-09"]),
    ("&limit=1", ["JDK 17.0.9 on linux-07"]),
])
def test_tags_and_filters(client, auth, ledger, query, expected):
    assert [a["title"] for a in annotations(client, auth, DAY + query)] == expected


def test_range_is_from_inclusive_to_exclusive(client, auth, ledger):
    body = annotations(client, auth, "from=%d&to=%d" % (ms("2026-11-20T11:00:00Z"), ms("2026-11-21T00:00:00.001Z")))
    assert [a["title"] for a in body] == ["Next day", "JDK 17.0.9 on linux-07"]


def test_many_agents_are_summarised_and_names_escaped(app, client, auth):
    agents = ["a%02d" % i for i in range(1, 13)] + ["<b>x</b>"]
    with connected(app):
        record_event({"title": "Rollout <everywhere>", "occurred_at": "2026-11-20T12:00:00Z", "agents": agents},
                     Actor("t"))
    (annotation,) = annotations(client, auth, DAY)
    assert annotation["title"] == "Rollout <everywhere>"
    assert annotation["text"].startswith(
        "note · info · agents: &lt;b&gt;x&lt;/b&gt;, a01, a02, a03, a04, a05, a06, a07, a08, a09 and 3 more<br>")


@pytest.mark.parametrize("query, field, message", [
    ("from=yesterday&to=1767225600000", "from", "Must be epoch milliseconds, e.g. 1767225600000."),
    ("from=2026-11-20T00:00:00Z", "from", "Must be epoch milliseconds, e.g. 1767225600000."),
    ("from=1.5e12", "from", "Must be epoch milliseconds, e.g. 1767225600000."),
    ("to=-1", "to", "Must be epoch milliseconds between 0 and 253370764800000 (9999-01-01)."),
    ("to=99999999999999999999", "to", "Must be epoch milliseconds between 0 and 253370764800000 (9999-01-01)."),
    ("from=1767225600001&to=1767225600000", "from", "Must not be after 'to'."),
    ("limit=2001", "limit", "Must be greater than or equal to 1 and less than or equal to 2000."),
    ("severity=urgent", "severity", "Item 1: Must be one of: info, low, medium, high, critical."),
])
def test_bad_queries_are_422(client, auth, query, field, message):
    response = client.get("/api/v1/annotations?" + query, headers=auth.headers("viewer", "read"))
    assert response.status_code == 422
    assert response.json["errors"] == {field: [message]}


def test_without_a_range_the_last_24_hours(app, client, auth):
    now = datetime.now(timezone.utc)
    with connected(app):
        record_event({"title": "just now", "occurred_at": now.isoformat()}, Actor("t"))
        record_event({"title": "two days ago", "occurred_at": (now - timedelta(days=2)).isoformat()}, Actor("t"))
    assert [a["title"] for a in annotations(client, auth, "")] == ["just now"]


def test_anonymous_is_401(client, ledger):
    response = client.get("/api/v1/annotations?" + DAY)
    assert response.status_code == 401 and "Authentication required" in response.json["message"]
