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


ON_07 = "same agent linux-07"
EXPECTED_FOR_LINUX_07 = [
    # (title, rank, the evidence in plain words), best first
    ("Docker 27.3 on linux-07", "same_agent", "same agent, strong change, high severity, 3h before"),
    ("linux-07 relabelled", "same_agent", "same agent, strong change, critical severity, 3h before"),
    ("Artifact proxy outage", "fleet_wide", "every build, strong change, critical severity, ended 3h 20m before"),
    ("JDK 17.0.9 on linux-07", "same_agent", "same agent, strong change, 1h before"),
    # a toolchain linux-07's own changes name, changed with no agent
    ("Maven 3.9.6 in java-build", "same_tool", "a tool its agent uses, strong change, info severity, 2h before"),
    ("Jenkins core 2.440.3", "fleet_wide", "every build, strong change, info severity, 10m before"),
    ("Roll back Git 2.43", "same_agent", "same agent, medium change, info severity, 1h 30m before"),
    ("Git 2.43 on linux-07", "same_agent",
     "same agent, strong change, info severity, 2h before, reverted before the failure"),
    # a note is weak evidence, however close and on whatever agent
    ("linux-07 rebooted by hand", "same_agent", "same agent, a note, info severity, 30m before"),
]


def test_ranking_and_evidence_for_an_agent(client, auth, ledger):
    body = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)
    assert [(i["event"]["title"], i["rank"], i["summary"]) for i in body["items"]] == EXPECTED_FOR_LINUX_07
    assert body["agents"] == ["linux-07"]
    assert (body["since"], body["before"]) == ("2026-11-13T12:00:00+00:00", "2026-11-20T12:00:00+00:00")
    # JDK 17.0.9 on linux-08 shares jdk-17 with linux-07's changes, but happened on another machine: not a suspect.
    assert "JDK 17.0.9 on linux-08" not in [i["event"]["title"] for i in body["items"]]
    rows = {title: reasons for title, _, reasons in readable(body, ledger)}
    assert rows["JDK 17.0.9 on linux-07"] == [ON_07, "strong change: tool update", "severity medium",
                                              "1h before the failure"]
    assert rows["Roll back Git 2.43"][-1] == 'rolls back #<Git 2.43 on linux-07> "Git 2.43 on linux-07"'
    assert rows["Git 2.43 on linux-07"][-1] == 'reverted by #<Roll back Git 2.43> "Roll back Git 2.43" before the failure'
    assert rows["Maven 3.9.6 in java-build"][0] == "same toolchain java-build as recent changes on linux-07"
    assert rows["Jenkins core 2.440.3"][0] == "names no agent: a Jenkins core update reaches every build"


def test_the_score_is_the_product_of_the_weights_and_orders_the_list(client, auth, ledger):
    items = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    for item in items:
        product = 100.0
        for piece in item["evidence"]:
            product *= piece["weight"]
        assert item["score"] == round(product, 2)
        assert item["reasons"] == [piece["reason"] for piece in item["evidence"]]
    jdk = next(i for i in items if i["event"]["title"] == "JDK 17.0.9 on linux-07")
    assert [(p["rule"], p["weight"]) for p in jdk["evidence"]] == [
        ("scope", 1.0), ("kind", 1.0), ("severity", 1.0), ("recency", 0.99)]
    assert jdk["seconds_before"] == 3600 and jdk["score"] == 99.0


