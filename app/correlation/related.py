"""The events related to one event: those sharing an agent, tool or toolchain with it within ± a window, closest
first, each with its reasons, plus its rollback partners whatever the window."""
from datetime import timedelta

from marshmallow import EXCLUDE, Schema, fields, validate
from peewee import SQL

from app.correlation.windows import Window, describe_span, shift
from app.db import from_db_time, to_db_time
from app.fields import Integer
from app.ledger.events import get_event, with_links
from app.ledger.schemas import EventSchema
from app.models import Event, EventAgent, EventTool, EventToolchain

DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class RelatedQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    window = Window(load_default=DEFAULT_WINDOW,
                    metadata={"description": "± this much around the event: a number and m, h, d or w "
                                             "(30m, 24h, 7d); at most 90d"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": "events sharing an agent, tool or toolchain; rollback "
                                                    "partners come on top of these"})


class RelatedItemSchema(Schema):
    event = fields.Nested(EventSchema, required=True)
    reasons = fields.List(fields.String(), required=True)
    offset_seconds = fields.Integer(required=True, metadata={"description": "this event's time minus the asked one's"})
    offset = fields.String(required=True, metadata={"description": "the same, for people: 2h 15m earlier"})


class RelatedSchema(Schema):
    event_id = fields.Integer(required=True)
    window = Window(required=True)
    from_ = fields.DateTime(format="iso", data_key="from", attribute="from", required=True)
    to = fields.DateTime(format="iso", required=True)
    items = fields.List(fields.Nested(RelatedItemSchema), required=True)


def parse_related_query(args):
    """RelatedQuerySchema from query-string arguments (anything with ``get``)."""
    return RelatedQuerySchema().load({name: args.get(name) for name in ("window", "limit")
                                      if args.get(name) not in (None, "")})


def related(event_id, window=DEFAULT_WINDOW, limit=DEFAULT_LIMIT):
    """Events sharing an agent, tool or toolchain with event ``event_id`` within ± ``window``, closest first.

    Each item carries its ``reasons`` ("same agent linux-07", "same tool jdk-17") and its offset from
    the event. Rollback partners (events that revert this one, and the one it reverts) are always
    listed, whatever the window and on top of ``limit``. The event itself never is.
    """
    event = get_event(event_id)
    center = to_db_time(event["occurred_at"])
    lo, hi = shift(center, -window), shift(center, window)

    # Ties in time go to the older id on both sides, as in the final order.
    earlier = _sharing(event_id, center, lo).order_by(SQL("occurred_at").desc(), SQL("event_id").asc()).limit(limit)
    later = _sharing(event_id, center, hi).order_by(SQL("occurred_at").asc(), SQL("event_id").asc()).limit(limit)
    # A UNION's columns come back raw (text on SQLite), hence from_db_time.
    nearby = sorted((_closeness(from_db_time(when) - event["occurred_at"], other_id), other_id)
                    for other_id, when in list(earlier.tuples()) + list(later.tuples()))
    ids = {other_id for _, other_id in nearby[:limit]}
    partners = Event.select(Event.id).where(Event.reverts == event_id)
    if event["reverts"] is not None:
        partners = partners | Event.select(Event.id).where(Event.id == event["reverts"])
    ids.update(i for (i,) in partners.tuples())
    ids.discard(event_id)

    items = []
    for other in with_links(list(Event.select().where(Event.id.in_(sorted(ids))))) if ids else []:
        offset = other["occurred_at"] - event["occurred_at"]
        items.append((_closeness(offset, other["id"]), {
            "event": other, "reasons": _related_reasons(event, other),
            "offset_seconds": int(offset.total_seconds()), "offset": _describe_offset(offset.total_seconds())}))
    items.sort(key=lambda pair: pair[0])
    return {"event_id": event_id, "window": window, "from": from_db_time(lo), "to": from_db_time(hi),
            "items": [item for _, item in items]}


def _closeness(offset, event_id):
    """Sort key: nearer first; at the same distance, earlier first, then the older id."""
    return abs(offset), offset, event_id


def _sharing(event_id, center, bound):
    """(event id, occurred_at) of other events linked to one of ``event_id``'s agents, tools or toolchains
    between ``center`` and ``bound`` (the center itself counts on the earlier side): a UNION of range
    scans on each junction's (entity, occurred_at) index."""
    members = []
    for junction, column in ((EventAgent, EventAgent.agent), (EventTool, EventTool.tool),
                             (EventToolchain, EventToolchain.toolchain)):
        own = junction.alias("own")
        if bound <= center:
            when = (junction.occurred_at >= bound) & (junction.occurred_at <= center)
        else:
            when = (junction.occurred_at > center) & (junction.occurred_at <= bound)
        members.append(junction.select(junction.event, junction.occurred_at)
                       .where(column.in_(own.select(getattr(own, column.name)).where(own.event == event_id)),
                              junction.event != event_id, when))
    return members[0] | members[1] | members[2]


def _related_reasons(event, other):
    reasons = []
    if other["reverts"] == event["id"]:
        reasons.append("reverts this event")
    if event["reverts"] == other["id"]:
        reasons.append("reverted by this event")
    for key, noun in (("agents", "agent"), ("tools", "tool"), ("toolchains", "toolchain")):
        shared = set(event[key]) & set(other[key])
        reasons.extend("same %s %s" % (noun, name) for name in sorted(shared))
    return reasons


def _describe_offset(seconds):
    if seconds == 0:
        return "at the same time"
    return "%s %s" % (describe_span(seconds), "earlier" if seconds < 0 else "later")
