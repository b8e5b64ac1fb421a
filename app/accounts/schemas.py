"""Load and dump schemas of users and API tokens (marshmallow 4): secrets are load-only or shown once."""
from marshmallow import RAISE, Schema, fields, validate

from app.fields import Integer, Text, one_of
from app.models import ROLES, SCOPES


class UserCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    username = Text(required=True, validate=[
        validate.Length(min=1, max=80),
        validate.Regexp(r"^[A-Za-z0-9_.@-]+$", error="Use letters, digits and . _ @ - only."),
    ])
    role = Text(load_default="viewer", validate=one_of(ROLES))
    password = Text(required=True, load_only=True)


class UserUpdateSchema(Schema):
    """What an admin may change on a user; all optional."""

    class Meta:
        unknown = RAISE

    role = Text(validate=one_of(ROLES))
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


class TokenCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(load_default="token", validate=validate.Length(min=1, max=100))
    scopes = fields.List(Text(validate=one_of(SCOPES)), load_default=lambda: ["read"],
                         validate=validate.Length(min=1))
    expires_days = Integer(load_default=None, allow_none=True, strict=True,
                                  validate=validate.Range(min=1, max=3650))


class TokenRequestSchema(TokenCreateSchema):
    """POST /api/v1/tokens: admins may name another ``user`` to create the token for."""

    user = Text(metadata={"description": "admins only: whose token"})


class TokenCreatedSchema(TokenSchema):
    secret = Text(required=True, metadata={"description": "shown in this response only"})
