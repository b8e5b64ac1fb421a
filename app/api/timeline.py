"""Timeline data: swimlanes per agent, as events or per-bucket counts."""
from datetime import datetime

from flask import Blueprint, current_app, request
from marshmallow import Schema, fields, validate

from app.api.openapi import doc
from app.fields import Text, one_of
from app.ledger import filters, timeline
from app.ledger.schemas import EventSchema

bp = Blueprint("timeline", __name__)
MAX_LANES = 200


class BucketSchema(Schema):
    start = fields.DateTime(format="iso")
    severity = fields.String(metadata={"description": "detail=summary: the worst severity in the bucket"})
    count = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "detail=summary: the count per severity"})


class LaneSchema(Schema):
    name = fields.String()
    events = fields.List(fields.Nested(EventSchema))
    buckets = fields.List(fields.Nested(BucketSchema))


class TimelineSchema(Schema):
    mode = fields.String(metadata={"description": "events, or buckets (per-lane counts by bucket and severity)"})
    bucket = fields.String(allow_none=True)
    total = fields.Integer(metadata={"description": "events matching the filters in the range, in every lane"})
    markers = fields.Integer(metadata={"description": "markers in the lanes answered (an event counts once per "
                                                      "lane it is drawn in)"})
    truncated = fields.Boolean(metadata={"description": "true when not every matching event is in the answer"})
    lanes_total = fields.Integer(metadata={"description": "agent lanes with matching events (after lane=)"})
    lane_order = fields.String()
    lane_offset = fields.Integer()
    lane_limit = fields.Integer(allow_none=True)
    lanes = fields.List(fields.Nested(LaneSchema))
    intervals = fields.List(fields.Nested(EventSchema), metadata={
        "description": "with lane paging: outages, maintenance and other events with an end in the lanes answered "
                       "that overlap the range (also those that began up to 30 days before it, and ongoing outages "
                       "and maintenance, which have no ended_at, however old)"})
    intervals_cut = fields.Boolean(metadata={"description": "true when there were more intervals than listed"})
    from_ = fields.DateTime(format="iso", data_key="from", attribute="from")
    to = fields.DateTime(format="iso")
    now = fields.DateTime(format="iso")


class TimelineQuerySchema(filters.EventFilterSchema):
    bucket = Text(load_default="auto", validate=one_of(timeline.BUCKETS),
                  metadata={"description": "auto: events, or counts once the lanes answered hold more than the "
                                           "configured number of markers; none: always events; hour/day/week: "
                                           "counts"})
    lane_offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000),
                                 metadata={"description": "lane paging: skip this many agent lanes"})
    lane_limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LANES),
                                metadata={"description": "lane paging: at most this many agent lanes, plus the "
                                                         "fleet lane first (default: every lane, fleet last)"})
    lane_order = Text(load_default="name", validate=one_of(timeline.LANE_ORDERS),
                      metadata={"description": "name, or activity: the busiest lanes in the range first"})
    lane = Text(load_default=None, validate=validate.Length(max=200),
                metadata={"description": "only lanes whose agent name contains this (case-insensitive)"})
    detail = Text(load_default="full", validate=one_of(timeline.DETAILS),
                  metadata={"description": "summary: only what a chart needs of each event"})


EXTRA = ("bucket", "lane_offset", "lane_limit", "lane_order", "lane", "detail")


def as_json(result):
    """``TimelineSchema().dump(result)``, made directly: a 90-day page carries thousands of buckets or events,
    and dumping each through marshmallow cost more than building the answer (tests/api/test_timeline.py checks
    both give the same JSON)."""
    def value(v):
        return v.isoformat() if isinstance(v, datetime) else v

    def event(e):
        return {key: value(e[key]) if key in TIMES else e[key] for key in EVENT_KEYS if key in e}

    body = {key: value(result[key]) for key in TOP_KEYS if key in result}
    body["lanes"] = [{"name": lane["name"], **({"events": [event(e) for e in lane["events"]]} if "events" in lane else {}),
                      **({"buckets": [{k: value(v) for k, v in b.items()} for b in lane["buckets"]]}
                         if "buckets" in lane else {})}
                     for lane in result["lanes"]]
    if "intervals" in result:
        body["intervals"] = [event(e) for e in result["intervals"]]
    return body


TIMES = {"occurred_at", "ended_at", "first_seen", "last_seen", "created_at", "updated_at"}
EVENT_KEYS = tuple(EventSchema().fields)
TOP_KEYS = ("mode", "bucket", "total", "markers", "truncated", "lanes_total", "lane_order", "lane_offset",
            "lane_limit", "intervals_cut", "from", "to", "now")


def parse(args):
    """The timeline's query (filters and lane paging) from query-string arguments."""
    query = filters.parse(args, schema=TimelineQuerySchema, extra=EXTRA)
    lanes = timeline.Lanes(offset=query["lane_offset"], limit=query["lane_limit"], order=query["lane_order"],
                           match=query["lane"])
    return query, lanes


@bp.get("/timeline")
@doc("Swimlanes per agent (and a fleet lane), as events or per-bucket counts", query=TimelineQuerySchema,
     response=TimelineSchema, description="Without from/to: the last 30 days. With lane_limit or lane: lanes are "
                                          "paged and intervals listed apart.")
def get_timeline():
    query, lanes = parse(request.args)
    result = timeline.build(query, bucket=query["bucket"], max_events=current_app.config["TIMELINE_MAX_EVENTS"],
                            lanes=lanes, detail=query["detail"])
    return as_json(result)
