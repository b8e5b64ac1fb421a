"""GET /api/v1/suspects: "what changed before my build broke?", ranked the way an on-call engineer reads it."""
from datetime import datetime, timedelta, timezone

import pytest

from app.accounts.audit import Actor
from app.ledger.events import record_event
from tests.conftest import connected

FAILED_AT = "2026-11-20T12:00:00Z"
BUILD = "http://jenkins:8080/job/app/42/"
LEDGER = [
    {"title": "JDK 17.0.9 on linux-07", "type": "tool_update", "severity": "medium", "occurred_at": "2026-11-20T11:00:00Z",
     "agents": ["linux-07"], "tools": ["jdk-17"], "toolchains": ["java-build"]},
    {"title": "Docker 27.3 on linux-07", "type": "tool_update", "severity": "high", "occurred_at": "2026-11-20T09:00:00Z",
     "agents": ["linux-07"], "tools": ["docker"]},
    {"title": "linux-07 relabelled", "type": "agent_config", "severity": "critical",
     "occurred_at": "2026-11-20T10:00:00+01:00", "agents": ["linux-07"]},
    {"title": "linux-07 rebooted by hand", "type": "note", "occurred_at": "2026-11-20T11:30:00Z", "agents": ["linux-07"]},
    {"title": "Git 2.43 on linux-07", "type": "package_update", "occurred_at": "2026-11-20T10:00:00Z",
     "agents": ["linux-07"], "tools": ["git"]},
    {"title": "Roll back Git 2.43", "type": "rollback", "occurred_at": "2026-11-20T10:30:00Z", "agents": ["linux-07"],
     "reverts": "Git 2.43 on linux-07"},
    {"title": "JDK 17.0.9 on linux-08", "type": "tool_update", "occurred_at": "2026-11-20T11:15:00Z",
     "agents": ["linux-08"], "tools": ["jdk-17"]},
    {"title": "Maven 3.9.6 in java-build", "type": "toolchain_change", "occurred_at": "2026-11-20T10:00:00Z",
     "toolchains": ["java-build"]},
    {"title": "Artifact proxy outage", "type": "outage", "severity": "critical", "occurred_at": "2026-11-20T08:00:00Z",
     "ended_at": "2026-11-20T08:40:00Z"},
    {"title": "Jenkins core 2.440.3", "type": "jenkins_core", "occurred_at": "2026-11-20T11:50:00Z"},
    {"title": "Python 3.12 on linux-09", "type": "tool_update", "occurred_at": "2026-11-20T11:55:00Z",
     "agents": ["linux-09"], "tools": ["python"]},
    {"title": "Pipeline plugin 2.7 on linux-09", "type": "plugin_update", "occurred_at": "2026-11-20T11:40:00Z",
     "agents": ["linux-09"], "tools": ["workflow-cps"]},
    {"title": "Old JDK change on linux-07", "type": "tool_update", "occurred_at": "2026-11-12T12:00:00Z",
     "agents": ["linux-07"]},
    {"title": "linux-07 after the failure", "type": "agent_config", "occurred_at": FAILED_AT, "agents": ["linux-07"]},
]


def record_all(app, payloads):
    """{title: id}; a ``reverts`` given as a title points at that event."""
    ids = {}
    with connected(app):
        for payload in payloads:
            if isinstance(payload.get("reverts"), str):
                payload = dict(payload, reverts=ids[payload["reverts"]])
            ids[payload["title"]] = record_event(payload, Actor("t"))[0]["id"]
    return ids


@pytest.fixture
def ledger(app):
    return record_all(app, LEDGER)


def suspects(client, auth, query):
    response = client.get("/api/v1/suspects?" + query, headers=auth.headers("viewer", "read"))
    assert response.status_code == 200, response.json
    return response.json


def readable(body, ids):
    """(title, rank, reasons) with event ids in reasons written as #<title>, as a reader resolves them."""
    by_id = {"#%d " % i: "#<%s> " % title for title, i in ids.items()}
    rows = []
    for item in body["items"]:
        reasons = []
        for reason in item["reasons"]:
            for number, title in by_id.items():
                reason = reason.replace(number, title)
            reasons.append(reason)
        rows.append((item["event"]["title"], item["rank"], reasons))
    return rows


