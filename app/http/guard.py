"""Enforces app.accounts.access before every request of the main app: authenticates the caller (a bearer token or
the session), checks CSRF for unsafe requests that a browser could forge, and refuses what the route's rule does
not allow. Deny by default: a route missing from the table is refused for everyone."""
from flask import abort, g, request
from flask_login import current_user

from app.accounts import tokens, users
from app.accounts.access import LEVEL_NAMES, PUBLIC, SAFE_METHODS, SELF_AUTHENTICATED, required_level
from app.accounts.audit import Actor
from app.http.extensions import csrf


class Unauthorized(Exception):
    """The request carries no usable credentials; the message says what is wrong."""


def enforce():
    """before_request hook: authenticate, then check the route's rule."""
    endpoint = request.endpoint
    if endpoint is None:  # 404 / 405: let Flask answer
        return
    rule = required_level(endpoint)
    if rule is None:
        abort(403, description="This route has no access rule; refusing by default.")
    if endpoint in SELF_AUTHENTICATED:
        g.actor, g.level, g.via = None, 0, None
        return
    g.actor = None
    g.level = 0
    g.via = None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        _authenticate_token(header[7:].strip())
    elif current_user.is_authenticated:
        g.actor = Actor(current_user.username, user_id=current_user.id)
        g.level = users.ROLE_LEVEL[current_user.role]
        g.via = "session"
    if rule != PUBLIC and g.actor is None:
        raise Unauthorized("Authentication required: log in or send 'Authorization: Bearer <token>'.")
    if request.method not in SAFE_METHODS and g.via != "token":
        csrf.protect()  # forms and session-authenticated API calls; bearer tokens cannot be forged cross-site
    if rule == PUBLIC:
        return
    if g.level < rule:
        needed = LEVEL_NAMES[rule]
        abort(403, description="This needs %s access; your %s allows less." % (
            needed, "token" if g.via == "token" else "role"))


def _authenticate_token(secret):
    try:
        token, user = tokens.resolve_token(secret)
    except tokens.TokenError as exc:
        raise Unauthorized(str(exc)) from None
    g.actor = Actor("%s (token %s)" % (user.username, token.name), user_id=user.id, token_id=token.id)
    g.level = tokens.token_level(token, user)
    g.via = "token"
