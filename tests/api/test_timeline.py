"""GET /api/v1/timeline: lanes per agent, raw events for small ranges, bucket counts for large ones."""
from datetime import datetime, timedelta, timezone

import pytest

from app.accounts.audit import Actor
from app.ledger import timeline
from app.ledger.events import record_event
from tests.conftest import connected

START = datetime(2026, 11, 2, tzinfo=timezone.utc)  # a Monday


@pytest.fixture
def history(app):
    with connected(app):
        for day in range(14):
            when = START + timedelta(days=day, hours=10)
            record_event({"title": "agent change %d" % day, "occurred_at": when.isoformat(), "agents": ["linux-01"],
                          "severity": "low" if day % 2 else "high"}, Actor("t"))
            record_event({"title": "fleet change %d" % day, "occurred_at": when.isoformat()}, Actor("t"))
        record_event({"title": "two agents", "occurred_at": (START + timedelta(days=3)).isoformat(),
                      "agents": ["linux-02", "linux-01"]}, Actor("t"))


def get(client, auth, query):
    response = client.get("/api/v1/timeline" + query, headers=auth.headers(role="viewer", scope="read"))
    assert response.status_code == 200, response.json
    return response.json


RANGE = "?from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z"


def test_small_range_ships_events_in_lanes(client, auth, history):
    body = get(client, auth, RANGE)
    assert body["mode"] == "events" and body["bucket"] is None and body["total"] == 29
    lanes = {lane["name"]: lane["events"] for lane in body["lanes"]}
    assert [lane["name"] for lane in body["lanes"]] == ["linux-01", "linux-02", "fleet"]
    assert len(lanes["linux-01"]) == 15 and len(lanes["linux-02"]) == 1 and len(lanes["fleet"]) == 14


def test_auto_switches_to_buckets_past_the_threshold(client, auth, app, history):
    app.config["TIMELINE_MAX_EVENTS"] = 10
    body = get(client, auth, RANGE)
    assert body["mode"] == "buckets" and body["bucket"] == "day" and body["total"] == 29
    lanes = {lane["name"]: lane["buckets"] for lane in body["lanes"]}
    assert sum(b["count"] for b in lanes["linux-01"]) == 15
    first_day = [b for b in lanes["linux-01"] if b["start"].startswith("2026-11-02")]
    assert first_day == [{"start": "2026-11-02T00:00:00+00:00", "severity": "high", "count": 1}]


@pytest.mark.parametrize("bucket, starts", [
    ("week", {"2026-11-02T00:00:00+00:00", "2026-11-09T00:00:00+00:00"}),
    ("hour", {"2026-11-02T10:00:00+00:00"}),
])
def test_explicit_bucket_sizes(client, auth, history, bucket, starts):
    body = get(client, auth, RANGE + "&bucket=%s&agent=linux-01" % bucket)
    assert body["bucket"] == bucket
    assert [lane["name"] for lane in body["lanes"]] == ["linux-01"]
    got = {b["start"] for b in body["lanes"][0]["buckets"]}
    assert starts <= got if bucket == "hour" else got == starts


def test_filters_apply_to_the_timeline(client, auth, history):
    body = get(client, auth, RANGE + "&severity=high&bucket=none")
    assert body["total"] == 7 and [lane["name"] for lane in body["lanes"]] == ["linux-01"]


def test_bad_bucket_is_422(client, auth, history):
    response = client.get("/api/v1/timeline?bucket=month", headers=auth.headers())
    assert response.status_code == 422 and "bucket" in response.json["errors"]


@pytest.mark.parametrize("query", ["", "&bucket=day", "&lane_limit=1&detail=summary", "&lane_limit=1&bucket=hour&detail=summary",
                                   "&lane_limit=2&lane_order=activity"])
def test_the_answer_is_what_its_schema_dumps(app, history, query):
    """as_json builds the answer directly (for speed); it must be exactly TimelineSchema's dump."""
    from werkzeug.datastructures import MultiDict

    from app.api.timeline import TimelineSchema, as_json, parse

    with connected(app):
        args = MultiDict([tuple(pair.split("=", 1)) for pair in (RANGE[1:] + query).split("&")])
        filters, lanes = parse(args)
        result = timeline.build(filters, bucket=filters["bucket"], max_events=10, lanes=lanes, detail=filters["detail"])
    assert as_json(result) == TimelineSchema().dump(result)


