"""Planned vs unplanned changes: the "someone edited an agent by hand" alarm.

A change is **unplanned** when a poller or a webhook detected it (source ``poller`` or ``webhook``; notes and
outages are not changes anyone intends) and no **intent** was recorded for it: no event from a pipeline, a person
or an import (source ``pipeline``, ``manual`` or ``import``, any type) on one of its agents, tools or toolchains
within the window before it (``CHANGETRACKER_UNPLANNED_WINDOW_MINUTES``, default 120).

The flag is stored on the event (``event.unplanned``) and kept by the ledger's writes, inside their transaction:
``flags`` gives new events theirs before they are inserted, ``settle_new`` then clears the flag of the changes a
new intent explains, ``settle_edit`` and ``settle_delete`` settle them again when an edit or a deletion moves an
intent or a change. Names are matched as recorded: an intent for tool ``jenkins-core`` explains the core update the plugin
poller records on that tool.
"""
from bisect import bisect_left
from datetime import datetime, timedelta

from peewee import SQL

from app import dialect
from app.db import chunks, database, to_db_time
from app.models import Agent, Event, EventAgent, EventTool, EventToolchain, Tool, Toolchain

DETECTED_SOURCES = ("poller", "webhook")
INTENT_SOURCES = ("pipeline", "manual", "import")
NOT_CHANGES = ("note", "outage")
DEFAULT_WINDOW = timedelta(hours=2)
# (event dict key, junction, its entity column, catalogue)
KINDS = (("agents", EventAgent, EventAgent.agent, Agent),
         ("tools", EventTool, EventTool.tool, Tool),
         ("toolchains", EventToolchain, EventToolchain.toolchain, Toolchain))

_settings = {"window": DEFAULT_WINDOW}


def configure(window):
    """Set the window in which an intent explains a detected change (the app's UNPLANNED_WINDOW_MINUTES)."""
    if window <= timedelta(0):
        raise ValueError("The unplanned window must be positive, not %s." % window)
    _settings["window"] = window


def window():
    return _settings["window"]


def is_detected_change(event):
    """A change the flag applies to: detected by a machine, and naming something an intent can name too."""
    return event["source"] in DETECTED_SOURCES and event["type"] not in NOT_CHANGES and _names(event)


def is_intent(event):
    return event["source"] in INTENT_SOURCES


def flags(events):
    """Before ``events`` (dicts with ``source``, ``type``, ``occurred_at`` and names) are inserted together, in their
    transaction: whether each is unplanned, by the intents recorded so far and those among ``events``. One query."""
    _take_turns(events)
    changes = [e for e in events if is_detected_change(e)]
    unexplained = _unexplained(changes, [e for e in events if is_intent(e)])
    unexplained = {id(change) for change in unexplained}
    return [id(e) in unexplained for e in events]


def settle_new(events):
    """After ``events`` (event dicts, just inserted with their flags) are written, in the same transaction: clear
    the flag of the changes recorded earlier that the new intents explain."""
    intents = [e for e in events if is_intent(e) and _names(e)]
    if intents:
        _set(sorted(_changes_after(intents, unplanned_only=True)), False)


def settle_edit(before, after):
    """After an edit moved ``before`` to ``after`` (the event's dicts), in the same transaction: its own flag, and
    those of the changes it explained or now explains when it is an intent. Sets ``after["unplanned"]``."""
    _take_turns([before, after])
    if is_intent(before) or is_intent(after):
        _refresh(_changes_after([e for e in (before, after) if is_intent(e)], unplanned_only=False) - {after["id"]})
    after["unplanned"] = is_detected_change(after) and bool(_unexplained([after]))
    if after["unplanned"] != before["unplanned"]:
        _set([after["id"]], after["unplanned"])


def settle_delete(event):
    """After an intent was deleted, in the same transaction: the changes it explained may be unplanned again."""
    if is_intent(event):
        _take_turns([event])
        _refresh(_changes_after([event], unplanned_only=False))


def _refresh(ids):
    """Recompute the flag of the detected changes among ``ids`` from the ledger as it is."""
    rows = {}
    for chunk in chunks(sorted(ids)):
        query = (Event.select(Event.id, Event.source, Event.type, Event.occurred_at, Event.unplanned)
                 .where(Event.id.in_(chunk)).tuples())
        rows.update((row[0], dict(zip(("id", "source", "type", "occurred_at", "unplanned"), row))) for row in query)
    for key, junction, column, catalogue in KINDS:
        for chunk in chunks(sorted(rows)):
            query = (junction.select(junction.event, catalogue.name).join(catalogue, on=(catalogue.id == column))
                     .where(junction.event.in_(chunk)).tuples())
            for event_id, name in query:
                rows[event_id].setdefault(key, []).append(name)
    changes = [row for row in rows.values() if is_detected_change(row)]
    unexplained = {change["id"] for change in _unexplained(changes)}
    _set([c["id"] for c in changes if c["id"] in unexplained and not c["unplanned"]], True)
    _set([row["id"] for row in rows.values() if row["id"] not in unexplained and row["unplanned"]], False)


