"""Planned vs unplanned changes: flagged when a poller or webhook detects a change nobody announced, cleared when the
intent is recorded later, from every way in (API, webhook, poller, CSV import), filterable and counted."""
import json

import pytest

from app.ingest import inbox
from app.models import Event
from app import create_app
from tests.conftest import AuthActions, connected
from tests.http.test_metrics import scrape, value
from tests.webhook_support import REGISTRY_TYPE, deliver, fixture_bytes, make_source, tagged_push

CHANGE_AT = "2026-11-20T12:00:00Z"
DETECTED = {"title": "linux-07: label docker added", "type": "agent_config", "source": "poller",
            "occurred_at": CHANGE_AT, "agents": ["linux-07"]}


def post(client, auth, payload):
    response = client.post("/api/v1/events", json=payload, headers=auth.headers())
    assert response.status_code == 201, response.json
    return response.json


def get(client, auth, event_id):
    return client.get("/api/v1/events/%d" % event_id, headers=auth.headers("viewer", "read")).json


def intent(at, **names):
    return dict({"title": "Relabel linux-07 for the docker jobs", "type": "agent_config", "source": "pipeline",
                 "occurred_at": at}, **names)


@pytest.mark.parametrize("intents, unplanned", [
    ([], True),
    # a pipeline, a person or an import said so on the same agent, tool or toolchain up to 2 h before
    ([intent("2026-11-20T11:00:00Z", agents=["linux-07"])], False),
    ([intent("2026-11-20T10:00:00Z", agents=["linux-07"], source="manual")], False),
    ([intent("2026-11-20T12:00:00Z", agents=["linux-07"], source="import")], False),
    # ...not earlier, not on something else, not after, and machines are no intent
    ([intent("2026-11-20T09:59:00Z", agents=["linux-07"])], True),
    ([intent("2026-11-20T11:00:00Z", agents=["linux-08"])], True),
    ([intent("2026-11-20T12:01:00Z", agents=["linux-07"])], True),
    ([intent("2026-11-20T11:00:00Z", agents=["linux-07"], source="webhook")], True),
])
def test_a_detected_change_is_unplanned_without_an_intent_before_it(client, auth, intents, unplanned):
    for payload in intents:
        post(client, auth, payload)
    event = post(client, auth, DETECTED)
    assert event["unplanned"] is unplanned
    assert get(client, auth, event["id"])["unplanned"] is unplanned


@pytest.mark.parametrize("detected, names", [
    ({"tools": ["jenkins-core"], "type": "jenkins_core", "agents": []}, {"tools": ["jenkins-core"]}),
    ({"toolchains": ["java-build"], "type": "toolchain_change", "agents": []}, {"toolchains": ["java-build"]}),
    ({"tools": ["jdk-17"], "source": "webhook"}, {"tools": ["jdk-17"]}),  # the change also names linux-07
])
def test_any_shared_agent_tool_or_toolchain_makes_the_intent(client, auth, detected, names):
    post(client, auth, intent("2026-11-20T11:30:00Z", **names))
    assert post(client, auth, dict(DETECTED, **detected))["unplanned"] is False


@pytest.mark.parametrize("payload", [
    dict(DETECTED, type="note"),  # an observation, not a change
    dict(DETECTED, type="outage"),  # nobody intends an outage
    dict(DETECTED, agents=[]),  # names nothing an intent could name
    dict(DETECTED, source="manual"),  # recorded by a person: that is the intent
])
def test_what_is_never_flagged(client, auth, payload):
    assert post(client, auth, payload)["unplanned"] is False


def test_an_intent_recorded_later_clears_the_flag(client, auth):
    detected = post(client, auth, DETECTED)
    other = post(client, auth, dict(DETECTED, title="linux-08 relabelled", agents=["linux-08"]))
    later = post(client, auth, dict(DETECTED, title="linux-07 relabelled again", occurred_at="2026-11-20T15:00:00Z"))
    # Recorded afterwards, dated when the work started: it explains the change of 12:00, not the other agent's,
    # nor the one three hours after it.
    post(client, auth, intent("2026-11-20T11:45:00Z", agents=["linux-07"], source="manual"))
    assert [get(client, auth, e["id"])["unplanned"] for e in (detected, other, later)] == [False, True, True]


def test_events_naming_more_names_than_one_query_part_holds(client, auth):
    """The look-ups go 500 names per part of one UNION: a change on the 700th agent and one on the 3rd tool of
    events naming 900 agents and 600 tools are matched like those of events naming one."""
    fleet = ["fleet-%03d" % n for n in range(900)]
    tools = ["plugin-%03d" % n for n in range(600)]
    on_the_700th = post(client, auth, dict(DETECTED, agents=[fleet[700]]))
    on_a_tool = post(client, auth, dict(DETECTED, agents=[], tools=[tools[2]], type="plugin_update"))
    post(client, auth, intent("2026-11-20T11:59:00Z", agents=fleet, tools=tools))
    assert get(client, auth, on_the_700th["id"])["unplanned"] is False
    assert get(client, auth, on_a_tool["id"])["unplanned"] is False
    later = dict(DETECTED, occurred_at="2026-11-20T13:00:00Z")
    assert post(client, auth, dict(later, agents=fleet[::-1]))["unplanned"] is False
    assert post(client, auth, dict(later, agents=["fleet-900"] + fleet[:1], tools=tools))["unplanned"] is False
    assert post(client, auth, dict(later, agents=["fleet-900", "fleet-901"]))["unplanned"] is True