@pytest.mark.parametrize("query, expected", [
    # The window starts 7 days before the failure by default: the older change only with an earlier since, low
    # down: eight days of decay.
    ("agent=linux-07&before=%s&since=2026-11-10T00:00:00Z" % FAILED_AT,
     [t for t, _, _ in EXPECTED_FOR_LINUX_07[:7]] + ["Old JDK change on linux-07"]
     + [t for t, _, _ in EXPECTED_FOR_LINUX_07[7:]]),
    # A since of 10:15 leaves out what happened before it (the proxy outage ended at 08:40).
    ("agent=linux-07&before=%s&since=2026-11-20T10:15:00Z" % FAILED_AT,
     ["JDK 17.0.9 on linux-07", "Jenkins core 2.440.3", "Roll back Git 2.43", "linux-07 rebooted by hand"]),
    # An earlier failure: the rollback came after it, so Git 2.43 is an unreverted suspect; java-build is not
    # (yet) a toolchain of linux-07's changes, so its change is merely fleet-wide.
    ("agent=linux-07&before=2026-11-20T10:15:00%2B00:00",
     ["Docker 27.3 on linux-07", "linux-07 relabelled", "Artifact proxy outage", "Git 2.43 on linux-07",
      "Maven 3.9.6 in java-build"]),
    ("agent=linux-07&before=%s&limit=3" % FAILED_AT, [t for t, _, _ in EXPECTED_FOR_LINUX_07[:3]]),
    # tool= names tools and toolchains; without an agent, where they changed does not matter. Events that share
    # nothing stay out.
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
    assert "reverted" not in [p["rule"] for p in git["evidence"]] and git["reverted_by"] == []
    late = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]
    git = next(item for item in late if item["event"]["title"] == "Git 2.43 on linux-07")
    assert git["reverted_by"] == [ledger["Roll back Git 2.43"]]
    assert [(p["rule"], p["weight"]) for p in git["evidence"]][-1] == ("reverted", 0.25)


def test_asked_tools_count_on_other_agents_too_but_less(client, auth, ledger):
    body = suspects(client, auth, "agent=linux-09&tool=jdk-17&before=%s&since=2026-11-20T11:00:00Z" % FAILED_AT)
    assert [(title, rank, reasons[:2]) for title, rank, reasons in readable(body, ledger)] == [
        ("Python 3.12 on linux-09", "same_agent", ["same agent linux-09", "strong change: tool update"]),
        ("Pipeline plugin 2.7 on linux-09", "same_agent", ["same agent linux-09", "strong change: plugin update"]),
        ("Jenkins core 2.440.3", "fleet_wide",
         ["names no agent: a Jenkins core update reaches every build", "strong change: jenkins core"]),
        ("JDK 17.0.9 on linux-07", "same_tool", ["names other agents only, not linux-09", "tool jdk-17 named in the query"]),
        ("JDK 17.0.9 on linux-08", "same_tool", ["names other agents only, not linux-09", "tool jdk-17 named in the query"]),
    ]
    assert [p["weight"] for p in body["items"][3]["evidence"][:2]] == [0.35, 1.0]


@pytest.mark.parametrize("build_url", [BUILD, BUILD.rstrip("/")])
def test_build_url_finds_the_agent_from_the_builds_own_events(app, client, auth, ledger, build_url):
    ids = record_all(app, [{"title": "Upgrade Docker in build 42", "type": "tool_update", "source": "pipeline", "build_url": BUILD,
                            "occurred_at": "2026-11-20T11:45:00Z", "agents": ["linux-07"], "tools": ["docker"]}])
    body = suspects(client, auth, "build_url=%s&before=%s" % (build_url, FAILED_AT))
    assert body["agents"] == ["linux-07"]
    upgrade = next(item for item in body["items"] if item["event"]["id"] == ids["Upgrade Docker in build 42"])
    assert upgrade["rank"] == "same_agent" and upgrade["reasons"][0] == ON_07
    assert upgrade["reasons"][-1] == "recorded by this build" and upgrade["summary"].endswith("recorded by this build")
    others = [item["event"]["title"] for item in body["items"] if item is not upgrade]
    assert others == [title for title, _, _ in EXPECTED_FOR_LINUX_07]


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
    assert rows["linux-07 maintenance"] == ("same_agent", [
        ON_07, "strong change: maintenance", "severity info",
        "began before 2026-11-20T08:15:00+00:00 and was still going on at the failure"])
    # The proxy outage of 08:00-08:40 overlaps a since of 08:15; one that ended the day before does not.
    assert rows["Artifact proxy outage"] == ("fleet_wide", [
        "names no agent: an outage of a shared service reaches every build", "strong change: outage",
        "severity critical", "began before 2026-11-20T08:15:00+00:00 and lasted until 2026-11-20T08:40:00+00:00"])
    assert "Short outage long ago" not in rows
    # Going on at the failure doubles its weight: first, however old its start.
    assert body["items"][0]["event"]["title"] == "linux-07 maintenance"
    assert body["items"][0]["evidence"][-1]["weight"] == 2.0


def post_events(client, auth, payloads):
    ids = []
    for payload in payloads:
        response = client.post("/api/v1/events", json=payload, headers=auth.headers())
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    return ids


def ranked(client, auth, query):
    return [(item["event"]["title"], item["score"]) for item in suspects(client, auth, query)["items"]]


def at(hours):
    """``hours`` before FAILED_AT, as ISO 8601."""
    return (datetime(2026, 11, 20, 12, tzinfo=timezone.utc) - timedelta(hours=hours)).isoformat()


def test_eight_notes_are_still_notes(client, auth):
    post_events(client, auth, [{"title": "Jenkins core 2.440.3", "type": "jenkins_core", "occurred_at": at(20)}])
    alone = ranked(client, auth, "agent=linux-07&before=" + FAILED_AT)
    post_events(client, auth, [{"title": "note %d on linux-07" % n, "type": "note", "severity": "critical",
                                "occurred_at": at(n / 4), "agents": ["linux-07"]} for n in range(1, 9)])
    noisy = ranked(client, auth, "agent=linux-07&before=" + FAILED_AT)
    # The core upgrade stays first with the same score: how many other events there are never moves a score.
    assert noisy[0] == alone[0] == ("Jenkins core 2.440.3", alone[0][1])
    assert len(noisy) == 9 and all(score < alone[0][1] for _, score in noisy[1:])


def test_an_ongoing_outage_outranks_the_chatter_and_a_forgotten_one_fades(client, auth):
    post_events(client, auth, [
        {"title": "Artifact proxy down", "type": "outage", "severity": "high", "occurred_at": at(1)},
        {"title": "Proxy outage nobody closed", "type": "outage", "severity": "high", "occurred_at": at(24 * 6)},
    ] + [{"title": "chatter %d" % n, "type": "agent_config", "severity": "low", "occurred_at": at(n / 10),
          "agents": ["linux-07"]} for n in range(1, 6)])
    rows = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]
    assert rows[0]["event"]["title"] == "Artifact proxy down"
    assert rows[0]["summary"] == "every build, strong change, high severity, going on at the failure"
    forgotten = next(item for item in rows if item["event"]["title"] == "Proxy outage nobody closed")
    assert [(p["reason"], p["weight"]) for p in forgotten["evidence"][-2:]] == [
        ("going on at the failure, since 6d before it", 2.0), ("no end recorded; began 6d before the failure", 0.387)]
    assert forgotten["score"] < rows[0]["score"] / 2


