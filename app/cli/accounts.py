"""Users and their API tokens."""
import secrets
import sys
from datetime import datetime, timezone

import click
from marshmallow import ValidationError

from app.cli.context import CLI_ACTOR, AppContext, fail, fail_validation
from app.errors import Conflict, NotFound
from app.models import SCOPES


@click.command()
@click.option("--events", "count", default=60, show_default=True, help="How many demo events on an empty ledger.")
def seed(count):
    """First-run set-up: an admin (password printed once) and demo events, each only if none exist."""
    from app.accounts import users
    from app.models import User
    from app.ops import demo

    with AppContext():
        if not User.select().exists():
            password = secrets.token_urlsafe(12)
            users.create_user({"username": "admin", "role": "admin", "password": password}, actor=CLI_ACTOR)
            click.echo("created admin user 'admin' with password: %s  (shown once; change it after logging in)" % password)
        made = demo.seed(count)
        click.echo("seeded %d demo events" % made if made else "ledger already has events; no demo data added")


@click.group()
def users():
    """User accounts."""


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="viewer", show_default=True)
@click.option("--password", help="Prompted for (hidden, twice) when omitted.")
def users_create(name, role, password):
    """Create a user."""
    from app.accounts import users

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with AppContext():
        try:
            user = users.create_user({"username": name, "role": role, "password": password}, actor=CLI_ACTOR)
        except ValidationError as exc:
            fail_validation(exc)
        except Conflict as exc:
            fail_validation(ValidationError(exc.errors or {"username": [exc.message]}))
    click.echo("created %s %s" % (user.role, user.username))


@click.group()
def tokens():
    """API tokens for pipelines, pollers and scripts."""


@tokens.command("create")
@click.option("--user", "username", required=True)
@click.option("--scope", type=click.Choice(SCOPES), required=True,
              help="read; record (pipelines and pollers: append-only); write (edits); admin.")
@click.option("--name", default="cli", show_default=True)
@click.option("--expires", type=int, help="Days until the token expires (default: never).")
def tokens_create(username, scope, name, expires):
    """Create a token; the secret is printed once, on the last line."""
    from app.accounts import tokens, users

    with AppContext():
        try:
            user = users.get_user(username)
        except NotFound:
            click.echo("error: no user named %r" % username, err=True)
            sys.exit(2)
        try:
            token, secret = tokens.create_token(user, {"name": name, "scopes": [scope], "expires_days": expires},
                                                actor=CLI_ACTOR)
        except ValidationError as exc:
            fail_validation(exc)
    expires_at = tokens.token_view(token)["expires_at"]
    click.echo("created token %d %r (%s) for %s, expires %s; the secret is shown only now:" % (
        token.id, token.name, scope, user.username, _expiry(expires_at, datetime.now(timezone.utc))))
    click.echo(secret)


@tokens.command("list")
@click.option("--user", "username", help="Only this user's tokens (default: everyone's).")
def tokens_list(username):
    """List tokens, newest first: who holds them, scopes, expiry, last use and state (never a secret)."""
    from app.accounts import tokens, users

    with AppContext():
        try:
            owner = users.get_user(username) if username else None
        except NotFound as exc:
            fail(exc)
        views = [tokens.token_view(token) for token in tokens.list_tokens(owner)]
    if not views:
        click.echo("no tokens%s" % (" of %s" % username if username else ""))
        return
    now = datetime.now(timezone.utc)
    rows = [("ID", "USER", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "STATE")]
    rows += [(str(view["id"]), view["user"], view["name"], ",".join(view["scopes"]), _minute(view["created_at"]),
              _expiry(view["expires_at"], now), _minute(view["last_used_at"]) or "never", view["state"])
             for view in views]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1), metavar="ID")
def tokens_revoke(token_id):
    """Revoke the token ID (from `tokens list`) at once: its next request is refused. Already revoked: no change."""
    from app.accounts import tokens

    with AppContext():
        try:
            view = tokens.token_view(tokens.revoke_token(token_id, actor=CLI_ACTOR, may_revoke_others=True))
        except NotFound as exc:
            fail(exc)
    click.echo("token %d (%r of %s) is revoked since %s UTC" % (
        view["id"], view["name"], view["user"], _minute(view["revoked_at"])))


def _minute(moment):
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _expiry(moment, now):
    if moment is None:
        return "never"
    days = (moment - now).total_seconds() / 86400
    when = "in %d days" % round(days) if days >= 1 else "today" if days > 0 else "expired"
    return "%s (%s)" % (moment.strftime("%Y-%m-%d"), when)
