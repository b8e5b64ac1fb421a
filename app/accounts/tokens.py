"""API tokens: issued to a user with scopes never above the user's role, stored only as a SHA-256 hash,
compared in constant time; expiry, revocation and last use."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from marshmallow import ValidationError

from app import dialect
from app.accounts import audit
from app.accounts.schemas import TokenCreateSchema
from app.accounts.users import ROLE_LEVEL
from app.db import database, from_db_time, utcnow
from app.errors import NotFound
from app.models import ApiToken, User

SCOPE_LEVEL = {"read": 1, "record": 2, "write": 3, "admin": 4}  # the levels of app.accounts.access
SCOPE_FOR_ROLE = {"viewer": "read", "editor": "write", "admin": "admin"}
TOKEN_PREFIX = "ct_"


class TokenError(Exception):
    """A bearer token that cannot be used; the message says why without revealing secrets."""


def create_token(user, data, actor=audit.SYSTEM, max_level=None):
    """Issue a token for ``user``. Returns (token row, secret); the secret is never stored.

    Scopes are capped by the user's role and by ``max_level`` (the caller's own level, so a
    read token can never mint a write token).
    """
    data = TokenCreateSchema().load(data)
    allowed = min(ROLE_LEVEL[user.role], max_level or ROLE_LEVEL[user.role])
    too_wide = [s for s in data["scopes"] if SCOPE_LEVEL[s] > allowed]
    if too_wide:
        who = "A %s" % user.role if allowed == ROLE_LEVEL[user.role] else "This request"
        raise ValidationError({"scopes": ["%s may not hold the %s scope." % (who, ", ".join(too_wide))]})
    prefix = secrets.token_hex(6)
    secret = "%s%s_%s" % (TOKEN_PREFIX, prefix, secrets.token_urlsafe(32))
    expires_at = utcnow() + timedelta(days=data["expires_days"]) if data["expires_days"] else None
    with database.atomic():
        token = ApiToken.create(
            user=user,
            name=data["name"],
            prefix=prefix,
            secret_hash=_digest(secret),
            scopes=",".join(sorted(set(data["scopes"]), key=SCOPE_LEVEL.get)),
            expires_at=expires_at,
        )
        audit.record(actor, "create", "token", token.id, after=token_to_dict(token))
    return token, secret


def resolve_token(secret):
    """The (token, user) a bearer secret belongs to; raises TokenError saying why it is refused."""
    prefix = _prefix_of(secret)
    token = _by_prefix(prefix) if prefix else None
    # Compare even when the prefix is unknown so timing does not tell which prefixes exist.
    expected = token.secret_hash if token else _digest("")
    if not hmac.compare_digest(expected, _digest(secret)) or token is None:
        raise TokenError("Invalid token.")
    now = utcnow()
    if token.revoked_at is not None:
        raise TokenError("Token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenError("Token has expired.")
    if not token.user.active:
        raise TokenError("Token owner is deactivated.")
    # Written at most once a minute per token to keep reads cheap.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
    return token, token.user


def _by_prefix(prefix):
    """The token with ``prefix`` and its user, or None. Every API request asks this, so the statement is rendered
    once (building it through peewee took longer than recording an event) and its row read by hand."""
    row = database.execute_sql(dialect.statement(_select_by_prefix), (prefix,)).fetchone()
    if row is None:
        return None
    token = ApiToken(**{field.name: field.python_value(value) for field, value in zip(_TOKEN_FIELDS, row)})
    token.user = User(**{field.name: field.python_value(value)
                         for field, value in zip(_USER_FIELDS, row[len(_TOKEN_FIELDS):])})
    return token


_TOKEN_FIELDS = ApiToken._meta.sorted_fields
_USER_FIELDS = User._meta.sorted_fields


def _select_by_prefix():
    return ApiToken.select(*_TOKEN_FIELDS, *_USER_FIELDS).join(User).where(ApiToken.prefix == "prefix")


def token_level(token, user):
    """A token acts with the smaller of its scope and its owner's role."""
    scope = max(SCOPE_LEVEL[s] for s in token.scopes.split(","))
    return min(scope, ROLE_LEVEL[user.role])


def list_tokens(user=None):
    """Tokens of one user (or everyone's, for admins), newest first."""
    query = ApiToken.select(ApiToken, User).join(User).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user == user)
    return list(query)


def revoke_token(token_id, actor, may_revoke_others=False):
    """Revoke a token; its owner may, and admins may revoke anyone's. Idempotent."""
    with database.atomic():
        token = ApiToken.select(ApiToken, User).join(User).where(ApiToken.id == token_id).first()
        if token is None or (token.user_id != actor.user_id and not may_revoke_others):
            raise NotFound("No token with id %s." % token_id)  # others' tokens are not even confirmed to exist
        if token.revoked_at is None:
            before = token_to_dict(token)
            token.revoked_at = utcnow()
            token.save()
            audit.record(actor, "revoke", "token", token.id, before=before, after=token_to_dict(token))
    return token


def token_state(token, now=None):
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    if not token.user.active:
        return "owner deactivated"
    return "active"


def token_view(token):
    return {
        "id": token.id,
        "name": token.name,
        "user": token.user.username,
        "prefix": token.prefix,
        "scopes": token.scopes.split(","),
        "created_at": from_db_time(token.created_at),
        "expires_at": from_db_time(token.expires_at),
        "revoked_at": from_db_time(token.revoked_at),
        "last_used_at": from_db_time(token.last_used_at),
        "state": token_state(token),
    }


def token_to_dict(token):
    """The audit view of a token: JSON-safe, never the secret or its hash."""
    view = token_view(token)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in view.items() if k != "last_used_at"}


def _prefix_of(secret):
    if not secret.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, _ = secret[len(TOKEN_PREFIX):].partition("_")
    return prefix if sep and len(prefix) == 12 else None


def _digest(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
