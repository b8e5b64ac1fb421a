"""The /import page: upload a CSV file of events, check it (dry run) or record all of its rows, or none."""
from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from app.db import utcnow
from app.ledger import csv_exchange
from app.models import EVENT_TYPES, SEVERITIES, SOURCES

bp = Blueprint("csv_exchange", __name__)
# More problems than this are summed up, not listed: a broken 50,000-row file must not build a 50,000-row page.
MAX_SHOWN_ERRORS = 500
EXAMPLE = """title,type,severity,occurred_at,ended_at,agents,tools,tags,description
JDK 17.0.8 → 17.0.9,tool_update,low,2026-01-31T09:15:00Z,,linux-01;linux-02,jdk-17,jdk,Rolled out by Ansible
Artifact proxy unreachable,outage,critical,2026-01-31T10:00:00Z,2026-01-31T10:40:00Z,,,proxy,
"""

COLUMN_HELP = {
    "id": "The event's id where the file came from; only used so that reverts can name another row of the file. "
          "Imported events get new ids.",
    "title": "Required: 1 to 200 characters.",
    "description": "Free text.",
    "type": "One of %s; empty: note." % ", ".join(EVENT_TYPES),
    "severity": "One of %s; empty: info." % ", ".join(SEVERITIES),
    "source": "One of %s; empty: import." % ", ".join(SOURCES),
    "occurred_at": "ISO 8601 with a UTC offset, e.g. 2026-01-31T09:15:00Z; empty: the time of the import.",
    "ended_at": "ISO 8601 with a UTC offset; only for intervals such as outages.",
    "agents": "Names separated by ';', e.g. linux-01;linux-02. Unknown names are added to the catalogue.",
    "tools": "Names separated by ';'.",
    "toolchains": "Names separated by ';'.",
    "tags": "Tags separated by ';'.",
    "changes": 'JSON list of {"path", "before", "after"}.',
    "links": 'JSON list of {"url", "text"}.',
    "build_url": "The http(s) URL of the build that made the change.",
    "metadata": "JSON object, at most 64 KiB.",
    "dedupe_key": "Kept as it is; imported rows are never folded into other events.",
    "reverts": "Id of the event this one rolls back: another row's id, or an event already in the ledger.",
    "count": "Written by the export; ignored on import.",
    "first_seen": "Written by the export; ignored on import.",
    "last_seen": "Written by the export; ignored on import.",
    "created_by": "Written by the export; ignored on import (you are the importer).",
}


@bp.url_value_preprocessor
def _import_size_limit(endpoint, values):
    # Runs before the before_request hooks, one of which (the CSRF check) reads the multipart body.
    if endpoint == "csv_exchange.upload":
        request.max_content_length = current_app.config["MAX_IMPORT_BYTES"]


@bp.get("/import")
def form():
    return _import_page()


@bp.post("/import")
def upload():
    dry_run = request.form.get("dry_run") == "on"
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(dry_run=dry_run, errors={"file": ["Choose a CSV file to import."]}, status=422)
    try:
        report = csv_exchange.import_csv(upload.read(), actor=g.actor, dry_run=dry_run)
    except csv_exchange.UnreadableFile as exc:
        return _import_page(dry_run=dry_run, errors={"file": [str(exc)]}, status=422)
    if report["errors"]:
        return _import_page(dry_run=dry_run, report=report, filename=upload.filename, status=422)
    if dry_run:
        # The file is fine: the next step is the real import, so the box is left unticked for it.
        return _import_page(report=report, filename=upload.filename)
    flash("Imported %d event%s from %s." % (report["created"], "" if report["created"] == 1 else "s",
                                          upload.filename), "info")
    return redirect(url_for("csv_exchange.form", imported=report["created"]), code=303)


def _import_page(dry_run=False, report=None, filename=None, errors=None, status=200):
    example_from = (utcnow() - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return render_template(
        "import.html", dry_run=dry_run, report=report, filename=filename, errors=errors or {},
        summary=csv_exchange.summary(report) if report and report["errors"] else None,
        shown_errors=(report or {}).get("errors", [])[:MAX_SHOWN_ERRORS], max_shown=MAX_SHOWN_ERRORS,
        columns=csv_exchange.COLUMNS, column_help=COLUMN_HELP, example=EXAMPLE,
        export_url=url_for("api.csv_exchange.export_events", **{"from": example_from}),
        max_megabytes=current_app.config["MAX_IMPORT_BYTES"] // (1024 * 1024),
        imported=request.args.get("imported", type=int),
    ), status
