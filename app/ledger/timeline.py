"""Swimlanes for the timeline: one lane per agent plus a "fleet" lane for events that name no agent.

Small ranges ship the events themselves; when a range holds more than ``max_events`` matches,
``bucket=auto`` ships per-lane, per-severity counts per hour/day/week instead, so a year of history
never sends 100k markers to a browser. Day and week buckets over whole days read the per-day counts
the database keeps by triggers (TimelineCount, migration 0005) unless a filter needs the events.
"""
import gc
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError
from peewee import JOIN, Select, chunked, fn

from app import dialect
from app.db import database, from_db_time, to_db_time
from app.ledger import filters as event_filters
from app.ledger.events import with_links
from app.models import Agent, Event, EventAgent, TimelineCount, TimelineCountDelta

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


# The per-day counts answer time, agents (lanes) and severity; these other filters need the events themselves.
UNCOUNTED_FILTERS = ("type", "source", "tool", "toolchain", "tag", "q")


def _bucket_lanes(filters, size):
    # ~10^5 rows in, as many bucket dicts out, none of them cyclic: the collector would only walk them over
    # and over while they are made (~10% of a 90-day timeline at 1M events, bench/README.md).
    with _collector_paused():
        return _bucket_lanes_of(filters, size)


@contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bucket_lanes_of(filters, size):
    wanted = event_filters.agent_ids_of(filters)  # only the asked-for agents' lanes, not every agent an event names
    whole_days = _whole_days(filters) if size in ("day", "week") and _counted(filters) else None
    if whole_days is None:
        rows = _grouped(filters, size, wanted)
    else:
        first, last = whole_days
        # The part-days at either end come from the events, the whole days between from the counts.
        rows = (_grouped(dict(filters, to=first), size, wanted) + _counted_rows(filters, first, last, size, wanted)
                + _grouped(dict(filters, from_=last), size, wanted))
    by_agent = defaultdict(list)
    bucket_start = when = None
    for start_value, agent, severity, count in rows:
        if start_value != bucket_start:  # rows come by start: convert each start once, not once per bucket
            bucket_start, when = start_value, _as_utc(start_value)
        # The events' missing link (None) and the counts' lane 0 are both the fleet lane.
        by_agent[agent or TimelineCount.FLEET_LANE].append({"start": when, "severity": severity, "count": count})
    names = _agent_names(set(by_agent) - {TimelineCount.FLEET_LANE})
    agent_named_fleet = FLEET_LANE in names.values()
    names[TimelineCount.FLEET_LANE] = FLEET_LANE
    lanes = {}
    for agent, buckets in by_agent.items():
        lanes.setdefault(names[agent], []).extend(buckets)
    if whole_days is not None and size == "week":  # a week cut by from/to has counts from both sources
        lanes = {name: _merged(buckets) for name, buckets in lanes.items()}
    elif agent_named_fleet and FLEET_LANE in lanes:
        lanes[FLEET_LANE] = _merged(lanes[FLEET_LANE])  # an agent named "fleet" shares the fleet lane
    return [{"name": name, "buckets": lanes[name]} for name in _lane_order(lanes)]


def _counted(filters):
    return not any(filters.get(name) for name in UNCOUNTED_FILTERS) and filters.get("planned") is None


def _whole_days(filters):
    """(first midnight at or after ``from``, last midnight at or before ``to``), or None when no whole day lies between."""
    first = _midnight(filters["from_"])
    if first < filters["from_"]:
        first += timedelta(days=1)
    last = _midnight(filters["to"])
    return (first, last) if first < last else None


def _midnight(moment):
    moment = moment.astimezone(timezone.utc)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _monday(midnight):
    return (midnight - timedelta(days=midnight.weekday())).date()