def test_recency_decays_with_no_cliff(client, auth):
    post_events(client, auth, [{"title": "change %dh before" % hours, "type": "tool_update", "agents": ["linux-07"],
                                "occurred_at": at(hours)} for hours in (1, 47, 49, 24 * 6)])
    scores = dict(ranked(client, auth, "agent=linux-07&before=" + FAILED_AT))
    assert scores["change 1h before"] > scores["change 47h before"] > scores["change 49h before"] > scores[
        "change 144h before"] > 0.3 * scores["change 1h before"]
    assert scores["change 47h before"] - scores["change 49h before"] < 2  # two hours apart, two points apart


def test_unplanned_counts_against_a_change(client, auth):
    detected = {"type": "agent_config", "source": "poller", "agents": ["linux-07"], "occurred_at": at(3)}
    post_events(client, auth, [
        {"title": "Relabel linux-07", "type": "agent_config", "source": "pipeline", "agents": ["linux-07"],
         "occurred_at": at(3.5)},
        dict(detected, title="linux-07: label docker added"),  # announced half an hour before
        dict(detected, title="linux-07: env JAVA_HOME changed", occurred_at=at(8)),  # by hand, 8 h ago
    ])
    items = {item["event"]["title"]: item for item in suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]}
    by_hand = items["linux-07: env JAVA_HOME changed"]
    assert by_hand["event"]["unplanned"] is True and by_hand["summary"].endswith("unplanned")
    assert (by_hand["evidence"][-1]["rule"], by_hand["evidence"][-1]["weight"]) == ("unplanned", 1.5)
    assert by_hand["score"] > items["linux-07: label docker added"]["score"]


