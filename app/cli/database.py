"""The database schema: apply, revert and list the numbered migrations."""
import sys

import click

from app.cli.context import AppContext


@click.group()
def db():
    """Database schema migrations."""


@db.command()
@click.option("--to", type=int, help="Stop after migration number N.")
@click.option("--wait", default=0, metavar="SECONDS", help="Wait this long for the database to accept connections.")
def upgrade(to, wait):
    """Apply pending migrations."""
    from app import migrations
    from app.db import database

    with AppContext(wait):
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


@db.command("copy")
@click.argument("target_url")
def copy(target_url):
    """Copy this database, every row and id, into the empty database TARGET_URL (e.g. postgresql://...)."""
    from app.ops import transfer

    with AppContext():
        try:
            report = transfer.copy_database(target_url)
        except transfer.TransferError as exc:
            click.echo("error: %s" % exc, err=True)
            sys.exit(1)
    click.echo("copied into %s: %s" % (report.target, ", ".join("%s %d" % i for i in report.copied.items())))