def _counted_rows(filters, first, last, size, wanted):
    """(start, lane, severity, count) of the whole days [first, last) from the trigger-kept counts."""
    counts = _counts_in(TimelineCount, filters, first, last, size, wanted)
    deltas = _counts_in(TimelineCountDelta, filters, first, last, size, wanted) if fold_needed() else None
    if deltas is not None and deltas.exists():
        # Deltas the worker has not folded yet: add them in (one more grouping, on PostgreSQL only).
        both = (counts + deltas).alias("counts")
        total = fn.SUM(both.c.n)
        query = (Select([both], [both.c.start, both.c.lane, both.c.severity, total])
                 .group_by(both.c.start, both.c.lane, both.c.severity).having(total > 0)
                 .order_by(both.c.start, both.c.lane, both.c.severity))
        return database.execute(query).fetchall()
    if size == "day":  # one row per key already, in the primary key's order
        query = counts.where(TimelineCount.n > 0).order_by(TimelineCount.day, TimelineCount.lane,
                                                           TimelineCount.severity)
    else:  # along the (week, lane, severity) index: grouped without a sort
        week = TimelineCount.week
        query = (counts.select(week, TimelineCount.lane, TimelineCount.severity, fn.SUM(TimelineCount.n))
                 .where(TimelineCount.n > 0)
                 .group_by(week, TimelineCount.lane, TimelineCount.severity)
                 .order_by(week, TimelineCount.lane, TimelineCount.severity))
    return database.execute(query).fetchall()


def _counts_in(model, filters, first, last, size, wanted):
    """(start, lane, severity, n) rows of ``model`` for the whole days [first, last), ungrouped."""
    start = model.day if size == "day" else model.week
    query = model.select(start.alias("start"), model.lane, model.severity, model.n).where(
        model.day >= first.date(), model.day < last.date())
    if size == "week":  # lets the (week, lane, severity) index narrow the scan
        query = query.where(model.week >= _monday(first), model.week <= _monday(last - timedelta(days=1)))
    if filters.get("severity"):
        query = query.where(model.severity.in_(filters["severity"]))
    if wanted is not None:
        query = query.where(model.lane.in_(wanted))
    return query


def fold_needed():
    """Whether this database's triggers write deltas that ``fold_counts`` must move in (PostgreSQL)."""
    return dialect.counts_are_deltas()


def fold_counts():
    """PostgreSQL: move the committed count deltas into the counts (the worker does this every minute);
    returns how many counters changed. SQLite's triggers update the counts in place: nothing to do."""
    with database.atomic():
        return dialect.fold_counts()


def _grouped(filters, size, wanted):
    """(start, agent id or None, severity, count) grouped from the matching events themselves."""
    # A 90-day range of a busy fleet is ~10^5 (event, agent) rows (bench/README.md), so per row as
    # little as possible: grouped by agent id (NULL: the fleet lane) with names looked up once
    # afterwards, and the driver's rows read as they are (every value is already int, str or the
    # bucket start). Grouped and ordered alike, so SQLite needs no second sort; each lane's buckets
    # come out by start, then severity.
    if filters["from_"] >= filters["to"]:
        return []
    start = _bucket_start(size)
    linked = EventAgent.event == Event.id
    if dialect.narrows_links_by_time():
        # The junction's copy of occurred_at (kept equal to the event's, as filters._linked relies on) narrows
        # the links to the range first, instead of every link.
        linked &= ((EventAgent.occurred_at >= to_db_time(filters["from_"]))
                   & (EventAgent.occurred_at < to_db_time(filters["to"])))
    query = (event_filters.matching(filters)
             .select(start.alias("start"), EventAgent.agent, Event.severity, fn.COUNT(Event.id).alias("n"))
             .join(EventAgent, JOIN.LEFT_OUTER, on=linked)
             .group_by(start, EventAgent.agent, Event.severity)
             .order_by(start, EventAgent.agent, Event.severity))
    if wanted is not None:
        query = query.where(EventAgent.agent.in_(wanted))
    return database.execute(query).fetchall()


def recount():
    """Refill the per-day counts from the events, as migration 0005 did (after a bulk load with triggers off)."""
    with database.atomic():
        TimelineCountDelta.delete().execute()
        TimelineCount.delete().execute()
        dialect.recount()


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
    return dialect.hour_day_or_week(size, Event.occurred_at)


def _as_utc(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif not isinstance(value, datetime):  # a DATE column (the counts) on PostgreSQL
        value = datetime(value.year, value.month, value.day)
    return from_db_time(value)


def _lane_order(lanes):
    ordered = sorted((n for n in lanes if n != FLEET_LANE), key=str.lower)
    return ordered + ([FLEET_LANE] if FLEET_LANE in lanes else [])

