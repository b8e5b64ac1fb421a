"""Load and dump schemas of events and their audit entries (marshmallow 4). Loading validates; dumping
shapes output."""
import json

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from app.fields import CatalogueName, HttpUrl, Id, JsonObject, JsonValue, Text, UtcDateTime, one_of
from app.models import EVENT_TYPES, SEVERITIES, SOURCES

METADATA_MAX_BYTES = 64 * 1024


class ChangeSchema(Schema):
    class Meta:
        unknown = RAISE

    path = Text(required=True, validate=validate.Length(min=1, max=500))
    before = JsonValue(allow_none=True, load_default=None)
    after = JsonValue(allow_none=True, load_default=None)


class LinkSchema(Schema):
    class Meta:
        unknown = RAISE

    url = HttpUrl(required=True)
    text = Text(load_default="", validate=validate.Length(max=200))


class EventCreateSchema(Schema):
    """What a caller may send to record an event."""

    class Meta:
        unknown = RAISE

    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default="", validate=validate.Length(max=20000))
    type = Text(load_default="note", validate=one_of(EVENT_TYPES))
    severity = Text(load_default="info", validate=one_of(SEVERITIES))
    source = Text(load_default="manual", validate=one_of(SOURCES))
    occurred_at = UtcDateTime(load_default=None)
    ended_at = UtcDateTime(load_default=None, allow_none=True)
    # The name rules (docs/api.md, "Agents, tools, toolchains"), for every way in (API, pages, CSV, webhooks, snapshots): names end URL paths.
    agents = fields.List(CatalogueName(), load_default=list, validate=validate.Length(max=1000))
    tools = fields.List(CatalogueName(), load_default=list, validate=validate.Length(max=1000))
    toolchains = fields.List(CatalogueName(), load_default=list, validate=validate.Length(max=1000))
    tags = fields.List(Text(validate=validate.Length(min=1, max=100)), load_default=list, validate=validate.Length(max=100))
    changes = fields.List(fields.Nested(ChangeSchema), load_default=list, validate=validate.Length(max=1000))
    links = fields.List(fields.Nested(LinkSchema), load_default=list, validate=validate.Length(max=100))
    build_url = HttpUrl(load_default=None, allow_none=True)
    metadata = JsonObject(load_default=dict)
    dedupe_key = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255))
    reverts = Id(load_default=None, allow_none=True)

    @validates("metadata")
    def _metadata_size(self, value, **kwargs):
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if size > METADATA_MAX_BYTES:
            raise ValidationError("Must be at most 64 KiB as JSON (got %d bytes)." % size)

    @validates_schema
    def _interval(self, data, **kwargs):
        start, end = data.get("occurred_at"), data.get("ended_at")
        if start and end and end < start:
            raise ValidationError("Must not be before occurred_at.", "ended_at")


class EventSchema(Schema):
    """An event as the API returns it."""

    id = fields.Integer(dump_only=True)
    title = Text()
    description = Text()
    type = Text()
    severity = Text()
    source = Text()
    occurred_at = fields.DateTime(format="iso")
    ended_at = fields.DateTime(format="iso", allow_none=True)
    agents = fields.List(Text())
    tools = fields.List(Text())
    toolchains = fields.List(Text())
    tags = fields.List(Text())
    changes = fields.List(fields.Dict())
    links = fields.List(fields.Dict())
    build_url = Text(allow_none=True)
    metadata = fields.Dict()
    dedupe_key = Text(allow_none=True)
    count = fields.Integer(dump_only=True)
    first_seen = fields.DateTime(format="iso", dump_only=True)
    last_seen = fields.DateTime(format="iso", dump_only=True)
    reverts = fields.Integer(allow_none=True)
    created_by = Text(allow_none=True, dump_only=True)
    created_at = fields.DateTime(format="iso", dump_only=True)
    updated_at = fields.DateTime(format="iso", dump_only=True)
    unplanned = fields.Boolean(dump_only=True, metadata={
        "description": "a change a poller or webhook detected with no intent (a pipeline, manual or imported event "
                       "on one of its agents, tools or toolchains) recorded in the window before it"})


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime(format="iso")
    actor = Text()
    action = Text()
    entity_type = Text()
    entity_id = Text()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
