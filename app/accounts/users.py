"""Users and their passwords (argon2): who may log in, and with which role, and which sessions still hold.

Usernames are unique whatever their case and are looked up that way ("Alice" logs in as alice). A session (and a
remember cookie) names the user's id and session version (User.get_id); ``end_sessions`` moves the version on,
which ends every session issued before: at logout, and when a password or role changes or a user is deactivated.
"""
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from marshmallow import ValidationError
from peewee import IntegrityError, fn

from app.accounts import audit
from app.accounts.schemas import UserCreateSchema, UserUpdateSchema
from app.db import database, from_db_time, utcnow
from app.errors import Conflict, NotFound
from app.fields import MAX_ID, whole_number
from app.models import User

ROLE_LEVEL = {"viewer": 1, "editor": 3, "admin": 4}  # the levels of app.accounts.access
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


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


def _named(username):
    """The condition "this username, whatever its case" (served by the user_username_lower index)."""
    return fn.LOWER(User.username) == username.lower()


def create_user(data, actor=audit.SYSTEM):
    """Validate and create a user; raises ValidationError (422), or Conflict (409) when the name is taken in any
    case."""
    data = UserCreateSchema().load(data)
    check_password_policy(data["username"], data["password"])
    try:
        with database.atomic():
            existing = User.get_or_none(_named(data["username"]))
            if existing is not None:
                raise _taken(data["username"], existing)
            user = User.create(username=data["username"], role=data["role"],
                               password_hash=hash_password(data["password"]))
            audit.record(actor, "create", "user", user.username, after=user_to_dict(user))
    except IntegrityError:  # a concurrent create took the name first
        raise _taken(data["username"], None) from None
    return user


def _taken(username, existing):
    same = existing is None or existing.username == username
    return Conflict("A user named %r already exists%s." % (
        username if same else existing.username, "" if same else " (usernames are case-insensitive)"),
        {"username": ["Already taken."]})


def authenticate(username, password):
    """The active user with this password, or None. Costs the same whether or not the user exists."""
    user = User.get_or_none(_named(username))
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
    user = User.get_or_none(_named(username))
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
        if "password" in data or after["role"] != before["role"] or (before["active"] and not after["active"]):
            end_sessions(user)  # a stolen session or remember cookie dies with the old password or role
        if after != before:
            audit.record(actor, "update", "user", user.username, before=before, after=after)
    return user


def end_sessions(user):
    """End every session and remember cookie of ``user`` issued so far (logout, password, role, deactivation)."""
    User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()
    user.session_version += 1


def session_user(alternative_id):
    """The active user whose session or remember cookie holds ``alternative_id`` ("<id>:<session version>", see
    User.get_id), or None when that session has ended (or predates session versions)."""
    user_id, _, version = str(alternative_id).partition(":")
    try:
        user_id, version = whole_number(user_id), whole_number(version)
    except ValueError:
        return None
    if not (0 < user_id <= MAX_ID and 0 < version <= MAX_ID):
        return None
    return User.get_or_none((User.id == user_id) & (User.session_version == version) & User.active)
