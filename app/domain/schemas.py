"""Load and dump schemas for the ledger (marshmallow 4). Loading validates; dumping shapes output."""
import json

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from app.models import EVENT_TYPES, ROLES, SCOPES, SEVERITIES, SOURCES

METADATA_MAX_BYTES = 64 * 1024
NAME = validate.Length(min=1, max=200)


def _one_of(choices):
    return validate.OneOf(choices, error="Must be one of: {choices}.")


class ChangeSchema(Schema):
    class Meta:
        unknown = RAISE

    path = fields.String(required=True, validate=validate.Length(min=1, max=500))
    before = fields.Raw(allow_none=True, load_default=None)
    after = fields.Raw(allow_none=True, load_default=None)


class LinkSchema(Schema):
    class Meta:
        unknown = RAISE

    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    text = fields.String(load_default="", validate=validate.Length(max=200))


class EventCreateSchema(Schema):
    """What a caller may send to record an event."""

    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=20000))
    type = fields.String(load_default="note", validate=_one_of(EVENT_TYPES))
    severity = fields.String(load_default="info", validate=_one_of(SEVERITIES))
    source = fields.String(load_default="manual", validate=_one_of(SOURCES))
    occurred_at = fields.AwareDateTime(
        load_default=None,
        format="iso",
        error_messages={"invalid": "Not a valid ISO 8601 datetime.", "invalid_awareness": "Must include a UTC offset, e.g. 2026-01-31T12:00:00Z."},
    )
    ended_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        format="iso",
        error_messages={"invalid": "Not a valid ISO 8601 datetime.", "invalid_awareness": "Must include a UTC offset, e.g. 2026-01-31T12:00:00Z."},
    )
    agents = fields.List(fields.String(validate=NAME), load_default=list, validate=validate.Length(max=1000))
    tools = fields.List(fields.String(validate=NAME), load_default=list, validate=validate.Length(max=1000))
    toolchains = fields.List(fields.String(validate=NAME), load_default=list, validate=validate.Length(max=1000))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list, validate=validate.Length(max=100))
    changes = fields.List(fields.Nested(ChangeSchema), load_default=list, validate=validate.Length(max=1000))
    links = fields.List(fields.Nested(LinkSchema), load_default=list, validate=validate.Length(max=100))
    build_url = fields.Url(load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"})
    metadata = fields.Dict(keys=fields.String(), load_default=dict)
    dedupe_key = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255))
    reverts = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))

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
    title = fields.String()
    description = fields.String()
    type = fields.String()
    severity = fields.String()
    source = fields.String()
    occurred_at = fields.DateTime(format="iso")
    ended_at = fields.DateTime(format="iso", allow_none=True)
    agents = fields.List(fields.String())
    tools = fields.List(fields.String())
    toolchains = fields.List(fields.String())
    tags = fields.List(fields.String())
    changes = fields.List(fields.Dict())
    links = fields.List(fields.Dict())
    build_url = fields.String(allow_none=True)
    metadata = fields.Dict()
    dedupe_key = fields.String(allow_none=True)
    count = fields.Integer(dump_only=True)
    first_seen = fields.DateTime(format="iso", dump_only=True)
    last_seen = fields.DateTime(format="iso", dump_only=True)
    reverts = fields.Integer(allow_none=True)
    created_by = fields.String(allow_none=True, dump_only=True)
    created_at = fields.DateTime(format="iso", dump_only=True)
    updated_at = fields.DateTime(format="iso", dump_only=True)


class UserCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=[
        validate.Length(min=1, max=80),
        validate.Regexp(r"^[A-Za-z0-9_.@-]+$", error="Use letters, digits and . _ @ - only."),
    ])
    role = fields.String(load_default="viewer", validate=_one_of(ROLES))
    password = fields.String(required=True, load_only=True)


class UserUpdateSchema(Schema):
    """What an admin may change on a user; all optional."""

    class Meta:
        unknown = RAISE

    role = fields.String(validate=_one_of(ROLES))
    active = fields.Boolean()
    password = fields.String(load_only=True)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String()
    role = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime(format="iso")
    last_login_at = fields.DateTime(format="iso", allow_none=True)


class TokenSchema(Schema):
    """A token as listed: never its secret."""

    id = fields.Integer(dump_only=True)
    name = fields.String()
    user = fields.String()
    prefix = fields.String()
    scopes = fields.List(fields.String())
    created_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(format="iso", allow_none=True)
    revoked_at = fields.DateTime(format="iso", allow_none=True)
    last_used_at = fields.DateTime(format="iso", allow_none=True)
    state = fields.String()


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime(format="iso")
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class TokenCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default="token", validate=validate.Length(min=1, max=100))
    scopes = fields.List(fields.String(validate=_one_of(SCOPES)), load_default=lambda: ["read"],
                         validate=validate.Length(min=1))
    expires_days = fields.Integer(load_default=None, allow_none=True, strict=True,
                                  validate=validate.Range(min=1, max=3650))