ON_07 = ["same agent linux-07"]
EXPECTED_FOR_LINUX_07 = [
    # same agent: changes, closest to the failure first; ties in time by severity
    ("JDK 17.0.9 on linux-07", "same_agent", ON_07),
    ("Roll back Git 2.43", "same_agent", ON_07 + ['rolls back #<Git 2.43 on linux-07> "Git 2.43 on linux-07"']),
    ("linux-07 relabelled", "same_agent", ON_07),
    ("Docker 27.3 on linux-07", "same_agent", ON_07),
    # ... then notes, then changes undone before the failure
    ("linux-07 rebooted by hand", "same_agent", ON_07),
    ("Git 2.43 on linux-07", "same_agent",
     ON_07 + ['reverted by #<Roll back Git 2.43> "Roll back Git 2.43" before the failure']),
    # same tool or toolchain as linux-07's recent changes
    ("JDK 17.0.9 on linux-08", "same_tool", ["same tool jdk-17 as recent changes on linux-07"]),
    ("Maven 3.9.6 in java-build", "same_tool", ["same toolchain java-build as recent changes on linux-07"]),
    # events that name no agent
    ("Jenkins core 2.440.3", "fleet_wide", ["fleet-wide: names no agent"]),
    ("Artifact proxy outage", "fleet_wide", ["fleet-wide: names no agent"]),
]


def test_ranking_and_reasons_for_an_agent(client, auth, ledger):
    body = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)
    assert readable(body, ledger) == EXPECTED_FOR_LINUX_07
    assert body["agents"] == ["linux-07"]
    assert (body["since"], body["before"]) == ("2026-11-13T12:00:00+00:00", "2026-11-20T12:00:00+00:00")


def test_scores_sort_like_the_list_and_explain_the_bands(client, auth, ledger):
    items = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    first = items[0]
    assert first["seconds_before"] == 3600
    assert first["score"] == round(300 + 25 * (1 - 3600 / (7 * 86400)), 2)
    bands = {rank: [i["score"] for i in items if i["rank"] == rank] for rank in ("same_agent", "same_tool", "fleet_wide")}
    assert min(bands["same_agent"]) > max(bands["same_tool"]) and min(bands["same_tool"]) > max(bands["fleet_wide"])


@pytest.mark.parametrize("query, expected", [
    # The window starts 7 days before the failure by default: the older change only with an earlier since.
    ("agent=linux-07&before=%s&since=2026-11-10T00:00:00Z" % FAILED_AT,
     [t for t, _, _ in EXPECTED_FOR_LINUX_07[:4]] + ["Old JDK change on linux-07"]
     + [t for t, _, _ in EXPECTED_FOR_LINUX_07[4:]]),
    # A since of 10:15 leaves out what happened before it.
    ("agent=linux-07&before=%s&since=2026-11-20T10:15:00Z" % FAILED_AT,
     ["JDK 17.0.9 on linux-07", "Roll back Git 2.43", "linux-07 rebooted by hand", "JDK 17.0.9 on linux-08",
      "Jenkins core 2.440.3"]),
    # An earlier failure: the rollback came after it, so Git 2.43 is an unreverted suspect.
    ("agent=linux-07&before=2026-11-20T10:15:00%2B00:00",
     ["Git 2.43 on linux-07", "linux-07 relabelled", "Docker 27.3 on linux-07", "Maven 3.9.6 in java-build",
      "Artifact proxy outage"]),
    ("agent=linux-07&before=%s&limit=3" % FAILED_AT, [t for t, _, _ in EXPECTED_FOR_LINUX_07[:3]]),
    # tool= names tools and toolchains; events on other agents that share nothing stay out.
    ("tool=workflow-cps&before=%s&since=2026-11-20T11:00:00Z" % FAILED_AT,
     ["Pipeline plugin 2.7 on linux-09", "Jenkins core 2.440.3"]),
    ("tool=java-build&before=%s&since=2026-11-20T09:00:00Z" % FAILED_AT,
     ["JDK 17.0.9 on linux-07", "Maven 3.9.6 in java-build", "Jenkins core 2.440.3"]),
    ("agent=no-such-agent&before=%s&since=2026-11-20T11:00:00Z" % FAILED_AT, ["Jenkins core 2.440.3"]),
])
def test_what_is_in_the_list(client, auth, ledger, query, expected):
    assert [item["event"]["title"] for item in suspects(client, auth, query)["items"]] == expected


