"""Users and their API tokens."""
import secrets
import sys

import click
from marshmallow import ValidationError

from app.cli.context import CLI_ACTOR, AppContext, fail_validation
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
        made = demo.seed_events(count)
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
    from app.accounts import tokens
    from app.models import User

    with AppContext():
        user = User.get_or_none(User.username == username)
        if user is None:
            click.echo("error: no user named %r" % username, err=True)
            sys.exit(2)
        try:
            token, secret = tokens.create_token(user, {"name": name, "scopes": [scope], "expires_days": expires},
                                                  actor=CLI_ACTOR)
        except ValidationError as exc:
            fail_validation(exc)
    click.echo("created token %r (%s) for %s%s; the secret is shown only now:" % (
        token.name, scope, username, ", expires in %d days" % expires if expires else ""))
    click.echo(secret)
