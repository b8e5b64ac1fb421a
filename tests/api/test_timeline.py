"""GET /api/v1/timeline: lanes per agent, raw events for small ranges, bucket counts for large ones."""
from datetime import datetime, timedelta, timezone

import pytest

from app.accounts.audit import Actor
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
