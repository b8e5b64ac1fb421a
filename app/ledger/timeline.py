"""Swimlanes for the timeline: one lane per agent plus a "fleet" lane for events that name no agent.

One builder serves the API (GET /api/v1/timeline) and the page (/). A range that holds few markers (an event drawn
in each of its lanes is a marker) ships the events themselves; past ``max_events`` markers in the lanes shown,
``bucket=auto`` ships per-lane, per-severity counts per hour/day/week instead (app.ledger.buckets), so a year of
history never sends 100k markers to a browser. Lanes can be paged (``Lanes``: offset, limit, order by activity in
the range or by name, a name filter): the markers that count are those of the lanes shown, so 25 busy agents of a
90-day range may still come as single events while all 290 would not. Outages and maintenance (events with an
``ended_at``, or ongoing ones without) are listed apart as ``intervals`` when they overlap the range, also when
they began before it.
"""
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError
from peewee import SQL, fn

from app import dialect
from app.db import chunks, from_db_time, to_db_time
from app.ledger import buckets
from app.ledger import filters as event_filters
from app.ledger.events import with_links
from app.models import SEVERITIES, Agent, Event, EventAgent, TimelineCount

FLEET_LANE = buckets.FLEET_LANE
BUCKETS = ("auto", "none", "hour", "day", "week")
LANE_ORDERS = ("name", "activity")
DETAILS = ("full", "summary")
DEFAULT_SPAN = timedelta(days=30)
HARD_EVENT_CAP = 5000
BUCKET_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400}
# Ended intervals that began this long before the range are still looked for; ongoing ones (no end yet) however
# long ago they began. A longer lookback reads more of the interval index for every range.
INTERVAL_LOOKBACK = timedelta(days=30)
INTERVAL_CAP = 200
INTERVAL_TYPES = ("outage", "maintenance")
SUMMARY = ("id", "title", "type", "severity", "source", "occurred_at", "ended_at", "agents", "count", "unplanned")
SUMMARY_COLUMNS = ("id", "title", "type", "severity", "source", "occurred_at", "ended_at", "count", "unplanned")


@dataclass(frozen=True)
class Lanes:
    """Which lanes to show: ``limit`` None shows every lane (and then ``order`` name puts the fleet lane last, as
    the API always did); with a limit, the fleet lane comes first and on every page, beside ``limit`` agents."""

    offset: int = 0
    limit: int | None = None
    order: str = "name"
    match: str | None = None

    @property
    def paged(self):
        return self.limit is not None or bool(self.match)