def test_edits_and_deletions_of_an_intent_settle_the_flags_again(client, auth):
    announced = post(client, auth, intent("2026-11-20T11:00:00Z", agents=["linux-07"]))
    detected = post(client, auth, DETECTED)
    assert detected["unplanned"] is False
    headers = auth.headers()
    moved = client.patch("/api/v1/events/%d" % announced["id"], json={"occurred_at": "2026-11-19T11:00:00Z"},
                         headers=headers)
    assert moved.status_code == 200 and get(client, auth, detected["id"])["unplanned"] is True
    client.patch("/api/v1/events/%d" % announced["id"], json={"occurred_at": "2026-11-20T11:30:00Z"}, headers=headers)
    assert get(client, auth, detected["id"])["unplanned"] is False
    client.patch("/api/v1/events/%d" % announced["id"], json={"agents": ["linux-08"]}, headers=headers)
    assert get(client, auth, detected["id"])["unplanned"] is True
    client.patch("/api/v1/events/%d" % announced["id"], json={"agents": ["linux-07"]}, headers=headers)
    assert get(client, auth, detected["id"])["unplanned"] is False
    assert client.delete("/api/v1/events/%d" % announced["id"], headers=headers).status_code == 204
    assert get(client, auth, detected["id"])["unplanned"] is True


def test_editing_the_change_itself_settles_its_flag_and_the_audit_shows_it(client, auth):
    post(client, auth, intent("2026-11-20T11:00:00Z", agents=["linux-07"]))
    detected = post(client, auth, DETECTED)
    headers = auth.headers()
    edited = client.patch("/api/v1/events/%d" % detected["id"], json={"occurred_at": "2026-11-20T18:00:00Z"},
                          headers=headers)
    assert edited.status_code == 200 and edited.json["unplanned"] is True
    history = client.get("/api/v1/events/%d/history" % detected["id"], headers=headers).json["items"]
    assert history[-1]["before"]["unplanned"] is False and history[-1]["after"]["unplanned"] is True


def test_the_flag_is_the_ledgers_to_keep(client, auth):
    detected = post(client, auth, DETECTED)
    for method, url in (("post", "/api/v1/events"), ("patch", "/api/v1/events/%d" % detected["id"])):
        response = getattr(client, method)(url, json=dict(DETECTED, unplanned=False), headers=auth.headers())
        assert response.status_code == 422 and "unplanned" in response.json["errors"]
    assert get(client, auth, detected["id"])["unplanned"] is True


def test_the_window_is_configurable(app):
    app = create_app(dict(app.config, UNPLANNED_WINDOW_MINUTES=30))
    client = app.test_client()
    auth = AuthActions(app, client)
    post(client, auth, intent("2026-11-20T11:00:00Z", agents=["linux-07"]))
    assert post(client, auth, DETECTED)["unplanned"] is True
    post(client, auth, intent("2026-11-20T11:45:00Z", agents=["linux-07"]))
    assert post(client, auth, dict(DETECTED, title="linux-07: label docker removed",
                                   occurred_at="2026-11-20T12:10:00Z"))["unplanned"] is False


def test_a_registry_push_nobody_announced_is_unplanned_until_the_pipeline_says_so(app, client, auth):
    make_source(app, "hub", "registry")
    body = tagged_push("1.0")
    assert deliver(client, "registry", "hub", body, content_type=REGISTRY_TYPE).status_code == 202
    with connected(app):
        assert inbox.drain("w1", inbox.Settings())["done"] >= 1
    image = client.get("/api/v1/events?source=webhook", headers=auth.headers()).json["items"]
    assert [(e["tools"], e["unplanned"]) for e in image] == [(["library/test:1.0"], True)]

    # The pipeline that pushed it records what it did, dated when it started (before the registry's timestamp).
    pushed_at = json.loads(body)["events"][0]["timestamp"]
    post(client, auth, {"title": "Build and push library/test", "type": "docker_image", "source": "pipeline",
                        "occurred_at": pushed_at.replace("15:04:05", "14:50:00"),
                        "tools": ["library/test:1.0"]})
    assert get(client, auth, image[0]["id"])["unplanned"] is False