def _unexplained(changes, coming=()):
    """The ``changes`` (dicts with occurred_at and names) with no intent on a shared name within the window before
    them: no intent in the ledger, nor among the ``coming`` ones about to be recorded with them."""
    if not changes:
        return []
    span = window()
    times = [_naive(c["occurred_at"]) for c in changes]
    intents = _times_by_name(coming, into=_linked_times(changes, min(times) - span, max(times)))
    return [change for change, at in zip(changes, times)
            if not any(_any_between(intents.get((key, name), ()), at - span, at)
                       for key, _, _, _ in KINDS for name in change.get(key, ()))]


def _changes_after(intents, unplanned_only):
    """Ids of detected changes (only the flagged ones with ``unplanned_only``) sharing a name with one of
    ``intents`` within the window after it: the changes those intents explain."""
    span = window()
    times = [_naive(i["occurred_at"]) for i in intents]
    linked = _linked_changes(intents, min(times), max(times) + span, unplanned_only)
    starts = _times_by_name(intents)
    return {event_id for (key, name), pairs in linked.items() for event_id, at in pairs
            if _any_between(starts.get((key, name), ()), at - span, at)}


def _times_by_name(events, into=None):
    """{(key, name): sorted occurred_at} of the names of ``events``, merged into ``into``'s lists (e.g. what
    _linked_times found), for bisecting: one sort per name, where checking each change against each intent
    was quadratic in a big import (40,000 rows: 14.8 s, now 4.8 s)."""
    found = {} if into is None else into
    for event in events:
        at = _naive(event["occurred_at"])
        for key, _, _, _ in KINDS:
            for name in event.get(key, ()):
                found.setdefault((key, name), []).append(at)
    for times in found.values():
        times.sort()
    return found


def _linked_times(events, lo, hi):
    """{(key, name): [occurred_at]} of intents in [lo, hi] naming a name of ``events``, unsorted: one query (a UNION
    ALL over the agent, tool and toolchain links) for the usual handful of names."""
    found = {}
    for key, name, at in _linked(_intents_union, events, lo, hi, INTENT_SOURCES):
        found.setdefault((key, name), []).append(_naive(_moment(at)))
    return found


def _linked_changes(events, lo, hi, unplanned_only):
    """{(key, name): [(event id, occurred_at)]} of detected changes in [lo, hi] naming a name of ``events``: one
    query, as _linked_times."""
    found = {}
    for key, name, event_id, at in _linked(_changes_union, events, lo, hi, DETECTED_SOURCES + NOT_CHANGES,
                                           unplanned_only):
        found.setdefault((key, name), []).append((event_id, _naive(_moment(at))))
    return found


def _linked(build, events, lo, hi, constants, *options):
    """Rows of the UNION ALL ``build`` makes for the names of ``events``, 500 names per part at most. Its text is
    rendered once per shape (the number of names of each kind; dialect.statement): recording runs it for every
    event, and building it through peewee cost more than the rest of recording."""
    shape, parameters = [], []
    for index, (key, _, column, _) in enumerate(KINDS):
        names = sorted({name for event in events for name in event.get(key, ())})
        for chunk in chunks(names):
            shape.append((index, len(chunk)))
            parameters += [*chunk, column.db_value(lo), column.db_value(hi), *constants]
    if not shape:
        return []
    return database.execute_sql(dialect.statement(build, tuple(shape), *options), parameters).fetchall()


def _intents_union(shape):
    """Intents naming a name in [lo, hi]; parameters per part: the names, lo, hi, then INTENT_SOURCES."""
    return _union(_part(KINDS[index], count).where(Event.source.in_(INTENT_SOURCES)) for index, count in shape)


def _changes_union(shape, unplanned_only):
    """Detected changes naming a name in [lo, hi] (only flagged ones with ``unplanned_only``); parameters per
    part: the names, lo, hi, DETECTED_SOURCES, then NOT_CHANGES."""
    parts = (_part(KINDS[index], count, Event.id)
             .where(Event.source.in_(DETECTED_SOURCES), Event.type.not_in(NOT_CHANGES)) for index, count in shape)
    return _union(part.where(Event.unplanned) if unplanned_only else part for part in parts)


def _part(kind, count, *columns):
    key, junction, column, catalogue = kind
    return (junction.select(SQL("'%s'" % key), catalogue.name, *columns, junction.occurred_at)
            .join(catalogue, on=(catalogue.id == column))
            .switch(junction).join(Event, on=(Event.id == junction.event))
            .where(catalogue.name.in_(["name"] * count), junction.occurred_at >= _ANY_TIME,
                   junction.occurred_at <= _ANY_TIME))


def _union(parts):
    query = None
    for part in parts:
        query = part if query is None else query + part  # UNION ALL
    return query


_ANY_TIME = datetime(2000, 1, 1)


def _any_between(ordered, lo, hi):
    index = bisect_left(ordered, lo)
    return index < len(ordered) and ordered[index] <= hi


def _set(ids, flag):
    for chunk in chunks(ids):
        Event.update(unplanned=flag).where(Event.id.in_(chunk)).execute()


def _names(event):
    return any(event.get(key) for key, _, _, _ in KINDS)


def _take_turns(events):
    """Writers naming the same agent, tool or toolchain settle one after the other (PostgreSQL), so a change and
    its intent recorded at the same moment cannot both miss each other."""
    dialect.serialise_all(sorted({"unplanned:%s:%s" % (key, name) for event in events
                                  for key, _, _, _ in KINDS for name in event.get(key, ())}))


def _naive(value):
    return to_db_time(value) if value.tzinfo else value


def _moment(value):
    """A time from a UNION, which SQLite hands back as text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value