def build(filters, bucket="auto", max_events=2000, now=None, lanes=Lanes(), detail="full", span=DEFAULT_SPAN):
    """The timeline of events matching ``filters`` between ``from`` and ``to`` (default: the ``span`` before now).

    ``max_events``: the most markers ``bucket=auto`` draws as single events in the lanes shown. ``detail``
    ``summary`` ships only what a chart needs of each event (SUMMARY)."""
    if bucket not in BUCKETS:
        raise ValidationError({"bucket": ["Must be one of: %s." % ", ".join(BUCKETS)]})
    now = now or datetime.now(timezone.utc)
    filters = dict(filters)
    filters["to"] = filters.get("to") or now
    filters["from_"] = filters.get("from_") or _earlier(filters["to"], span)
    total = event_filters.matching(filters).count()
    result = {"from": filters["from_"], "to": filters["to"], "now": now, "total": total, "bucket": None,
              "lane_order": lanes.order, "lane_offset": lanes.offset, "lane_limit": lanes.limit}
    if bucket == "none" or (bucket == "auto" and total <= max_events):
        events = _newest(event_filters.matching(filters), HARD_EVENT_CAP if bucket == "none" else max_events, detail)
        by_lane = _event_lanes(events)
        shown, matched = _shown(Counter({name: len(items) for name, items in by_lane.items()}), lanes)
        result.update(mode="events", truncated=len(events) < total, lanes_total=matched,
                      lanes=[{"name": name, "events": _dump(by_lane.get(name, []), detail)} for name in shown])
        result["markers"] = sum(len(lane["events"]) for lane in result["lanes"])
    else:
        size = bucket if bucket != "auto" else _auto_size(filters["to"] - filters["from_"], lanes.paged)
        activity, lane_ids = buckets.totals(filters)
        shown, matched = _shown(Counter(activity), lanes)
        markers = sum(activity.get(name, 0) for name in shown)
        result.update(markers=markers, lanes_total=matched)
        if bucket == "auto" and lanes.paged and markers <= max_events:
            # Few enough markers in the lanes shown: their events, not counts.
            query = event_filters.matching(filters).where(_in_lanes(filters, shown))
            events = _newest(query, max_events, detail)
            by_lane = _event_lanes(events)
            result.update(mode="events", truncated=False,
                          lanes=[{"name": name, "events": _dump(by_lane.get(name, []), detail)} for name in shown])
        else:
            if lanes.paged:  # count only the lanes shown
                ids = [i for name in shown for i in lane_ids.get(name, ()) if i != TimelineCount.FLEET_LANE]
                wanted = buckets.wanted_lanes(filters, ids, fleet=FLEET_LANE in shown)
            else:
                wanted = None
            counted = {lane["name"]: lane["buckets"] for lane in buckets.lanes(filters, size, wanted)}
            result.update(mode="buckets", bucket=size, truncated=False,
                          lanes=[{"name": name, "buckets": _buckets(counted.get(name, []), detail)} for name in shown])
    if lanes.paged:
        # In groups, an interval shorter than a group is in its group's count: only longer ones are bars.
        shortest = BUCKET_SECONDS[result["bucket"]] if result["mode"] == "buckets" else 0
        found = _intervals(filters, [lane["name"] for lane in result["lanes"]], shortest, detail)
        result.update(intervals=_dump(found, detail), intervals_cut=len(found) >= INTERVAL_CAP)
    return result


def _auto_size(span, few_lanes=False):
    """Buckets a range's lanes are counted in: finer when only a page of lanes is shown."""
    if span <= timedelta(days=10 if few_lanes else 3):
        return "hour"
    if span <= timedelta(days=180 if few_lanes else 120):
        return "day"
    return "week"


def _buckets(counted, detail):
    """Per-severity buckets as counted (``full``), or one per start (``summary``): its ``count``, its worst
    ``severity`` and ``counts`` per severity."""
    if detail == "full":
        return counted
    merged = {}
    for bucket in counted:
        entry = merged.setdefault(bucket["start"], {"start": bucket["start"], "severity": bucket["severity"],
                                                    "count": 0, "counts": {}})
        entry["count"] += bucket["count"]
        entry["counts"][bucket["severity"]] = entry["counts"].get(bucket["severity"], 0) + bucket["count"]
        if SEVERITIES.index(bucket["severity"]) > SEVERITIES.index(entry["severity"]):
            entry["severity"] = bucket["severity"]
    return list(merged.values())


def _newest(query, limit, detail):
    """The ``limit`` newest events of ``query`` as dicts: whole (``full``), or the SUMMARY fields only."""
    query = query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)
    return with_links(list(query)) if detail == "full" else _summaries(query)


def _summaries(query):
    """Events as SUMMARY dicts, read as plain rows: a chart needs no description, changes or metadata, and
    building models with their JSON fields cost more than the query (bench/README.md, "Pages")."""
    rows = list(query.select(*(getattr(Event, name) for name in SUMMARY_COLUMNS)).dicts())
    agents = {}
    ids = [row["id"] for row in rows]
    for chunk in chunks(ids):
        for event_id, name in (EventAgent.select(EventAgent.event, Agent.name)
                               .join(Agent, on=(Agent.id == EventAgent.agent))
                               .where(EventAgent.event.in_(chunk)).order_by(Agent.name).tuples()):
            agents.setdefault(event_id, []).append(name)
    for row in rows:
        row["occurred_at"], row["ended_at"] = from_db_time(row["occurred_at"]), from_db_time(row["ended_at"])
        row["agents"] = agents.get(row["id"], [])
        row["unplanned"] = bool(row["unplanned"])  # SQLite's driver gives 0 or 1
    return rows


