"""The ``changetracker`` command line: serve, migrate, seed, manage users and tokens, import and export CSV, back up,
restore and purge."""
import logging
import os
import secrets
import shutil
import sys

import click
from marshmallow import ValidationError

from app.accounts.audit import Actor
from app.models import SCOPES

CLI_ACTOR = Actor("cli")


def _app():
    """The app under test when invoked through Flask's CliRunner, else one built from the environment."""
    from flask.cli import ScriptInfo

    from app import create_app

    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx else None
    return info.load_app() if info else create_app()


class AppContext:
    """An app context with an open database connection, closed on exit."""

    def __enter__(self):
        from app.db import database

        self.app = _app()
        self.ctx = self.app.app_context()
        self.ctx.push()
        database.connect(reuse_if_open=True)
        return self.app

    def __exit__(self, *exc):
        from app.db import database

        if not database.is_closed():
            database.close()
        self.ctx.pop()


def _fail_validation(exc):
    for field, messages in sorted(exc.messages.items()):
        click.echo("error: %s: %s" % (field, " ".join(map(str, messages))), err=True)
    sys.exit(2)


@click.group()
def main():
    """Change Tracker: a change ledger for Jenkins fleets."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def serve(bind, workers, threads):
    """Serve the web UI and API with gunicorn."""
    from app.http.metrics import MULTIPROCESS_ENV

    app = _app()  # fail here, with a clear message, if the configuration is unusable
    # /metrics sums the request counts of every gunicorn process (prometheus_client's multiprocess mode). Our
    # own folder holds this run's counts only, so it starts empty; one you name is yours to empty.
    if not os.environ.get(MULTIPROCESS_ENV):
        directory = os.path.join(app.instance_path, "prometheus")
        shutil.rmtree(directory, ignore_errors=True)
        os.environ[MULTIPROCESS_ENV] = directory
    os.makedirs(os.environ[MULTIPROCESS_ENV], exist_ok=True)
    args = [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers), "--threads", str(threads),
            "--access-logfile", "-", "--logger-class", "app.http.access_log.RedactingLogger", "app:create_app()"]
    os.execv(sys.executable, args)


@main.group()
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


@main.command()
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


@main.group()
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
            _fail_validation(exc)
    click.echo("created %s %s" % (user.role, user.username))


@main.group()
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
            _fail_validation(exc)
    click.echo("created token %r (%s) for %s%s; the secret is shown only now:" % (
        token.name, scope, username, ", expires in %d days" % expires if expires else ""))
    click.echo(secret)


@main.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
def import_events(file, dry_run):
    """Import events from a CSV FILE (the export's columns; - for stdin): every row, or none."""
    from app.ledger import csv_exchange

    content = file.read()
    with AppContext():
        try:
            report = csv_exchange.import_csv(content, actor=CLI_ACTOR, dry_run=dry_run)
        except csv_exchange.UnreadableFile as exc:
            click.echo("error: %s" % exc, err=True)
            sys.exit(2)
    if report["errors"]:
        for error in report["errors"]:
            click.echo("row %d: %s: %s" % (error["row"], error["field"] or "-", error["message"]), err=True)
        click.echo("error: %s" % csv_exchange.summary(report), err=True)
        sys.exit(2)
    if dry_run:
        click.echo("dry run: all %d rows are valid; nothing was written" % report["created"])
    else:
        click.echo("imported %d events" % report["created"])


@main.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@click.option("--from", "from_", metavar="ISO8601", help="Events at or after this time, e.g. 2026-11-01T00:00:00Z.")
@click.option("--to", metavar="ISO8601", help="Events before this time.")
@click.option("--agent", multiple=True, help="Repeatable, like every filter below: any of them matches.")
@click.option("--label", multiple=True)
@click.option("--tool", multiple=True)
@click.option("--toolchain", multiple=True)
@click.option("--type", "type_", multiple=True)
@click.option("--severity", multiple=True)
@click.option("--source", multiple=True)
@click.option("--tag", multiple=True)
@click.option("--q", metavar="TEXT", help="Text in title, description or metadata.")
def export_events(output, **options):
    """Export events as CSV, newest first, with the filters of GET /api/v1/events."""
    from werkzeug.datastructures import MultiDict

    from app.ledger import csv_exchange

    args = MultiDict()
    for name, value in options.items():
        for item in value if isinstance(value, tuple) else (value,):
            if item is not None:
                args.add(name.rstrip("_"), item)
    with AppContext():
        try:
            query_filters = csv_exchange.export_filters(args)
        except ValidationError as exc:
            _fail_validation(exc)
        if output is None:
            for chunk in csv_exchange.export_rows(query_filters):
                click.echo(chunk, nl=False)
            return
        with open(output, "w", encoding="utf-8", newline="") as out:
            for chunk in csv_exchange.export_rows(query_filters):
                out.write(chunk)
    click.echo("exported to %s" % output, err=True)


def _fail(exc, code=2):
    click.echo("error: %s" % exc, err=True)
    sys.exit(code)


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the copy to this file (must not exist).")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Write changetracker-<UTC time>.db (.dump on PostgreSQL) into DIR  "
                   "[default: $CHANGETRACKER_BACKUP_DIR, else instance/backups].")
def backup(output, directory):
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
        try:
            path = backups.backup(output=output, directory=directory)
        except backups.BackupError as exc:
            _fail(exc, 1)
    click.echo(path)


