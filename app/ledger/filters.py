"""Event queries: the one place that turns filters, text search, sorting and cursors into SQL.

Shared by the API, the pages, CSV export and the timeline, so they always agree on what matches.
"""
import base64
import binascii
import json
import re
from datetime import datetime, timedelta

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from peewee import SQL, Case

from app import dialect
from app.db import from_db_time, to_db_time
from app.fields import NAME, Text, UtcDateTime, one_of
from app.models import (
    EVENT_TYPES,
    SEVERITIES,
    SOURCES,
    Agent,
    Event,
    EventAgent,
    EventTag,
    EventTool,
    EventToolchain,
    Tag,
    Tool,
    Toolchain,
)

SORTS = ("-occurred_at", "occurred_at", "severity", "-severity", "title")
REPEATABLE = ("agent", "label", "tool", "toolchain", "type", "severity", "source", "tag")
SINGLE = ("from", "to", "planned", "q", "sort", "limit", "cursor")
MAX_LIMIT = 500


class EventFilterSchema(Schema):
    """Query-string filters; repeatable ones arrive as lists (OR within, AND across)."""

    class Meta:
        unknown = EXCLUDE

    from_ = UtcDateTime(data_key="from", load_default=None)
    to = UtcDateTime(load_default=None)
    agent = fields.List(Text(validate=NAME), load_default=list)
    label = fields.List(Text(validate=NAME), load_default=list)
    tool = fields.List(Text(validate=NAME), load_default=list)
    toolchain = fields.List(Text(validate=NAME), load_default=list)
    tag = fields.List(Text(validate=validate.Length(min=1, max=100)), load_default=list)
    type = fields.List(Text(validate=one_of(EVENT_TYPES)), load_default=list)
    severity = fields.List(Text(validate=one_of(SEVERITIES)), load_default=list)
    source = fields.List(Text(validate=one_of(SOURCES)), load_default=list)
    planned = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "false: only unplanned changes (detected by a poller or webhook with no intent recorded "
                       "before them); true: everything else"})
    q = Text(load_default=None, validate=validate.Length(max=200))
    sort = Text(load_default="-occurred_at", validate=one_of(SORTS))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = Text(load_default=None)

    @validates_schema
    def _range(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("Must not be after 'to'.", "from")


class QueryArgs:
    """Query-string pairs read as ``parse`` reads them (``get``: the first value, ``getlist``: all of them), for
    callers that hold a query as text (saved searches) rather than a request's arguments."""

    def __init__(self, pairs):
        self._pairs = list(pairs)

    def get(self, name, default=None):
        return next((value for key, value in self._pairs if key == name), default)

    def getlist(self, name):
        return [value for key, value in self._pairs if key == name]


def parse(args, defaults=None, schema=EventFilterSchema, extra=()):
    """Filters from query-string arguments (anything with ``getlist`` and ``get``).

    ``schema`` may extend EventFilterSchema with single-valued ``extra`` arguments (e.g. ``bucket``).
    """
    raw = dict(defaults or {})
    for name in REPEATABLE:
        values = [v for v in args.getlist(name) if v != ""]
        if values:
            raw[name] = values
    for name in SINGLE + tuple(extra):
        if args.get(name) not in (None, ""):
            raw[name] = args.get(name)
    filters = schema().load(raw)
    if filters["cursor"]:
        filters["after"] = _decode_cursor(filters["cursor"], filters["sort"])
    return filters


def matching(filters):
    """A SELECT of events matching every filter (no order, no limit)."""
    query = Event.select()
    if filters.get("from_"):
        query = query.where(Event.occurred_at >= to_db_time(filters["from_"]))
    if filters.get("to"):
        query = query.where(Event.occurred_at < to_db_time(filters["to"]))
    for name, column in (("type", Event.type), ("severity", Event.severity), ("source", Event.source)):
        if filters.get(name):
            query = query.where(column.in_(filters[name]))
    if filters.get("agent") and not filters.get("label"):
        # Names resolved inside the query, as for tools and tags: one round trip fewer, and PostgreSQL
        # then drives a page from the junction's few rows instead of the window's events (bench/README.md).
        agent_ids = Agent.select(Agent.id).where(Agent.name.in_(filters["agent"]))
    else:
        agent_ids = agent_ids_of(filters)
    if agent_ids is not None:
        query = query.where(Event.id.in_(_linked(EventAgent, EventAgent.agent, agent_ids, filters)))
    for name, junction, column, catalogue in (("tool", EventTool, EventTool.tool, Tool),
                                              ("toolchain", EventToolchain, EventToolchain.toolchain, Toolchain),
                                              ("tag", EventTag, EventTag.tag, Tag)):
        if filters.get(name):
            ids = catalogue.select(catalogue.id).where(catalogue.name.in_(filters[name]))
            query = query.where(Event.id.in_(_linked(junction, column, ids, filters)))
    if filters.get("planned") is not None:
        # A bare column test, as the partial index event_unplanned_occurred_at is defined (migration 0006).
        query = query.where(~Event.unplanned if filters["planned"] else Event.unplanned)
    if filters.get("q"):
        query = query.where(_text_match(filters["q"]))
    return query


def page(filters):
    """(events, next_cursor): one page in the requested order, keyset-paginated."""
    sort = filters.get("sort", "-occurred_at")
    limit = filters.get("limit", 100)
    rows = list(ordered(filters).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = _encode_cursor(sort, rows[-1]) if more and rows else None
    return rows, cursor


def ordered(filters):
    """``matching(filters)`` in the requested sort, starting after ``filters["after"]`` (sort value, id) if given.

    The keyset walk behind ``page``; the CSV export uses it with its own columns and batch size.
    """
    sort = filters.get("sort", "-occurred_at")
    key, descending = _sort_key(sort)
    if filters.get("after") and key is Event.occurred_at and descending:
        # SQLite bounds an index range by one upper limit and takes `to` over the cursor's, so each page (each
        # export batch) read every newer event again; and the agent/tool/tag subqueries bound their junction
        # rows by `to` alone. An exclusive `to` one microsecond (the columns' resolution) above the cursor is
        # the cursor's own bound, in a form both use.
        below_cursor = from_db_time(filters["after"][0]) + timedelta(microseconds=1)
        filters = dict(filters, to=min(filters["to"], below_cursor) if filters.get("to") else below_cursor)
    query = matching(filters)
    if filters.get("after"):
        value, last_id = filters["after"]
        # The plain bound (key <= value) says nothing new, but an index can seek to it: without it
        # PostgreSQL reads every row before the cursor again on each page, so a long export went
        # quadratic (bench/README.md).
        if descending:
            query = query.where((key <= value) & ((key < value) | ((key == value) & (Event.id < last_id))))
        else:
            query = query.where((key >= value) & ((key > value) | ((key == value) & (Event.id > last_id))))
    order = (key.desc(), Event.id.desc()) if descending else (key.asc(), Event.id.asc())
    return query.order_by(*order)


def _sort_key(sort):
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "severity":
        return Case(Event.severity, [(s, i) for i, s in enumerate(SEVERITIES)], 0), descending
    return getattr(Event, name), descending


def _sort_value(sort, event):
    name = sort.lstrip("-")
    if name == "severity":
        return SEVERITIES.index(event.severity)
    if name == "occurred_at":
        return from_db_time(event.occurred_at).isoformat()
    return getattr(event, name)


def _encode_cursor(sort, event):
    raw = json.dumps([sort, _sort_value(sort, event), event.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor, sort):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(last_id, int):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": ["Not a cursor this API issued; start again without it."]}) from None
    if cursor_sort != sort:
        raise ValidationError({"cursor": ["This cursor belongs to sort=%s; keep the same sort while paging." % cursor_sort]})
    if sort.lstrip("-") == "occurred_at":
        try:
            value = to_db_time(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            raise ValidationError({"cursor": ["Not a cursor this API issued; start again without it."]}) from None
    return value, last_id


def agent_ids_of(filters):
    """Ids of the agents named or labelled in the filters; None when neither filter is given."""
    if not filters.get("agent") and not filters.get("label"):
        return None
    ids = set()
    if filters.get("agent"):
        ids.update(a for (a,) in Agent.select(Agent.id).where(Agent.name.in_(filters["agent"])).tuples())
    if filters.get("label"):
        wanted = set(filters["label"])
        # Labels live in a JSON list; fleets are thousands of agents at most, so match them here.
        ids.update(i for i, labels in Agent.select(Agent.id, Agent.labels).tuples()
                   if wanted & set(labels or ()))
    return sorted(ids) or [-1]


def _linked(junction, column, ids, filters):
    """Event ids linked to ``ids`` through ``junction``, narrowed by time on its (entity, occurred_at) index."""
    query = junction.select(junction.event).where(column.in_(ids))
    if filters.get("from_"):
        query = query.where(junction.occurred_at >= to_db_time(filters["from_"]))
    if filters.get("to"):
        query = query.where(junction.occurred_at < to_db_time(filters["to"]))
    return query


def _words(text):
    return re.findall(r"\w+", text.lower())[:20]


def _text_match(text):
    """Every word must appear; the last one may be a prefix (search as you type)."""
    words = _words(text)
    if not words:
        return SQL("1 = 0")
    return dialect.text_match(Event.title, Event.description, Event.metadata, Event.id, words)
