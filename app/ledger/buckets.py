"""The timeline's per-lane bucket counts: how many matching events fall in each hour, day or week of each lane
(an agent, or the fleet lane for events that name no agent), by severity.

Day and week buckets over whole days read the per-day counts the database keeps by triggers (TimelineCount,
migration 0005) unless a filter needs the events; part-days at either end, hour buckets and other filters group
the events themselves.
"""
import gc
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from peewee import JOIN, SQL, Select, fn

from app import dialect
from app.db import chunks, database, from_db_time, to_db_time
from app.ledger import filters as event_filters
from app.models import Agent, Event, EventAgent, TimelineCount, TimelineCountDelta

FLEET_LANE = "fleet"


# The per-day counts answer time, agents (lanes) and severity; these other filters need the events themselves.
UNCOUNTED_FILTERS = ("type", "source", "tool", "toolchain", "tag", "q")


@dataclass(frozen=True)
class Wanted:
    """The lanes to count: agents by id, and the fleet lane or not."""

    agent_ids: tuple
    fleet: bool


def wanted_lanes(filters, agent_ids=None, fleet=True):
    """The lanes ``filters`` allow (their agent/label filters), narrowed to ``agent_ids`` (and the fleet lane when
    ``fleet``) if given; None: every lane."""
    allowed = event_filters.agent_ids_of(filters)
    if agent_ids is None:
        return None if allowed is None else Wanted(tuple(allowed), False)
    ids = [i for i in agent_ids if allowed is None or i in allowed]
    return Wanted(tuple(ids), fleet and allowed is None)


def lanes(filters, size, wanted=None):
    """[{"name", "buckets": [{"start", "severity", "count"}]}] by lane name, the fleet lane last; ``wanted``
    (``wanted_lanes``): only those lanes, else every lane the filters allow."""
    # ~10^5 rows in, as many bucket dicts out, none of them cyclic: the collector would only walk them over
    # and over while they are made (~10% of a 90-day timeline at 1M events, bench/README.md).
    with _collector_paused():
        return _lanes_of(filters, size, wanted or wanted_lanes(filters))


def totals(filters):
    """({lane name: markers in the range}, {lane name: [lane ids]}): how busy each lane is (an event counts in each
    of its lanes), and which agent ids (TimelineCount.FLEET_LANE for the fleet) make it up."""
    wanted = wanted_lanes(filters)
    whole_days = _whole_days(filters) if _counted(filters) else None
    if whole_days is None:
        rows = _grouped(filters, None, wanted)
    else:
        first, last = whole_days
        rows = (_grouped(dict(filters, to=first), None, wanted) + _counted_totals(filters, first, last, wanted)
                + _grouped(dict(filters, from_=last), None, wanted))
    by_lane = defaultdict(int)
    for agent, count in rows:
        by_lane[agent or TimelineCount.FLEET_LANE] += count
    names = _agent_names(set(by_lane) - {TimelineCount.FLEET_LANE})
    names[TimelineCount.FLEET_LANE] = FLEET_LANE
    found, ids = defaultdict(int), defaultdict(list)
    for lane, count in by_lane.items():
        found[names[lane]] += count  # an agent named "fleet" shares the fleet lane
        ids[names[lane]].append(lane)
    return dict(found), dict(ids)


@contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _lanes_of(filters, size, wanted):
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
    ordered = sorted((name for name in lanes if name != FLEET_LANE), key=lambda name: (name.lower(), name))
    return [{"name": name, "buckets": lanes[name]} for name in ordered + [FLEET_LANE] if name in lanes]


def _counted(filters):
    # planned= needs each event's flag: the per-day counts do not keep it.
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


def _counted_totals(filters, first, last, wanted):
    """(lane, count) of the whole days [first, last) from the trigger-kept counts (and unfolded deltas)."""
    rows = []
    for model in (TimelineCount, TimelineCountDelta) if fold_needed() else (TimelineCount,):
        query = (model.select(model.lane, fn.SUM(model.n)).where(model.day >= first.date(), model.day < last.date())
                 .group_by(model.lane))
        if filters.get("severity"):
            query = query.where(model.severity.in_(filters["severity"]))
        if wanted is not None:
            query = query.where(_lane_in(model.lane, wanted, fleet_lane=TimelineCount.FLEET_LANE))
        rows.extend(database.execute(query).fetchall())
    return rows


def _lane_in(column, wanted, fleet_lane=None):
    """``column`` (an agent id; the fleet lane is ``fleet_lane``, or NULL) is one of the ``wanted`` lanes."""
    condition = column.in_(list(wanted.agent_ids)) if wanted.agent_ids else SQL("1 = 0")
    if wanted.fleet:
        condition |= (column == fleet_lane) if fleet_lane is not None else column.is_null()
    return condition


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
        query = query.where(_lane_in(model.lane, wanted, fleet_lane=TimelineCount.FLEET_LANE))
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
    """(start, agent id or None, severity, count) grouped from the matching events themselves; ``size`` None:
    (agent id or None, count), the whole range at once."""
    # A 90-day range of a busy fleet is ~10^5 (event, agent) rows (bench/README.md), so per row as
    # little as possible: grouped by agent id (NULL: the fleet lane) with names looked up once
    # afterwards, and the driver's rows read as they are (every value is already int, str or the
    # bucket start). Grouped and ordered alike, so SQLite needs no second sort; each lane's buckets
    # come out by start, then severity.
    if filters["from_"] >= filters["to"]:
        return []
    linked = EventAgent.event == Event.id
    if dialect.narrows_links_by_time():
        # The junction's copy of occurred_at (kept equal to the event's, as filters._linked relies on) narrows
        # the links to the range first, instead of every link.
        linked &= ((EventAgent.occurred_at >= to_db_time(filters["from_"]))
                   & (EventAgent.occurred_at < to_db_time(filters["to"])))
    if size is None:
        query = (event_filters.matching(filters).select(EventAgent.agent, fn.COUNT(Event.id))
                 .join(EventAgent, JOIN.LEFT_OUTER, on=linked).group_by(EventAgent.agent))
    else:
        start = _bucket_start(size)
        query = (event_filters.matching(filters)
                 .select(start.alias("start"), EventAgent.agent, Event.severity, fn.COUNT(Event.id).alias("n"))
                 .join(EventAgent, JOIN.LEFT_OUTER, on=linked)
                 .group_by(start, EventAgent.agent, Event.severity)
                 .order_by(start, EventAgent.agent, Event.severity))
    if wanted is not None:
        query = query.where(_lane_in(EventAgent.agent, wanted))
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
    for chunk in chunks(sorted(ids)):
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
