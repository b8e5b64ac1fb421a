"""Timeline data: swimlanes per agent, as events or per-bucket counts."""
from flask import Blueprint, current_app, request
from marshmallow import Schema, fields

from app.domain import filters, timeline
from app.domain.schemas import EventSchema

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


@bp.get("/timeline")
def get_timeline():
    result = timeline.build(filters.parse(request.args), bucket=request.args.get("bucket", "auto"),
                            max_events=current_app.config["TIMELINE_MAX_EVENTS"])
    return TimelineSchema().dump(result)