def test_an_agent_edited_by_hand_is_found_by_the_poller_and_flagged(client, auth):
    headers = auth.headers()
    xml = fixture_bytes("agent-config-ssh-envvars.xml").decode()
    body = {"collector": "jenkins_agent", "key": "ci/example", "observed_at": "2026-11-20T03:00:00Z",
            "content": {"config_xml": xml}}
    assert client.post("/api/v1/snapshots", json=body, headers=headers).status_code == 200
    body.update(observed_at="2026-11-21T03:00:00Z",
                content={"config_xml": xml.replace("<numExecutors>5</numExecutors>", "<numExecutors>6</numExecutors>")})
    hand_edit = client.post("/api/v1/snapshots", json=body, headers=headers).json["event_id"]
    assert get(client, auth, hand_edit)["unplanned"] is True

    body.update(observed_at="2026-11-22T03:00:00Z",
                content={"config_xml": xml.replace("<numExecutors>5</numExecutors>", "<numExecutors>8</numExecutors>")})
    post(client, auth, intent("2026-11-22T02:30:00Z", agents=["example"], title="More executors on example"))
    announced = client.post("/api/v1/snapshots", json=body, headers=headers).json["event_id"]
    assert get(client, auth, announced)["unplanned"] is False


def test_a_csv_import_flags_and_explains_within_the_batch(client, auth):
    csv = ("title,source,type,occurred_at,agents\n"
           "poller saw linux-07 change,poller,agent_config,2026-11-20T12:00:00Z,linux-07\n"
           "poller saw linux-08 change,poller,agent_config,2026-11-20T12:00:00Z,linux-08\n"
           "we changed linux-08,import,agent_config,2026-11-20T11:30:00Z,linux-08\n")
    response = client.post("/api/v1/events/import", data=csv, headers=dict(auth.headers(), **{"Content-Type": "text/csv"}))
    assert response.status_code == 201 or response.status_code == 200, response.json
    items = client.get("/api/v1/events?source=poller&sort=title", headers=auth.headers()).json["items"]
    assert [(e["agents"], e["unplanned"]) for e in items] == [(["linux-07"], True), (["linux-08"], False)]


@pytest.fixture
def mixed(client, auth):
    post(client, auth, intent("2026-11-20T11:00:00Z", agents=["linux-07"]))
    planned = post(client, auth, DETECTED)
    unplanned = post(client, auth, dict(DETECTED, title="linux-08: executors 2 → 4", agents=["linux-08"]))
    return planned, unplanned


def test_planned_false_filters_the_list_the_export_and_the_timeline(client, auth, mixed):
    headers = auth.headers("viewer", "read")
    _, unplanned = mixed
    only = client.get("/api/v1/events?planned=false", headers=headers).json["items"]
    assert [e["id"] for e in only] == [unplanned["id"]]
    assert len(client.get("/api/v1/events?planned=true", headers=headers).json["items"]) == 2
    export = client.get("/api/v1/events/export.csv?planned=false", headers=headers).get_data(as_text=True)
    assert export.count("\n") == 2 and "linux-08: executors 2" in export
    timeline = client.get("/api/v1/timeline?planned=false&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z",
                          headers=headers).json
    assert [e["id"] for lane in timeline["lanes"] for e in lane.get("events", [])] == [unplanned["id"]]
    days = client.get("/api/v1/timeline?planned=false&bucket=day&from=2026-11-19T00:00:00Z&to=2026-11-22T00:00:00Z",
                      headers=headers).json
    assert sum(b["count"] for lane in days["lanes"] for b in lane.get("buckets", [])) == 1
    bad = client.get("/api/v1/events?planned=maybe", headers=headers)
    assert bad.status_code == 422 and bad.json["errors"] == {"planned": ["Not a valid boolean."]}


def test_metrics_count_the_unplanned_changes(app, client, auth, mixed):
    samples = scrape(client, auth.headers("viewer", "read"))
    assert value(samples, "changetracker_unplanned_events") == 1
    assert value(samples, "changetracker_unplanned_events_last_day") == 0  # it happened in 2026-11, not today
    with connected(app):
        Event.update(occurred_at=Event.created_at).where(Event.unplanned).execute()
    assert value(scrape(client, auth.headers("viewer", "read")), "changetracker_unplanned_events_last_day") == 1


def test_one_group_commit_batch_decides_each_flag_with_the_intents_it_carries(app):
    """Concurrent record_event calls are written in one transaction (app.ledger.group_commit): a change and the
    pipeline's intent for it that arrive together are planned, whatever their order; the answers and the stored
    rows agree."""
    from app.accounts.audit import Actor
    from app.ledger import events

    payloads = [DETECTED, dict(DETECTED, title="linux-08: label docker added", agents=["linux-08"]),
                intent("2026-11-20T11:00:00Z", agents=["linux-07"])]
    with connected(app):
        outcomes = events._write_batch([events._Recording(events.validate_event(p), Actor("t"),
                                                          events.DEFAULT_DEDUPE_WINDOW) for p in payloads])
        stored = dict(Event.select(Event.title, Event.unplanned).tuples())
    assert [(event["title"], event["unplanned"]) for event, _ in outcomes] == [
        ("linux-07: label docker added", False), ("linux-08: label docker added", True),
        ("Relabel linux-07 for the docker jobs", False)]
    assert stored == {event["title"]: event["unplanned"] for event, _ in outcomes}
