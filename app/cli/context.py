"""What every command shares: the app to run against, an app context with an open connection, and the way
commands report a refusal (a message on stderr and an exit status)."""
import sys

import click

from app.accounts.audit import Actor

CLI_ACTOR = Actor("cli")


def build_app():
    """The app under test when invoked through Flask's CliRunner, else one built from the environment."""
    from flask.cli import ScriptInfo

    from app import create_app

    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx else None
    return info.load_app() if info else create_app()


class AppContext:
    """An app context with an open database connection, closed on exit."""

    def __init__(self, wait=0):
        self.wait = wait  # seconds to wait for the database server to accept connections

    def __enter__(self):
        from app.db import database, wait_until_open

        self.app = build_app()
        self.ctx = self.app.app_context()
        self.ctx.push()
        wait_until_open(database, self.wait)
        return self.app

    def __exit__(self, *exc):
        from app.db import database

        if not database.is_closed():
            database.close()
        self.ctx.pop()


def fail_validation(exc):
    for field, messages in sorted(exc.messages.items()):
        click.echo("error: %s: %s" % (field, " ".join(map(str, messages))), err=True)
    sys.exit(2)


def fail(exc, code=2):
    click.echo("error: %s" % exc, err=True)
    sys.exit(code)


def confirmed(question):
    """Ask ``question`` on the terminal, default no; no answer (stdin is not a terminal, or closed) is no."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        click.echo("", err=True)
        return False
