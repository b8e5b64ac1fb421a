"""Grafana annotations: ledger events in the shape Grafana's JSON / Infinity data sources read.

Grafana sends the dashboard range as epoch milliseconds (``${__from}``, ``${__to}``) and shows each
annotation as a marker, or a region when ``timeEnd`` is later than ``time`` (outages, maintenance).

``tags`` (repeatable or comma-separated) keeps events carrying ANY of them, where an event
"carries" its own tags and the names of its agents, so a panel about agent linux-07 can ask for
``tags=linux-07`` the same way it asks for ``tags=jdk``. The output ``tags`` are the event's own
tags followed by its type, which is what Grafana's tag chips and its own tag filter need; the
agents go in the text. Every other /events filter (agent, tool, type, severity, q, ...) applies too.
"""
import html
from datetime import datetime, timedelta, timezone

from marshmallow import Schema, ValidationError, fields, validate

from app.db import to_db_time
from app.fields import Integer, Text
from app.ledger import filters
from app.ledger.events import with_links
from app.models import Agent, Event, EventAgent, EventTag, Tag

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_EPOCH_MS = 253370764800000  # 9999-01-01T00:00:00Z
DEFAULT_SPAN = timedelta(hours=24)
DEFAULT_LIMIT, MAX_LIMIT = 1000, 2000
AGENTS_IN_TEXT = 10


class EpochMillis(Integer):
    """Milliseconds since 1970-01-01 UTC, as Grafana's ``${__from}`` sends them; loads as an aware datetime."""

    default_error_messages = {"invalid": "Must be epoch milliseconds, e.g. 1767225600000."}

    def _deserialize(self, value, attr, data, **kwargs):
        millis = super()._deserialize(value, attr, data, **kwargs)
        if not 0 <= millis <= MAX_EPOCH_MS:
            raise ValidationError("Must be epoch milliseconds between 0 and %d (9999-01-01)." % MAX_EPOCH_MS)
        return EPOCH + timedelta(milliseconds=millis)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else to_epoch_ms(value)


class AnnotationQuerySchema(filters.EventFilterSchema):
    """The /events filters with Grafana's epoch-millisecond range and its ``tags``; no sort or cursor."""

    class Meta(filters.EventFilterSchema.Meta):
        exclude = ("sort", "cursor")

    from_ = EpochMillis(data_key="from", load_default=None,
                        metadata={"description": "epoch ms (Grafana's ${__from}); default 24 hours before `to`"})
    to = EpochMillis(load_default=None, metadata={"description": "epoch ms (Grafana's ${__to}); default now"})
    tags = fields.List(Text(validate=validate.Length(min=1, max=200)), load_default=list,
                       validate=validate.Length(max=100),
                       metadata={"description": "repeatable or comma-separated; an event matches when ANY is one "
                                                "of its tags or the name of one of its agents"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": "the newest ones when the range holds more"})


class AnnotationSchema(Schema):
    time = fields.Integer(required=True, metadata={"description": "epoch ms"})
    timeEnd = fields.Integer(required=True, metadata={"description": "epoch ms; ended_at, else the same as time"})
    title = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "HTML: type, severity, agents and a link"})
    tags = fields.List(fields.String(), required=True)
    id = fields.Integer(required=True, metadata={"description": "the event's id"})


def parse(args):
    """AnnotationQuerySchema from query-string arguments (anything with ``getlist`` and ``get``)."""
    raw = {}
    for name in filters.REPEATABLE:
        values = [v for v in args.getlist(name) if v != ""]
        if values:
            raw[name] = values
    tags = [tag.strip() for value in args.getlist("tags") for tag in value.split(",") if tag.strip()]
    if tags:
        raw["tags"] = tags
    for name in ("from", "to", "q", "limit"):
        if args.get(name) not in (None, ""):
            raw[name] = args.get(name)
    return AnnotationQuerySchema().load(raw)


def annotations(query, event_url, now=None):
    """Annotations for the events ``query`` matches, newest first.

    ``event_url`` turns an event id into the link to its page (the service's own address is the
    caller's to know).
    """
    query = dict(query)
    query["to"] = query.get("to") or now or datetime.now(timezone.utc)
    query["from_"] = query.get("from_") or max(query["to"] - DEFAULT_SPAN, EPOCH)
    if query["from_"] > query["to"]:
        raise ValidationError({"from": ["Must not be after 'to' (%d)." % to_epoch_ms(query["to"])]})
    selected = filters.matching(query)
    if query.get("tags"):
        selected = selected.where(Event.id.in_(_carrying(query["tags"], query["from_"], query["to"])))
    rows = list(selected.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(query.get("limit", DEFAULT_LIMIT)))
    return [_annotation(event, event_url) for event in with_links(rows)]


def _carrying(names, start, end):
    """Ids of events in [start, end) tagged with, or naming an agent called, one of ``names``: two range
    scans on the junctions' (entity, occurred_at) indexes."""
    start, end = to_db_time(start), to_db_time(end)
    tagged = (EventTag.select(EventTag.event)
              .where(EventTag.tag.in_(Tag.select(Tag.id).where(Tag.name.in_(names))),
                     EventTag.occurred_at >= start, EventTag.occurred_at < end))
    on_agent = (EventAgent.select(EventAgent.event)
                .where(EventAgent.agent.in_(Agent.select(Agent.id).where(Agent.name.in_(names))),
                       EventAgent.occurred_at >= start, EventAgent.occurred_at < end))
    return tagged | on_agent


def _annotation(event, event_url):
    start = to_epoch_ms(event["occurred_at"])
    agents = event["agents"]
    if not agents:
        where = "fleet-wide"
    elif len(agents) <= AGENTS_IN_TEXT:
        where = "agents: " + ", ".join(agents)
    else:
        where = "agents: %s and %d more" % (", ".join(agents[:AGENTS_IN_TEXT]), len(agents) - AGENTS_IN_TEXT)
    text = "%s · %s · %s<br><a href=\"%s\">#%d in Change Tracker</a>" % (
        html.escape(event["type"]), html.escape(event["severity"]), html.escape(where),
        html.escape(event_url(event["id"]), quote=True), event["id"])
    return {
        "time": start,
        "timeEnd": to_epoch_ms(event["ended_at"]) if event["ended_at"] else start,
        "title": event["title"],
        "text": text,
        "tags": event["tags"] + [event["type"]],
        "id": event["id"],
    }


def to_epoch_ms(value):
    """An aware datetime as whole epoch milliseconds."""
    return (value - EPOCH) // timedelta(milliseconds=1)

