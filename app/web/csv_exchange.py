"""The /import page: upload a CSV file of events, read the report of every row, then confirm to record them all.

Nothing is written until the user confirms. The checked file is not kept on the server: the report page carries
it back in the confirm form, compressed and signed (itsdangerous, with the app's secret key, for this user, for an
hour), so the import records exactly the bytes the user saw checked, on whichever worker or host the confirmation
lands, and an abandoned check leaves nothing behind. The confirmation checks every row again (the ledger may have
changed) and writes all of them or none. The session remembers the digests of the files it imported, so the same
file checked or confirmed again (the back button, a second upload) is flagged, and imported once more only when the
user ticks "import it again".
"""
import base64
import binascii
import hashlib
import zlib
from datetime import timedelta

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from app.db import utcnow
from app.ledger import csv_exchange
from app.models import EVENT_TYPES, SEVERITIES, SOURCES

bp = Blueprint("csv_exchange", __name__)
# More problems than this are summed up, not listed: a broken 50,000-row file must not build a 50,000-row page.
MAX_SHOWN_ERRORS = 500
PREVIEW_ROWS = 100  # the report shows the first rows of a file, then every other row with a problem
CHECK_VALID_SECONDS = 3600
REMEMBERED_IMPORTS = 10  # digests of imported files the session keeps, to flag a second import
TEMPLATE_COLUMNS = ("title", "type", "severity", "occurred_at", "ended_at", "agents", "tools", "toolchains", "tags",
                    "description", "build_url")
EXAMPLE = """title,type,severity,occurred_at,ended_at,agents,tools,toolchains,tags,description,build_url
JDK 17.0.8 → 17.0.9,tool_update,low,2026-01-31T09:15:00Z,,linux-01;linux-02,jdk-17,java,jdk,Rolled out by Ansible,
Artifact proxy unreachable,outage,critical,2026-01-31T10:00:00Z,2026-01-31T10:40:00Z,,,,proxy,"Nexus down, builds failed",
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


class CheckExpired(ValueError):
    """The confirmed check is too old, altered, or another user's: the file must be uploaded again."""


@bp.url_value_preprocessor
def _import_size_limit(endpoint, values):
    # Runs before the before_request hooks, one of which (the CSRF check) reads the body.
    if endpoint in ("csv_exchange.upload", "csv_exchange.confirm"):
        request.max_content_length = current_app.config["MAX_IMPORT_BYTES"]
        request.max_form_memory_size = current_app.config["MAX_IMPORT_BYTES"]


@bp.get("/import")
def form():
    return _import_page()


@bp.get("/import/template.csv")
def template():
    response = Response(EXAMPLE, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="changetracker-import-template.csv"'
    return response


@bp.post("/import")
def upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(errors={"file": ["Choose a CSV file to import."]}, status=422)
    data = upload.read()
    try:
        report = csv_exchange.import_csv(data, actor=g.actor, dry_run=True)
    except csv_exchange.UnreadableFile as exc:
        return _import_page(errors={"file": [str(exc)]}, status=422)
    sealed = None if report["errors"] else _seal(data, upload.filename)
    return _import_page(report=report, data=data, filename=upload.filename, sealed=sealed,
                        status=422 if report["errors"] else 200)


@bp.post("/import/confirm")
def confirm():
    sealed = request.form.get("checked", "")
    try:
        data, filename = _unseal(sealed)
    except CheckExpired as exc:
        return _import_page(errors={"file": [str(exc)]}, status=422)
    previous = _imported_before(data)
    if previous and request.form.get("again") != "on":
        report = csv_exchange.import_csv(data, actor=g.actor, dry_run=True)
        return _import_page(report=report, data=data, filename=filename, sealed=None if report["errors"] else sealed,
                            errors={"again": ["This file was imported already, at %s UTC (%d events). Tick the box "
                                              "to import it again." % (previous[1], previous[2])]}, status=409)
    report = csv_exchange.import_csv(data, actor=g.actor)
    if report["errors"]:  # the ledger changed since the check (a revert's target was deleted, say)
        return _import_page(report=report, data=data, filename=filename, status=422)
    done = [entry for entry in session.get("imported_files", []) if entry[0] != _digest(data)]
    session["imported_files"] = (done + [[_digest(data), utcnow().strftime("%Y-%m-%d %H:%M"),
                                          report["created"]]])[-REMEMBERED_IMPORTS:]
    flash("Imported %d event%s from %s." % (report["created"], "" if report["created"] == 1 else "s", filename), "ok")
    return redirect(url_for("csv_exchange.form", imported=report["created"]), code=303)


def _digest(data):
    return hashlib.sha256(data).hexdigest()[:24]


def _imported_before(data):
    """[digest, when (UTC text), events] of this very file's import from this session, or None."""
    return next((entry for entry in session.get("imported_files", []) if entry[0] == _digest(data)), None)


def _signer():
    # Bound to the user: a check handed to someone else cannot be confirmed by them.
    return TimestampSigner(current_app.config["SECRET_KEY"], salt="csv-import:%s" % g.actor.user_id)


def _seal(data, filename):
    """file . name: the file compressed, each part URL-safe base64, signed with a timestamp."""
    parts = (zlib.compress(data, 6), filename.encode("utf-8"))
    return _signer().sign(b".".join(base64.urlsafe_b64encode(p) for p in parts)).decode("ascii")


def _unseal(sealed):
    """(file, file name) of a sealed check; CheckExpired when it is too old or not this user's."""
    try:
        packed = _signer().unsign(sealed.encode("ascii"), max_age=CHECK_VALID_SECONDS)
        data, filename = (base64.urlsafe_b64decode(p) for p in packed.split(b"."))
        return zlib.decompress(data), filename.decode("utf-8")
    except SignatureExpired:
        raise CheckExpired("That check is more than an hour old: upload the file again to check it anew.") from None
    except (BadSignature, UnicodeError, binascii.Error, zlib.error, ValueError):
        raise CheckExpired("That check cannot be confirmed (it was altered or belongs to another user): upload "
                           "the file again.") from None


def _import_page(report=None, data=None, filename=None, sealed=None, errors=None, status=200):
    rows, total = {}, 0
    previous = _imported_before(data) if data is not None else None
    shown_errors = (report or {}).get("errors", [])[:MAX_SHOWN_ERRORS]
    if report is not None:
        bad = {e["row"] for e in shown_errors}
        rows, total = csv_exchange.read_rows(data, numbers=bad, first=PREVIEW_ROWS)
    problems = {}
    for error in shown_errors:
        problems.setdefault(error["row"], []).append(error)
    example_from = (utcnow() - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return render_template(
        "import.html", report=report, filename=filename, sealed=sealed, errors=errors or {}, previous=previous,
        summary=csv_exchange.summary(report) if report and report["errors"] else None,
        rows=[(n, rows.get(n), problems.get(n, [])) for n in sorted(set(rows) | (set(problems) - {1}))],
        header_problems=problems.get(1, []), total_rows=total, bad_rows=len(set(problems) - {1}),
        more_errors=len((report or {}).get("errors", [])) - len(shown_errors), preview_rows=PREVIEW_ROWS,
        columns=csv_exchange.COLUMNS, column_help=COLUMN_HELP, example=EXAMPLE,
        export_url=url_for("api.csv_exchange.export_events", **{"from": example_from}),
        max_megabytes=current_app.config["MAX_IMPORT_BYTES"] // (1024 * 1024),
        imported=request.args.get("imported", type=int),
    ), status