def test_lanes_are_paged_busiest_first_with_the_fleet_lane_on_every_page(client, auth, history):
    body = get(client, auth, RANGE + "&lane_limit=1&lane_order=activity&detail=summary")
    assert [lane["name"] for lane in body["lanes"]] == ["fleet", "linux-01"]
    assert body["lanes_total"] == 2 and body["lane_offset"] == 0 and body["lane_limit"] == 1
    assert body["markers"] == 14 + 15 and body["mode"] == "events"
    second = get(client, auth, RANGE + "&lane_limit=1&lane_order=activity&lane_offset=1&detail=summary")
    assert [lane["name"] for lane in second["lanes"]] == ["fleet", "linux-02"]
    event = second["lanes"][1]["events"][0]
    assert set(event) == {"id", "title", "type", "severity", "source", "occurred_at", "ended_at", "agents", "count",
                          "unplanned"}
    matched = get(client, auth, RANGE + "&lane_limit=5&lane=LINUX-0")  # the lane filter ignores case
    assert [lane["name"] for lane in matched["lanes"]] == ["fleet", "linux-01", "linux-02"]


def test_past_the_threshold_only_the_lanes_shown_count(client, auth, app, history):
    app.config["TIMELINE_MAX_EVENTS"] = 20
    every_lane = get(client, auth, RANGE)
    assert every_lane["mode"] == "buckets"  # 30 markers in all lanes
    paged = get(client, auth, RANGE + "&lane_limit=1&lane_order=name&lane_offset=1&detail=summary")
    assert paged["mode"] == "events" and paged["markers"] == 14 + 1  # fleet + linux-02: few enough to draw
    grouped = get(client, auth, RANGE + "&lane_limit=1&lane_order=activity&detail=summary")
    assert grouped["mode"] == "buckets" and grouped["bucket"] == "day" and grouped["markers"] == 29
    buckets = {lane["name"]: lane["buckets"] for lane in grouped["lanes"]}
    day = next(b for b in buckets["linux-01"] if b["start"].startswith("2026-11-05"))
    assert day == {"start": "2026-11-05T00:00:00+00:00", "severity": "low", "count": 2,
                   "counts": {"info": 1, "low": 1}}  # the worst severity, and each one's count


def test_intervals_overlapping_the_range_come_apart(client, auth, app, history):
    with connected(app):
        record_event({"title": "long maintenance", "type": "maintenance", "agents": ["linux-01"],
                      "occurred_at": "2026-10-25T00:00:00Z", "ended_at": "2026-11-03T00:00:00Z"}, Actor("t"))
        record_event({"title": "outage still going on", "type": "outage",
                      "occurred_at": "2026-09-01T00:00:00Z"}, Actor("t"))
        record_event({"title": "ended before the range", "type": "outage",
                      "occurred_at": "2026-10-20T00:00:00Z", "ended_at": "2026-10-21T00:00:00Z"}, Actor("t"))
    body = get(client, auth, RANGE + "&lane_limit=5&detail=summary")
    assert [e["title"] for e in body["intervals"]] == ["outage still going on", "long maintenance"]
    assert body["intervals"][0]["ended_at"] is None and body["intervals_cut"] is False


def test_a_range_from_year_one_is_answered(client, auth, history):
    """Intervals are looked for a while before ``from``: from the first days of year 1 that moment does not exist,
    and the answer is the range's events, not a 500."""
    body = get(client, auth, "?from=0001-01-02T16:55:51-12:00&to=0001-02-01T00:00:00Z")
    assert body["total"] == 0 and body["lanes"] == []


def test_summary_markers_say_which_changes_are_unplanned(client, auth, app):
    """detail=summary ships the unplanned flag the hover shows, as a boolean on both databases."""
    with connected(app):
        for source in ("poller", "manual"):
            record_event({"title": "by %s" % source, "type": "agent_config", "source": source,
                          "agents": ["linux-%s" % source], "occurred_at": (START + timedelta(days=1)).isoformat()},
                         Actor("t"))
    body = get(client, auth, RANGE + "&lane_limit=5&detail=summary")
    shown = [(e["title"], e["unplanned"]) for lane in body["lanes"] for e in lane["events"]
             if lane["name"] in ("linux-poller", "linux-manual")]
    assert sorted(shown) == [("by manual", False), ("by poller", True)]


def test_a_range_to_year_one_without_from_is_answered(client, auth, history):
    """Without ``from`` the range is the 30 days before ``to``, which in year 1 do not all exist."""
    assert get(client, auth, "?to=0001-01-02T03:38:36-01:00")["total"] == 0
