"""Timeline data: swimlanes per agent, as events or per-bucket counts."""
from flask import Blueprint, current_app, request
from marshmallow import Schema, fields, validate

from app.api.openapi import doc
from app.ledger import filters, timeline
from app.ledger.schemas import EventSchema

bp = Blueprint("timeline", __name__)


class BucketSchema(Schema):
    start = fields.DateTime(format="iso")
    severity = fields.String()
    count = fields.Integer()


class LaneSchema(Schema):
    name = fields.String()
    events = fields.List(fields.Nested(EventSchema))
    buckets = fields.List(fields.Nested(BucketSchema))


class TimelineSchema(Schema):
    mode = fields.String()
    bucket = fields.String(allow_none=True)
    total = fields.Integer()
    truncated = fields.Boolean()
    lanes = fields.List(fields.Nested(LaneSchema))

    from_ = fields.DateTime(format="iso", data_key="from", attribute="from")
    to = fields.DateTime(format="iso")


class TimelineQuerySchema(filters.EventFilterSchema):
    bucket = fields.String(load_default="auto", validate=validate.OneOf(timeline.BUCKETS, error="Must be one of: {choices}."),
                           metadata={"description": "auto: events, or counts once the range holds more than the "
                                                    "configured maximum; none: always events; hour/day/week: counts"})


@bp.get("/timeline")
@doc("Swimlanes per agent (and a fleet lane), as events or per-bucket counts", query=TimelineQuerySchema,
     response=TimelineSchema, description="Without from/to: the last 30 days.")
def get_timeline():
    query = filters.parse(request.args, schema=TimelineQuerySchema, extra=("bucket",))
    result = timeline.build(query, bucket=query["bucket"], max_events=current_app.config["TIMELINE_MAX_EVENTS"])
    return TimelineSchema().dump(result)
