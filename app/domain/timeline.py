"""Swimlanes for the timeline: one lane per agent plus a "fleet" lane for events that name no agent.

Small ranges ship the events themselves; when a range holds more than ``max_events`` matches,
``bucket=auto`` ships per-lane, per-severity counts per hour/day/week instead, so a year of history
never sends 100k markers to a browser.
"""
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError
from peewee import JOIN, SQL, PostgresqlDatabase, chunked, fn

from app.db import database, from_db_time, to_db_time
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
    # A 90-day range of a busy fleet is ~10^5 (event, agent) rows (bench/README.md), so per row as
    # little as possible: grouped by agent id (NULL: the fleet lane) with names looked up once
    # afterwards, and the driver's rows read as they are (every value is already int, str or the
    # bucket start). Grouped and ordered alike, so SQLite needs no second sort; each lane's buckets
    # come out by start, then severity.
    start = _bucket_start(size)
    linked = EventAgent.event == Event.id
    if isinstance(database.obj, PostgresqlDatabase):
        # PostgreSQL hash-joins the links: the junction's copy of occurred_at (kept equal to the event's, as
        # filters._linked relies on) narrows them to the range first, ~10^5 rows instead of every link.
        # SQLite looks each event's links up on the (event, agent) key, which this would only slow down.
        linked &= ((EventAgent.occurred_at >= to_db_time(filters["from_"]))
                   & (EventAgent.occurred_at < to_db_time(filters["to"])))
    query = (event_filters.matching(filters)
             .select(start.alias("start"), EventAgent.agent, Event.severity, fn.COUNT(Event.id).alias("n"))
             .join(EventAgent, JOIN.LEFT_OUTER, on=linked)
             .group_by(start, EventAgent.agent, Event.severity)
             .order_by(start, EventAgent.agent, Event.severity))
    if filters.get("agent") or filters.get("label"):
        # Only the asked-for agents' lanes, not the other agents an event also names.
        wanted = event_filters.agent_ids_of(filters)
        query = query.where(EventAgent.agent.in_(wanted))
    rows = database.execute(query).fetchall()
    names = _agent_names({agent for _, agent, _, _ in rows if agent is not None})
    names[None] = FLEET_LANE
    lanes = {}
    bucket_start = when = None
    for start_value, agent, severity, count in rows:
        if start_value != bucket_start:  # rows come by start: convert each start once, not once per bucket
            bucket_start, when = start_value, _as_utc(start_value)
        lanes.setdefault(names[agent], []).append({"start": when, "severity": severity, "count": count})
    if FLEET_LANE in lanes and list(names.values()).count(FLEET_LANE) > 1:
        lanes[FLEET_LANE] = _merged(lanes[FLEET_LANE])  # an agent named "fleet" shares the fleet lane
    return [{"name": name, "buckets": lanes[name]} for name in _lane_order(lanes)]


def _merged(buckets):
    counts = {}
    for bucket in buckets:
        key = (bucket["start"], bucket["severity"])
        counts[key] = counts.get(key, 0) + bucket["count"]
    return [{"start": start, "severity": severity, "count": count} for (start, severity), count in sorted(counts.items())]


def _agent_names(ids):
    names = {}
    for chunk in chunked(sorted(ids), 500):
        names.update(Agent.select(Agent.id, Agent.name).where(Agent.id.in_(chunk)).tuples())
    return names


def _bucket_start(size):
    if isinstance(database.obj, PostgresqlDatabase):
        return fn.date_trunc(size, Event.occurred_at)
    # SQLite holds occurred_at as peewee writes naive UTC: "YYYY-MM-DD HH:MM:SS[.ffffff]" (app.db.to_db_time).
    # Cutting that text gives the same hour and day starts as strftime() at a fraction of its cost per row.
    # Constants are literals, not parameters, so SQLite sees GROUP BY and ORDER BY name the same
    # expression and sorts once.
    return {
        "hour": fn.substr(Event.occurred_at, SQL("1"), SQL("13")).concat(SQL("':00:00'")),
        "day": fn.substr(Event.occurred_at, SQL("1"), SQL("10")).concat(SQL("' 00:00:00'")),
        # Monday of the event's week: forward to Sunday (or stay), then back six days.
        "week": fn.strftime(SQL("'%Y-%m-%d 00:00:00'"), Event.occurred_at, SQL("'weekday 0'"), SQL("'-6 days'")),
    }[size]


def _as_utc(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return from_db_time(value)


def _lane_order(lanes):
    ordered = sorted((n for n in lanes if n != FLEET_LANE), key=str.lower)
    return ordered + ([FLEET_LANE] if FLEET_LANE in lanes else [])

