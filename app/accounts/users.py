"""Users and their passwords (argon2): who may log in, and with which role."""
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from marshmallow import ValidationError

from app.accounts import audit
from app.accounts.schemas import UserCreateSchema, UserUpdateSchema
from app.db import database, from_db_time, utcnow
from app.errors import NotFound
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
