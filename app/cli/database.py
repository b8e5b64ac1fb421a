"""The database schema: apply, revert and list the numbered migrations."""
import sys

import click

from app.cli.context import AppContext


@click.group()
def db():
    """Database schema migrations."""


@db.command()
@click.option("--to", type=int, help="Stop after migration number N.")
def upgrade(to):
    """Apply pending migrations."""
    from app import migrations
    from app.db import database

    with AppContext():
        applied = migrations.upgrade(database.obj, to)
    click.echo("applied: %s" % ", ".join(applied) if applied else "database is up to date")


@db.command()
@click.option("--to", type=int, help="Revert every migration numbered above N (0 reverts all).")
def downgrade(to):
    """Revert the newest migration (or down to --to N)."""
    from app import migrations
    from app.db import database

    with AppContext():
        reverted = migrations.downgrade(database.obj, to)
    click.echo("reverted: %s" % ", ".join(reverted) if reverted else "nothing to revert")


@db.command()
def status():
    """List migrations and whether each is applied; exits 1 while any is pending."""
    from app import migrations
    from app.db import database

    with AppContext():
        rows = migrations.status(database.obj)
    for _, name, applied in rows:
        click.echo("[%s] %s%s" % ("x" if applied else " ", name, "  " + applied.strftime("%Y-%m-%d %H:%M:%S") if applied else ""))
    if any(applied is None for _, _, applied in rows):
        sys.exit(1)