@main.command()
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
        return _confirmed("Replace the current database with the backup?")

    with AppContext() as app:
        try:
            report = restoring.restore(file, backups.directory(app.config, app.instance_path), confirm)
        except backups.NotConfirmed as exc:
            _fail("%s Answer y at the prompt or pass --yes." % exc, 1)
        except backups.UnusableBackup as exc:
            _fail(exc, 2)
        except backups.BackupError as exc:
            _fail(exc, 1)
        if report["safety_copy"]:
            click.echo("kept a copy of the previous database: %s" % report["safety_copy"])
        click.echo("restored %s (%s)" % (report["restored"].where, _describe(report["restored"])))
        try:
            applied = migrations.upgrade(database.obj)
        except Exception as exc:  # the restore stands; the migration that failed says why
            _fail("the backup is restored but a migration failed: %s; fix that, then run `changetracker db upgrade`"
                  % exc, 1)
    click.echo("applied: %s" % ", ".join(applied) if applied else "database is up to date")


def _confirmed(question):
    """Ask ``question`` on the terminal, default no; no answer (stdin is not a terminal, or closed) is no."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        click.echo("", err=True)
        return False


def _describe(state):
    schema_at = "schema at %s" % (state.migration or "no migration")
    if state.events is None:  # a PostgreSQL dump is not read through to count its events
        return schema_at
    return "%d event%s, %s" % (state.events, "" if state.events == 1 else "s", schema_at)


@main.command()
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
        _fail_validation(exc)
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
            if not _confirmed("Delete them?"):
                _fail("not confirmed; nothing was deleted. Answer y at the prompt or pass --yes.", 1)
        purged = retention.purge(at, actor=CLI_ACTOR)
    click.echo("purged, from before %s: %s" % (when, _counts(purged)))


def _counts(counts):
    return ", ".join("%d %s" % (n, name.replace("_", " ")[:-1] if n == 1 else name.replace("_", " "))
                     for name, n in counts.items())


@main.command()
@click.option("--once", is_flag=True, help="Drain what is due now, then exit (no schedule).")
@click.option("--no-schedule", is_flag=True, help="Only drain the inbox: never run pollers, retention or backups.")
def worker(once, no_schedule):
    """Process the webhook inbox and run the schedule (pollers, retention, backups) in one worker per deployment."""
    from app.ops.worker import Worker

    logging.getLogger("app").setLevel(logging.INFO)
    process = Worker(_app(), schedule=not no_schedule)
    if not once:
        process.install_signal_handlers()
    process.run(once=once)


@main.command()
@click.argument("pollers", nargs=-1, required=True, type=click.Choice(["jenkins", "registry", "packages", "all"]))
@click.option("--push", "push_url", metavar="URL", help="Send the snapshots to the tracker at URL instead of the "
              "local database (what the nightly Jenkins job does).")
@click.option("--token", envvar="CHANGETRACKER_TOKEN", help="API token with the record scope for --push "
              "[default: $CHANGETRACKER_TOKEN].")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the JSON summary to FILE instead of stdout.")
def poll(pollers, push_url, token, output):
    """Observe Jenkins, registries and package indexes and record what changed.

    Prints a JSON summary (per poller: what it saw, what changed, the events, the errors); exits 1
    when a poller failed, with its errors on stderr. Configuration: README, "Pollers".
    """
    import json

    from app.polling import runner
    from app.polling.collectors import config as poller_config

    if push_url and not token:
        click.echo("error: --push needs a token with the record scope: --token or CHANGETRACKER_TOKEN", err=True)
        sys.exit(2)
    try:
        if push_url:  # runs where there is no local database (a Jenkins agent): no app, no PollRun rows
            settings = poller_config.load()
            _refuse_unconfigured(pollers, settings)
            summary = runner.run_pollers(pollers, push_url=push_url, token=token, settings=settings)
        else:
            with AppContext() as app:
                settings = poller_config.load_for_app(app.config, app.instance_path)
                _refuse_unconfigured(pollers, settings)
                summary = runner.run_pollers(pollers, settings=settings, actor=Actor("poller (cli)"))
    except poller_config.PollerConfigError as exc:
        click.echo("error: %s" % exc, err=True)
        sys.exit(2)
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str)
    if output:
        with open(output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    else:
        click.echo(text)
    for report in summary["pollers"]:
        for problem in report.get("errors", []):
            click.echo("error: %s: %s: %s" % (report["poller"], problem["target"], problem["message"]), err=True)
        click.echo("%s: %s%s" % (report["poller"], report["status"], "" if report["status"] == "skipped" else
                                 " (%d observed, %d changed, %d events, %d errors)" % (
                                     report["observed"], report["changed"], report["events"], len(report["errors"]))),
                   err=True)
    if summary["status"] != "ok":
        sys.exit(1)


def _refuse_unconfigured(names, settings):
    """A poller named on the command line with nothing to watch is a mistake; ``all`` runs what is configured."""
    for name in names:
        if name != "all" and not settings.configured(name):
            from app.polling.runner import WHERE

            click.echo("error: nothing configured for the %s poller: add %s (README, \"Pollers\")%s" % (
                name, WHERE[name], "; pollers file: %s" % settings.source if settings.source else ""), err=True)
            sys.exit(2)


@main.command("init-instance", hidden=True)
def init_instance():
    """Write instance/secret_key if missing (used by `make run`)."""
    from app import ROOT, config

    instance = os.environ.get("CHANGETRACKER_INSTANCE_PATH") or os.path.join(ROOT, "instance")
    click.echo("secret key in %s" % config.write_instance_secret_key(instance))