def test_what_the_job_built_successfully_after_counts_little(client, auth):
    post_events(client, auth, [
        {"title": "JDK 21 on linux-07", "type": "tool_update", "severity": "medium", "agents": ["linux-07"],
         "occurred_at": at(30)},
        {"title": "linux-07: executors 2 → 4", "type": "agent_config", "agents": ["linux-07"], "occurred_at": at(2)},
    ])
    query = "agent=linux-07&before=%s&last_success=%s" % (FAILED_AT, at(10).replace("+00:00", "Z"))
    items = suspects(client, auth, query)["items"]
    assert [item["event"]["title"] for item in items] == ["linux-07: executors 2 → 4", "JDK 21 on linux-07"]
    assert (items[1]["evidence"][-1]["reason"], items[1]["evidence"][-1]["weight"]) == (
        "the job built successfully after it began (2026-11-20T02:00:00+00:00)", 0.2)
    assert suspects(client, auth, query)["last_success"] == "2026-11-20T02:00:00+00:00"
    without = [item["event"]["title"] for item in suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]]
    assert without == ["JDK 21 on linux-07", "linux-07: executors 2 → 4"]


def test_a_toolchain_change_reaches_the_build_through_its_tool_and_the_reverse(app, client, auth):
    headers = auth.headers()
    assert client.post("/api/v1/toolchains", json={"name": "java-build", "tools": ["jdk-17", "maven"]},
                       headers=headers).status_code == 201
    post_events(client, auth, [
        {"title": "java-build: Maven 3.8.1", "type": "toolchain_change", "severity": "medium",
         "toolchains": ["java-build"], "occurred_at": at(12)},
        {"title": "jdk-17 17.0.10 for the fleet", "type": "tool_update", "tools": ["jdk-17"], "occurred_at": at(12)},
        {"title": "linux-07: label maven-cache added", "type": "agent_config", "severity": "low",
         "agents": ["linux-07"], "occurred_at": at(2)},
    ])
    through_tool = suspects(client, auth, "agent=linux-07&tool=maven&before=" + FAILED_AT)["items"]
    assert through_tool[0]["event"]["title"] == "java-build: Maven 3.8.1"
    assert through_tool[0]["rank"] == "same_tool"
    assert through_tool[0]["reasons"][0] == "toolchain java-build contains tool maven, named in the query"
    assert through_tool[0]["evidence"][0]["weight"] == 0.9
    through_chain = suspects(client, auth, "agent=linux-07&tool=java-build&before=" + FAILED_AT)["items"]
    jdk = next(item for item in through_chain if item["event"]["title"] == "jdk-17 17.0.10 for the fleet")
    assert jdk["reasons"][0] == "tool jdk-17 is part of toolchain java-build, named in the query"
    # Without the tool named, the toolchain's change is fleet-wide: half the weight.
    plain = suspects(client, auth, "agent=linux-07&before=" + FAILED_AT)["items"]
    chain = next(item for item in plain if item["event"]["title"] == "java-build: Maven 3.8.1")
    assert chain["reasons"][0] == "fleet-wide: names no agent" and chain["evidence"][0]["weight"] == 0.5


def test_a_builds_event_gives_the_query_of_that_builds_suspects(app, client, auth):
    """What the event page links to: the suspects of the build that recorded the event, when it failed."""
    from app.correlation.suspects import query_for_build

    ids = post_events(client, auth, [
        {"title": "Upgrade Docker (failed)", "type": "tool_update", "severity": "high", "source": "pipeline",
         "build_url": BUILD, "agents": ["linux-07"], "occurred_at": at(1), "ended_at": at(0.5)},
        {"title": "A note", "occurred_at": at(1)}])
    event = client.get("/api/v1/events/%d" % ids[0], headers=auth.headers()).json
    with connected(app):
        from app.ledger.events import get_event

        query = query_for_build(get_event(ids[0]))
        assert query_for_build(get_event(ids[1])) is None
    assert query == {"build_url": BUILD, "before": "2026-11-20T11:30:00Z", "agent": ["linux-07"]}
    body = suspects(client, auth, "build_url=%s&before=%s&agent=linux-07" % (query["build_url"], query["before"]))
    assert body["items"][0]["event"]["id"] == event["id"]
