"""Backups, restores and purges of the ledger."""
import click
from marshmallow import ValidationError

from app.cli.context import CLI_ACTOR, AppContext, confirmed, fail, fail_validation


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the copy to this file (must not exist).")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Write changetracker-<UTC time>.db (.dump on PostgreSQL) into DIR  "
                   "[default: $CHANGETRACKER_BACKUP_DIR, else instance/backups].")
@click.option("--every", "hours", type=click.FloatRange(min=0.01), metavar="HOURS",
              help="Back up into --dir now and every HOURS, keeping the newest $CHANGETRACKER_BACKUP_KEEP (a service).")
def backup(output, directory, hours):
    """Write a consistent copy of the database and print its path.

    SQLite: VACUUM INTO, safe while the service and workers run. PostgreSQL: pg_dump --format=custom with the
    connection of CHANGETRACKER_DATABASE_URL; needs pg_dump on PATH (the server's major version or newer) and
    otherwise says so and exits 1: back up with your own tools then (pg_dump, base backups).
    """
    from app.ops import backups

    if output and directory:
        raise click.UsageError("--output and --dir exclude each other.")
    with AppContext() as app:
        directory = directory or backups.directory(app.config, app.instance_path)
        if hours:
            return backups.backup_every(hours, directory, app.config["BACKUP_KEEP"], log=click.echo)
        try:
            path = backups.backup(output=output, directory=directory)
        except backups.BackupError as exc:
            fail(exc, 1)
    click.echo(path)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace the current database without asking.")
def restore(file, yes):
    """Replace the database with the backup FILE, then apply pending migrations.

    Stop the web service and every worker first. FILE must be a Change Tracker database no newer than this version:
    on SQLite a database file (what `changetracker backup` writes; integrity-checked), on PostgreSQL a pg_dump
    custom-format archive (needs pg_restore, psql and pg_dump on PATH). Asks before replacing a database that holds
    anything, unless --yes; a copy of the current database is kept first, in the backup directory
    ($CHANGETRACKER_BACKUP_DIR, else instance/backups), and its path printed. SQLite swaps the file in with one
    rename; PostgreSQL empties the schema and loads the dump in one transaction. Nothing changes when it fails.
    Exits 2 when FILE is unusable, 1 when not confirmed or when the database is in use or a tool fails.
    """
    from app import migrations
    from app.db import database
    from app.ops import backups
    from app.ops import restore as restoring

    def confirm(current, incoming):
        if yes:
            return True
        click.echo("Current database: %s (%s).\nBackup: %s (%s)." % (
            current.where, _describe(current), incoming.where, _describe(incoming)), err=True)
        return confirmed("Replace the current database with the backup?")

    with AppContext() as app:
        try:
            report = restoring.restore(file, backups.directory(app.config, app.instance_path), confirm)
        except backups.NotConfirmed as exc:
            fail("%s Answer y at the prompt or pass --yes." % exc, 1)
        except backups.UnusableBackup as exc:
            fail(exc, 2)
        except backups.BackupError as exc:
            fail(exc, 1)
        if report["safety_copy"]:
            click.echo("kept a copy of the previous database: %s" % report["safety_copy"])
        click.echo("restored %s (%s)" % (report["restored"].where, _describe(report["restored"])))
        try:
            applied = migrations.upgrade(database.obj)
        except Exception as exc:  # the restore stands; the migration that failed says why
            fail("the backup is restored but a migration failed: %s; fix that, then run `changetracker db upgrade`"
                 % exc, 1)
    click.echo("applied: %s" % ", ".join(applied) if applied else "database is up to date")


def _describe(state):
    schema_at = "schema at %s" % (state.migration or "no migration")
    if state.events is None:  # a PostgreSQL dump is not read through to count its events
        return schema_at
    return "%d event%s, %s" % (state.events, "" if state.events == 1 else "s", schema_at)


@click.command()
@click.option("--before", metavar="DATE", help="Purge what is older than this date or time (ISO 8601, UTC unless it "
              "has an offset), e.g. 2025-01-01.")
@click.option("--older-than", "older_than", type=int, metavar="DAYS", help="Purge what is older than DAYS days.")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@click.option("--yes", is_flag=True, help="Delete without asking.")
def purge(before, older_than, dry_run, yes):
    """Delete events older than a cutoff, with their comments and links, and old processed inbox items.

    An event goes when it occurred before the cutoff and (an interval) ended before it. Its comments and its agent,
    tool, toolchain and tag links go with it; agents, tools, toolchains and the audit trail stay, and one audit
    entry records the purge and its counts. Webhook inbox items that are done, ignored or dead go when received
    before the cutoff (pending ones never). Runs in batches, one transaction each; asks first unless --yes.
    """
    from app.ops import retention

    try:
        at = retention.cutoff(before=before, older_than_days=older_than)
    except ValidationError as exc:
        fail_validation(exc)
    when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    with AppContext():
        counts = retention.count(at)
        if dry_run:
            click.echo("dry run: would purge, from before %s: %s; nothing was deleted" % (when, _counts(counts)))
            return
        if not any(counts.values()):
            click.echo("nothing to purge from before %s" % when)
            return
        if not yes:
            click.echo("Purging from before %s: %s." % (when, _counts(counts)), err=True)
            if not confirmed("Delete them?"):
                fail("not confirmed; nothing was deleted. Answer y at the prompt or pass --yes.", 1)
        purged = retention.purge(at, actor=CLI_ACTOR)
    click.echo("purged, from before %s: %s" % (when, _counts(purged)))


def _counts(counts):
    return ", ".join("%d %s" % (n, name.replace("_", " ")[:-1] if n == 1 else name.replace("_", " "))
                     for name, n in counts.items())