def test_reverted_only_when_the_rollback_came_before_the_failure(client, auth, ledger):
    early = suspects(client, auth, "agent=linux-07&before=2026-11-20T10:15:00Z")["items"]
    git = next(item for item in early if item["event"]["title"] == "Git 2.43 on linux-07")
    assert git["reasons"] == ON_07 and git["reverted_by"] == []
    late = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]
    git = next(item for item in late if item["event"]["title"] == "Git 2.43 on linux-07")
    assert git["reverted_by"] == [ledger["Roll back Git 2.43"]]


def test_asked_tools_add_a_reason_to_agent_suspects(client, auth, ledger):
    body = suspects(client, auth, "agent=linux-09&tool=jdk-17&before=%s&since=2026-11-20T11:00:00Z" % FAILED_AT)
    assert readable(body, ledger) == [
        ("Python 3.12 on linux-09", "same_agent", ["same agent linux-09"]),
        ("Pipeline plugin 2.7 on linux-09", "same_agent", ["same agent linux-09"]),
        ("JDK 17.0.9 on linux-08", "same_tool", ["tool jdk-17 named in the query"]),
        ("JDK 17.0.9 on linux-07", "same_tool", ["tool jdk-17 named in the query"]),
        ("Jenkins core 2.440.3", "fleet_wide", ["fleet-wide: names no agent"]),
    ]


@pytest.mark.parametrize("build_url", [BUILD, BUILD.rstrip("/")])
def test_build_url_finds_the_agent_from_the_builds_own_events(app, client, auth, ledger, build_url):
    ids = record_all(app, [{"title": "Upgrade Docker in build 42", "type": "tool_update", "source": "pipeline", "build_url": BUILD,
                            "occurred_at": "2026-11-20T11:45:00Z", "agents": ["linux-07"], "tools": ["docker"]}])
    body = suspects(client, auth, "build_url=%s&before=%s" % (build_url, FAILED_AT))
    assert body["agents"] == ["linux-07"]
    assert readable(body, ids)[0] == ("Upgrade Docker in build 42", "same_agent", ON_07 + ["recorded by this build"])
    assert [title for title, _, _ in readable(body, ids)[1:]] == [title for title, _, _ in EXPECTED_FOR_LINUX_07]


def test_an_explicit_agent_wins_over_build_url(app, client, auth, ledger):
    record_all(app, [{"title": "build 42 step", "build_url": BUILD, "occurred_at": "2026-11-20T11:45:00Z",
                      "agents": ["linux-07"]}])
    body = suspects(client, auth, "agent=linux-09&build_url=%s&before=%s&since=2026-11-20T11:00:00Z" % (BUILD, FAILED_AT))
    assert body["agents"] == ["linux-09"]


@pytest.mark.parametrize("recorded", [
    [],  # nothing recorded for that build at all
    [{"title": "build 43 started", "build_url": "http://jenkins:8080/job/app/43/"}],  # a build without agents
])
def test_unknown_build_agent_is_422(app, client, auth, recorded):
    record_all(app, recorded)
    url = "http://jenkins:8080/job/app/43/"
    response = client.get("/api/v1/suspects?build_url=" + url, headers=auth.headers("viewer", "read"))
    assert response.status_code == 422
    assert response.json["errors"] == {"build_url": [
        "The build's agent is unknown: no event recorded with this build_url names an agent. "
        "Pass agent=<name> (the agent the build ran on)."]}


@pytest.mark.parametrize("query, field, message", [
    ("", "agent", "Name the failed build's agent (agent=), its build_url= or a tool=."),
    ("agent=linux-07&before=2026-11-20T12:00:00", "before", "Must include a UTC offset, e.g. 2026-01-31T12:00:00Z."),
    ("agent=linux-07&before=yesterday", "before", "Not a valid ISO 8601 datetime."),
    ("agent=linux-07&before=1900-01-01T00:00:00Z", "before", "Must be between 1970-01-01 and 9999-01-01."),
    ("agent=linux-07&before=%s&since=%s" % (FAILED_AT, FAILED_AT), "since",
     "Must be before 'before' (2026-11-20T12:00:00+00:00)."),
    ("agent=linux-07&before=%s&since=2026-08-01T00:00:00Z" % FAILED_AT, "since",
     "Must be at most 90 days before 'before'; narrow the search."),
    ("agent=linux-07&limit=201", "limit", "Must be greater than or equal to 1 and less than or equal to 200."),
    ("agent=linux-07&limit=0", "limit", "Must be greater than or equal to 1 and less than or equal to 200."),
    ("build_url=not-a-url", "build_url", "Not a valid URL."),
])
def test_bad_queries_are_422(client, auth, query, field, message):
    response = client.get("/api/v1/suspects?" + query, headers=auth.headers("viewer", "read"))
    assert response.status_code == 422
    assert response.json["errors"] == {field: [message]}


