"""Users, passwords and API tokens: who may do what."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from marshmallow import ValidationError

from app.db import database, from_db_time, utcnow
from app.domain import audit
from app.domain.schemas import TokenCreateSchema, UserCreateSchema, UserUpdateSchema
from app.models import ApiToken, User

ROLE_LEVEL = {"viewer": 1, "editor": 2, "admin": 3}
SCOPE_LEVEL = {"read": 1, "write": 2, "admin": 3}
SCOPE_FOR_ROLE = {"viewer": "read", "editor": "write", "admin": "admin"}
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "ct_"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class TokenError(Exception):
    """A bearer token that cannot be used; the message says why without revealing secrets."""


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    """The actor may not do this to this object (e.g. revoke someone else's token)."""


def check_password_policy(username, password):
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append("Must be at least %d characters." % MIN_PASSWORD_LENGTH)
    if password.strip().lower() == username.strip().lower():
        problems.append("Must not be the username.")
    if len(set(password)) < 4:
        problems.append("Must use at least 4 different characters.")
    if problems:
        raise ValidationError({"password": problems})


def hash_password(password):
    return _hasher.hash(password)


def create_user(data, actor=audit.SYSTEM):
    """Validate and create a user; raises ValidationError (422) or a conflict on a taken name."""
    data = UserCreateSchema().load(data)
    check_password_policy(data["username"], data["password"])
    with database.atomic():
        if User.select().where(User.username == data["username"]).exists():
            raise ValidationError({"username": ["Already taken."]})
        user = User.create(username=data["username"], role=data["role"], password_hash=hash_password(data["password"]))
        audit.record(actor, "create", "user", user.username, after=user_to_dict(user))
    return user


def authenticate(username, password):
    """The active user with this password, or None. Costs the same whether or not the user exists."""
    user = User.get_or_none(User.username == username)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    user.save()
    return user


def user_to_dict(user):
    return {"id": user.id, "username": user.username, "role": user.role, "active": user.active}


def user_view(user):
    return {**user_to_dict(user), "created_at": from_db_time(user.created_at),
            "last_login_at": from_db_time(user.last_login_at)}


def get_user(username):
    user = User.get_or_none(User.username == username)
    if user is None:
        raise NotFound("No user named %r." % username)
    return user


def list_users():
    return list(User.select().order_by(User.username))


def update_user(username, data, actor=audit.SYSTEM):
    """Change role, active flag or password (an admin's reset); audited with before/after."""
    data = UserUpdateSchema().load(data)
    with database.atomic():
        user = get_user(username)
        before = user_to_dict(user)
        if "password" in data:
            check_password_policy(user.username, data["password"])
            user.password_hash = hash_password(data["password"])
        if actor.user_id == user.id and (data.get("active") is False or data.get("role", user.role) != user.role):
            raise ValidationError({"role" if "role" in data else "active": ["You cannot demote or deactivate yourself."]})
        if (before["role"] == "admin" and (data.get("role", "admin") != "admin" or data.get("active") is False)
                and User.select().where((User.role == "admin") & User.active).count() <= 1):
            raise ValidationError({"role" if "role" in data else "active": ["The last active admin must stay an admin."]})
        user.role = data.get("role", user.role)
        user.active = data.get("active", user.active)
        user.save()
        after = user_to_dict(user)
        if "password" in data:
            after["password"] = "(reset)"
        if after != before:
            audit.record(actor, "update", "user", user.username, before=before, after=after)
    return user


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
    token = (ApiToken.select(ApiToken, User).join(User)
             .where(ApiToken.prefix == prefix).first()) if prefix else None
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
