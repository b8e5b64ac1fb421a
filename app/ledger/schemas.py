"""Load and dump schemas for the ledger (marshmallow 4). Loading validates; dumping shapes output."""
import json

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from app.models import EVENT_TYPES, ROLES, SCOPES, SEVERITIES, SOURCES

METADATA_MAX_BYTES = 64 * 1024


class Text(fields.String):
    """A string without NUL characters (PostgreSQL cannot store them; no legitimate input has them)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Must not contain NUL (\\u0000) characters.")
        return text

NAME = validate.Length(min=1, max=200)


def _one_of(choices):
    return validate.OneOf(choices, error="Must be one of: {choices}.")


class ChangeSchema(Schema):
    class Meta:
        unknown = RAISE

    path = Text(required=True, validate=validate.Length(min=1, max=500))
    before = fields.Raw(allow_none=True, load_default=None)
    after = fields.Raw(allow_none=True, load_default=None)


class LinkSchema(Schema):
    class Meta:
        unknown = RAISE

    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    text = Text(load_default="", validate=validate.Length(max=200))


class EventCreateSchema(Schema):
    """What a caller may send to record an event."""

    class Meta:
        unknown = RAISE

    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default="", validate=validate.Length(max=20000))
    type = Text(load_default="note", validate=_one_of(EVENT_TYPES))
    severity = Text(load_default="info", validate=_one_of(SEVERITIES))
    source = Text(load_default="manual", validate=_one_of(SOURCES))
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
    agents = fields.List(Text(validate=NAME), load_default=list, validate=validate.Length(max=1000))
    tools = fields.List(Text(validate=NAME), load_default=list, validate=validate.Length(max=1000))
    toolchains = fields.List(Text(validate=NAME), load_default=list, validate=validate.Length(max=1000))
    tags = fields.List(Text(validate=validate.Length(min=1, max=100)), load_default=list, validate=validate.Length(max=100))
    changes = fields.List(fields.Nested(ChangeSchema), load_default=list, validate=validate.Length(max=1000))
    links = fields.List(fields.Nested(LinkSchema), load_default=list, validate=validate.Length(max=100))
    build_url = fields.Url(load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"})
    metadata = fields.Dict(keys=Text(), load_default=dict)
    dedupe_key = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=255))
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


class UserCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    username = Text(required=True, validate=[
        validate.Length(min=1, max=80),
        validate.Regexp(r"^[A-Za-z0-9_.@-]+$", error="Use letters, digits and . _ @ - only."),
    ])
    role = Text(load_default="viewer", validate=_one_of(ROLES))
    password = Text(required=True, load_only=True)


class UserUpdateSchema(Schema):
    """What an admin may change on a user; all optional."""

    class Meta:
        unknown = RAISE

    role = Text(validate=_one_of(ROLES))
    active = fields.Boolean()
    password = Text(load_only=True)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = Text()
    role = Text()
    active = fields.Boolean()
    created_at = fields.DateTime(format="iso")
    last_login_at = fields.DateTime(format="iso", allow_none=True)


class TokenSchema(Schema):
    """A token as listed: never its secret."""

    id = fields.Integer(dump_only=True)
    name = Text()
    user = Text()
    prefix = Text()
    scopes = fields.List(Text())
    created_at = fields.DateTime(format="iso")
    expires_at = fields.DateTime(format="iso", allow_none=True)
    revoked_at = fields.DateTime(format="iso", allow_none=True)
    last_used_at = fields.DateTime(format="iso", allow_none=True)
    state = Text()


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime(format="iso")
    actor = Text()
    action = Text()
    entity_type = Text()
    entity_id = Text()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class TokenCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(load_default="token", validate=validate.Length(min=1, max=100))
    scopes = fields.List(Text(validate=_one_of(SCOPES)), load_default=lambda: ["read"],
                         validate=validate.Length(min=1))
    expires_days = fields.Integer(load_default=None, allow_none=True, strict=True,
                                  validate=validate.Range(min=1, max=3650))


def items_of(schema, name, cursor=False):
    """A response schema ``{"items": [schema...]}`` (plus ``next_cursor`` for paged lists)."""
    shape = {"items": fields.List(fields.Nested(schema), required=True)}
    if cursor:
        shape["next_cursor"] = Text(allow_none=True, required=True,
                                             metadata={"description": "pass as cursor for the next page; null at the end"})
    return Schema.from_dict(shape, name=name)


class TokenRequestSchema(TokenCreateSchema):
    """POST /api/v1/tokens: admins may name another ``user`` to create the token for."""

    user = Text(metadata={"description": "admins only: whose token"})


class TokenCreatedSchema(TokenSchema):
    secret = Text(required=True, metadata={"description": "shown in this response only"})
