"""Events in and out as CSV."""
import sys

import click
from marshmallow import ValidationError

from app.cli.context import CLI_ACTOR, AppContext, fail_validation


@click.command("import")
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


@click.command("export")
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
            fail_validation(exc)
        if output is None:
            for chunk in csv_exchange.export_rows(query_filters):
                click.echo(chunk, nl=False)
            return
        with open(output, "w", encoding="utf-8", newline="") as out:
            for chunk in csv_exchange.export_rows(query_filters):
                out.write(chunk)
    click.echo("exported to %s" % output, err=True)