def test_before_defaults_to_now(app, client, auth):
    recent = datetime.now(timezone.utc) - timedelta(hours=1)
    record_all(app, [{"title": "recent change", "occurred_at": recent.isoformat(), "agents": ["linux-07"]},
                     {"title": "eight days ago", "occurred_at": (recent - timedelta(days=8)).isoformat(),
                      "agents": ["linux-07"]}])
    body = suspects(client, auth, "agent=linux-07")
    assert [item["event"]["title"] for item in body["items"]] == ["recent change"]


def test_anonymous_is_401(client, ledger):
    response = client.get("/api/v1/suspects?agent=linux-07")
    assert response.status_code == 401 and "Authentication required" in response.json["message"]


@pytest.mark.parametrize("endpoint", ["suspects", "related"])
def test_queries_do_not_grow_with_the_number_of_events(app, client, auth, caplog, endpoint):
    headers = auth.headers("viewer", "read")

    def statements(extra):
        ids = record_all(app, [{"title": "change %d" % i, "type": "tool_update", "reverts": None,
                                "occurred_at": "2026-11-20T%02d:%02d:00Z" % (8 + i // 60, i % 60),
                                "agents": ["linux-07", "linux-%02d" % (10 + i)], "tools": ["jdk-17", "t%d" % i],
                                "toolchains": ["java-build"], "tags": ["x"]} for i in range(extra)])
        url = ("/api/v1/suspects?agent=linux-07&before=" + FAILED_AT if endpoint == "suspects"
               else "/api/v1/events/%d/related" % min(ids.values()))
        caplog.clear()
        with caplog.at_level("DEBUG", logger="peewee"):
            assert client.get(url, headers=headers).status_code == 200
        # Authentication's own statements (token lookup, a throttled last-used update) are not counted.
        return len([r for r in caplog.records if r.name == "peewee" and "api_token" not in r.getMessage()
                    and '"user"' not in r.getMessage()])

    assert statements(5) == statements(40)


def test_intervals_that_began_before_since_and_overlap_it_are_suspects(client, auth, app, ledger):
    ids = record_all(app, [
        {"title": "linux-07 maintenance", "type": "maintenance", "occurred_at": "2026-11-19T22:00:00Z",
         "ended_at": "2026-11-21T06:00:00Z", "agents": ["linux-07"]},
        {"title": "Short outage long ago", "type": "outage", "occurred_at": "2026-11-19T20:00:00Z",
         "ended_at": "2026-11-19T20:30:00Z"},
    ])
    body = suspects(client, auth, "agent=linux-07&before=%s&since=2026-11-20T08:15:00Z" % FAILED_AT)
    rows = {title: (rank, reasons) for title, rank, reasons in readable(body, dict(ledger, **ids))}
    assert rows["linux-07 maintenance"] == ("same_agent", ON_07 + [
        "began before 2026-11-20T08:15:00+00:00 and was still going on at the failure"])
    # The proxy outage of 08:00-08:40 overlaps a since of 08:15; one that ended the day before does not.
    assert rows["Artifact proxy outage"] == ("fleet_wide", [
        "fleet-wide: names no agent", "began before 2026-11-20T08:15:00+00:00 and lasted until 2026-11-20T08:40:00+00:00"])
    assert "Short outage long ago" not in rows
    # Ranked as if they had happened at the period's start: after the changes within it, before the notes.
    assert [title for title, (rank, _) in rows.items() if rank == "same_agent"] == [
        "JDK 17.0.9 on linux-07", "Roll back Git 2.43", "linux-07 relabelled", "Docker 27.3 on linux-07",
        "linux-07 maintenance", "linux-07 rebooted by hand", "Git 2.43 on linux-07"]
