"""Swimlanes for the timeline: one lane per agent plus a "fleet" lane for events that name no agent.

Small ranges ship the events themselves; when a range holds more than ``max_events`` matches,
``bucket=auto`` ships per-lane, per-severity counts per hour/day/week instead, so a year of history
never sends 100k markers to a browser.
"""
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError
from peewee import JOIN, SQL, PostgresqlDatabase, fn

from app.db import database, from_db_time
from app.domain import filters as event_filters
from app.domain.events import with_links
from app.models import Agent, Event, EventAgent

FLEET_LANE = "fleet"
BUCKETS = ("auto", "none", "hour", "day", "week")
DEFAULT_SPAN = timedelta(days=30)
HARD_EVENT_CAP = 5000


def build(filters, bucket="auto", max_events=2000, now=None):
    """The timeline of events matching ``filters`` between ``from`` and ``to`` (default: the last 30 days)."""
    if bucket not in BUCKETS:
        raise ValidationError({"bucket": ["Must be one of: %s." % ", ".join(BUCKETS)]})
    now = now or datetime.now(timezone.utc)
    filters = dict(filters)
    filters["to"] = filters.get("to") or now
    filters["from_"] = filters.get("from_") or filters["to"] - DEFAULT_SPAN
    total = event_filters.matching(filters).count()
    size = bucket
    if bucket == "auto":
        size = "none" if total <= max_events else _auto_size(filters["to"] - filters["from_"])
    result = {"from": filters["from_"], "to": filters["to"], "total": total, "bucket": None if size == "none" else size}
    if size == "none":
        rows = list(event_filters.matching(filters).order_by(Event.occurred_at.desc(), Event.id.desc())
                    .limit(min(max_events, HARD_EVENT_CAP) if bucket == "auto" else HARD_EVENT_CAP))
        events = with_links(rows)
        result.update(mode="events", truncated=len(events) < total, lanes=_event_lanes(events))
    else:
        result.update(mode="buckets", truncated=False, lanes=_bucket_lanes(filters, size))
    return result


def _auto_size(span):
    if span <= timedelta(days=3):
        return "hour"
    if span <= timedelta(days=120):
        return "day"
    return "week"


def _event_lanes(events):
    lanes = {}
    for event in events:
        for name in event["agents"] or [FLEET_LANE]:
            lanes.setdefault(name, []).append(event)
    return [{"name": name, "events": lanes[name]} for name in _lane_order(lanes)]


def _bucket_lanes(filters, size):
    start = _bucket_start(size)
    lane = fn.COALESCE(Agent.name, FLEET_LANE)
    query = (event_filters.matching(filters)
             .select(lane.alias("lane"), Event.severity, start.alias("start"), fn.COUNT(Event.id).alias("n"))
             .join(EventAgent, JOIN.LEFT_OUTER, on=(EventAgent.event == Event.id))
             .join(Agent, JOIN.LEFT_OUTER, on=(Agent.id == EventAgent.agent))
             .group_by(lane, Event.severity, start)
             .order_by(lane, start)
             .tuples())
    if filters.get("agent") or filters.get("label"):
        # Only the asked-for agents' lanes, not the other agents an event also names.
        wanted = event_filters.agent_ids_of(filters)
        query = query.where(EventAgent.agent.in_(wanted))
    lanes = {}
    for name, severity, bucket_start, count in query:
        lanes.setdefault(name, []).append({"start": _as_utc(bucket_start), "severity": severity, "count": count})
    return [{"name": name, "buckets": lanes[name]} for name in _lane_order(lanes)]


def _bucket_start(size):
    if isinstance(database.obj, PostgresqlDatabase):
        return fn.date_trunc(size, Event.occurred_at)
    return {
        "hour": fn.strftime("%Y-%m-%d %H:00:00", Event.occurred_at),
        "day": fn.strftime("%Y-%m-%d 00:00:00", Event.occurred_at),
        # Monday of the event's week: forward to Sunday (or stay), then back six days.
        "week": fn.strftime("%Y-%m-%d 00:00:00", Event.occurred_at, SQL("'weekday 0'"), SQL("'-6 days'")),
    }[size]


def _as_utc(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return from_db_time(value)


def _lane_order(lanes):
    ordered = sorted((n for n in lanes if n != FLEET_LANE), key=str.lower)
    return ordered + ([FLEET_LANE] if FLEET_LANE in lanes else [])

