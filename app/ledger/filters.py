"""Event queries: the one place that turns filters, text search, sorting and cursors into SQL.

Shared by the API, the pages, CSV export and the timeline, so they always agree on what matches.
"""
import base64
import functools
import binascii
import json
import re
from datetime import datetime, timedelta

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from peewee import SQL, Case, NodeList, fn

from app import dialect
from app.db import from_db_time, to_db_time
from app.fields import MAX_ID, NAME, Integer, Text, UtcDateTime, loads_json, one_of, text_problem
from app.models import (EVENT_TYPES, SEVERITIES, SOURCES, Agent, Event, EventAgent, EventTag, EventTool, EventToolchain,
                        Tag, Tool, Toolchain)

SORTS = ("-occurred_at", "occurred_at", "severity", "-severity", "title")
REPEATABLE = ("agent", "label", "tool", "toolchain", "type", "severity", "source", "tag", "not_agent", "not_tool",
              "not_tag")
# not_X: leave out events that name X (the table's "exclude" links).
EXCLUSIONS = {"not_agent": "agent", "not_tool": "tool", "not_tag": "tag"}
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
    not_agent = fields.List(Text(validate=NAME), load_default=list,
                            metadata={"description": "leave out events on this agent (repeatable)"})
    not_tool = fields.List(Text(validate=NAME), load_default=list,
                           metadata={"description": "leave out events that name this tool (repeatable)"})
    not_tag = fields.List(Text(validate=validate.Length(min=1, max=100)), load_default=list,
                          metadata={"description": "leave out events with this tag (repeatable)"})
    q = Text(load_default=None, validate=validate.Length(max=200))
    sort = Text(load_default="-occurred_at", validate=one_of(SORTS))
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))
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
    for name in ("from", "to", "q", "sort", "limit", "cursor") + tuple(extra):
        if args.get(name) not in (None, ""):
            raw[name] = args.get(name)
    filters = _loader(schema).load(raw)
    if filters["cursor"]:
        filters["after"] = _decode_cursor(filters["cursor"], filters["sort"])
    return filters


@functools.lru_cache(maxsize=16)
def _loader(schema):
    """One instance per filter schema: building one cost more than loading a query through it."""
    return schema()


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
        query = query.where(_in(Event.id, _linked(EventAgent, EventAgent.agent, agent_ids, filters)))
    for name, junction, column, catalogue in NAMED_LINKS:
        if filters.get(name):
            ids = catalogue.select(catalogue.id).where(catalogue.name.in_(filters[name]))
            linked = _linked(junction, column, ids, filters)
            query = query.where(_not_in(Event.id, linked) if name in EXCLUSIONS else _in(Event.id, linked))
    if filters.get("q"):
        query = query.where(_text_match(filters["q"]))
    return query


# The name filters matched through a link table (agents are matched above, with their labels); not_X excludes.
NAMED_LINKS = (("tool", EventTool, EventTool.tool, Tool), ("toolchain", EventToolchain, EventToolchain.toolchain, Toolchain),
               ("tag", EventTag, EventTag.tag, Tag), ("not_agent", EventAgent, EventAgent.agent, Agent),
               ("not_tool", EventTool, EventTool.tool, Tool), ("not_tag", EventTag, EventTag.tag, Tag))

FACETS = {"type": (Event.type, EVENT_TYPES), "severity": (Event.severity, SEVERITIES),
          "source": (Event.source, SOURCES)}


def facet_counts(filters, name):
    """{value: how many events match ``filters`` with ``name`` (type, severity or source) set to that value
    instead of what the filters say}: the counts a filter panel shows beside each choice."""
    column, values = FACETS[name]
    others = dict(filters, **{name: []})
    counted = dict(matching(others).select(column, fn.COUNT(Event.id)).group_by(column).tuples())
    return {value: counted.get(value, 0) for value in values}


def page(filters, read):
    """(events, next_cursor): one page in the requested order, keyset-paginated; ``read`` turns the page's
    query into event dicts (app.ledger.events.read_events)."""
    sort = filters.get("sort", "-occurred_at")
    limit = filters.get("limit", 100)
    rows = read(ordered(filters).limit(limit + 1))
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
        return SEVERITIES.index(event["severity"])
    if name == "occurred_at":
        return event["occurred_at"].isoformat()
    return event[name]


def _encode_cursor(sort, event):
    raw = json.dumps([sort, _sort_value(sort, event), event["id"]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor, sort):
    """(sort value, id) from a cursor that ``_encode_cursor`` wrote for ``sort``; anything else (forged, edited,
    of another sort) is a 422, never a query: the id must be a row id, the value what the sort orders by."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, last_id = loads_json(base64.urlsafe_b64decode(padded.encode()).decode("utf-8"))
        if cursor_sort == sort:
            return _cursor_value(sort, value), _cursor_id(last_id)
    except (ValueError, TypeError, OverflowError, binascii.Error):  # also JsonRefused, UnicodeDecodeError
        raise ValidationError({"cursor": ["Not a cursor this API issued; start again without it."]}) from None
    raise ValidationError({"cursor": ["This cursor belongs to sort=%s; keep the same sort while paging."
                                      % (cursor_sort if isinstance(cursor_sort, str) else "another")]})


def _cursor_id(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ValueError("not a row id")
    return value


def _cursor_value(sort, value):
    """The sort key's value as the query compares it; ValueError when it cannot be one."""
    name = sort.lstrip("-")
    if name == "occurred_at":
        if not isinstance(value, str):
            raise ValueError("not a time")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("not an aware time")
        return to_db_time(moment)
    if name == "severity":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(SEVERITIES):
            raise ValueError("not a severity")
        return value
    if not isinstance(value, str) or text_problem(value) or len(value) > 200:
        raise ValueError("not a title")
    return value


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
    query = junction.select(junction.event).where(_in(column, ids))
    if filters.get("from_"):
        query = query.where(junction.occurred_at >= to_db_time(filters["from_"]))
    if filters.get("to"):
        query = query.where(junction.occurred_at < to_db_time(filters["to"]))
    return query


def _in(column, values):
    """``column IN (values)``. For a subquery, written as peewee renders it minus the check that it is not empty,
    for which peewee renders the subquery once more at every level of nesting: the agent filter's innermost
    query was rendered four times, and building a page's query took longer than running it (bench/README.md,
    "Bypasses"). Relies on peewee 4's public NodeList and SQL."""
    if isinstance(values, (list, tuple, set)):
        return column.in_(values)
    return NodeList((column, SQL("IN"), values), parens=True)


def _not_in(column, values):
    """``column NOT IN (subquery)``, written as _in writes IN."""
    return NodeList((column, SQL("NOT IN"), values), parens=True)


def _words(text):
    return re.findall(r"\w+", text.lower())[:20]


def _text_match(text):
    """Every word must appear; the last one may be a prefix (search as you type)."""
    words = _words(text)
    if not words:
        return SQL("1 = 0")
    return dialect.text_match(Event.title, Event.description, Event.metadata, Event.id, words)