def _event_lanes(events):
    lanes = {}
    for event in events:
        for name in event["agents"] or [FLEET_LANE]:
            lanes.setdefault(name, []).append(event)
    return lanes


def _shown(activity, lanes):
    """(the lane names to show, in order; how many agent lanes match) out of {name: markers in the range}."""
    names = [name for name in activity if name != FLEET_LANE]
    if lanes.match:
        wanted = lanes.match.lower()
        names = [name for name in names if wanted in name.lower()]
    if lanes.order == "activity":
        names.sort(key=lambda name: (-activity[name], name.lower(), name))
    else:
        names.sort(key=lambda name: (name.lower(), name))
    if not lanes.paged:
        return names + ([FLEET_LANE] if FLEET_LANE in activity else []), len(names)
    end = lanes.offset + lanes.limit if lanes.limit is not None else None
    return [FLEET_LANE] + names[lanes.offset:end], len(names)


def _in_lanes(filters, shown):
    """The events drawn in the ``shown`` lanes: linked to one of their agents in the range, or to no agent when
    the fleet lane is shown."""
    names = [name for name in shown if name != FLEET_LANE]
    links = EventAgent.select(EventAgent.event).join(Agent, on=(Agent.id == EventAgent.agent)).where(
        Agent.name.in_(names), EventAgent.occurred_at >= to_db_time(filters["from_"]),
        EventAgent.occurred_at < to_db_time(filters["to"]))
    condition = Event.id.in_(links) if names else SQL("1 = 0")
    if FLEET_LANE in shown:
        condition |= ~fn.EXISTS(EventAgent.select(SQL("1")).where(EventAgent.event == Event.id))
    return condition


def _dump(events, detail):
    if detail == "full":
        return events
    return [{key: event.get(key) for key in SUMMARY} for event in events]


def _earlier(moment, span):
    """``moment`` - ``span``, held at the earliest moment a datetime holds (a ``from`` or ``to`` in year 1)."""
    try:
        return moment - span
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc)


def _intervals(filters, shown, shortest=0, detail="full"):
    """Events with an end (or ongoing outages and maintenance, which have none yet) in the ``shown`` lanes that
    overlap [from, to), oldest first: those that began in the range or up to INTERVAL_LOOKBACK before it and end
    after it begins, and those still going on however long ago they began."""
    start, end = to_db_time(filters["from_"]), to_db_time(filters["to"])
    untimed = dict(filters, from_=None, to=None)  # the range is the conditions below, on the partial indexes
    earliest = _earlier(filters["from_"], INTERVAL_LOOKBACK)
    lanes = _in_lanes(dict(filters, from_=earliest), shown)
    # "ended_at IS NOT NULL" as written in the partial index of migration 0010, so both databases can use it.
    ended = (event_filters.matching(untimed)
             .where(SQL('"t1"."ended_at" IS NOT NULL'), Event.ended_at > start, Event.occurred_at < end,
                    Event.occurred_at >= to_db_time(earliest), lanes))
    if shortest:
        ended = ended.where(dialect.lasts_at_least(Event.occurred_at, Event.ended_at, shortest))
    open_ids = dialect.open_interval_ids(end, INTERVAL_TYPES, INTERVAL_CAP * 5)
    going_on = (event_filters.matching(untimed).where(Event.id.in_(open_ids), lanes)
                .order_by(Event.occurred_at, Event.id).limit(INTERVAL_CAP))
    rows = _newest(going_on, INTERVAL_CAP, detail) if open_ids else []
    rows += _newest(ended, INTERVAL_CAP - len(rows), detail) if len(rows) < INTERVAL_CAP else []
    return sorted(rows, key=lambda e: (e["occurred_at"], e["id"]))
