"""Events as CSV: export the filtered ledger as a streamed file, import such a file back."""
from flask import Blueprint, Response, abort, current_app, g, request, stream_with_context
from marshmallow import EXCLUDE, Schema, fields

from app.api.openapi import doc
from app.http.errors import error_response
from app.ledger import csv_exchange, filters

bp = Blueprint("csv_exchange", __name__)
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


class ImportQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    dry_run = fields.Boolean(load_default=False, metadata={"description": "check every row, write nothing"})


class ImportErrorSchema(Schema):
    row = fields.Integer(metadata={"description": "1 is the header, 2 the first event (as a spreadsheet numbers them)"})
    field = fields.String(allow_none=True)
    message = fields.String()


class ImportReportSchema(Schema):
    created = fields.Integer(metadata={"description": "events written (dry_run: that would be written; 0 with errors)"})
    errors = fields.List(fields.Nested(ImportErrorSchema), metadata={"description": "dry_run: every problem found"})


ExportQuerySchema = filters.EventFilterSchema(exclude=csv_exchange.PAGING_ARGUMENTS)


@bp.url_value_preprocessor
def _import_size_limit(endpoint, values):
    # This hook runs before the app's before_request ones, which may already read the body (the
    # CSRF check of a browser session), so the larger limit is in place before anything reads it.
    if endpoint == "api.csv_exchange.import_events":
        request.max_content_length = current_app.config["MAX_IMPORT_BYTES"]


@bp.errorhandler(csv_exchange.UnreadableFile)
def _unreadable(exc):
    return error_response(400, str(exc))


@bp.get("/events/export.csv")
@doc("Export events as CSV", query=ExportQuerySchema, response={"text/csv": {"schema": {"type": "string"}}},
     errors=(400, 401, 403),  # 400: NUL characters in the query (app.http.rules.reject_nul_characters)
     description="The filters of GET /api/v1/events; every matching event, newest first, streamed. One row per "
                 "event: ISO 8601 UTC times, agents/tools/toolchains/tags joined with ';', changes/links/metadata "
                 "as JSON; cells that start like a spreadsheet formula get a leading '.")
def export_events():
    rows = csv_exchange.export_rows(csv_exchange.export_filters(request.args))
    response = Response(stream_with_context(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="%s"' % csv_exchange.export_filename()
    return response


@bp.post("/events/import")
@doc("Import events from CSV", query=ImportQuerySchema, response=ImportReportSchema,
     body={"schema": {"type": "string"}}, body_content_type="text/csv",
     description="A CSV body, or a multipart upload in the field 'file', with the export's header (any of its "
                 "columns; title is required; id, count, first_seen, last_seen and created_by are ignored). Every "
                 "row is checked before anything is written. dry_run=true answers 200 with every problem as "
                 "{row, field, message} (row 1 is the header); an import with any problem answers 422, each "
                 "problem under 'row N: field' in errors, and writes nothing.")
def import_events():
    dry_run = ImportQuerySchema().load(request.values)["dry_run"]
    report = csv_exchange.import_csv(_upload(), actor=g.actor, dry_run=dry_run)
    if report["errors"] and not dry_run:
        return error_response(422, csv_exchange.summary(report), _by_location(report["errors"]),
                              extra={"created": 0, "rows": report["errors"]})
    return report


def _by_location(errors):
    """Import problems in the API's one error shape: {"row 1002: severity": [messages]}."""
    located = {}
    for error in errors:
        where = "row %d: %s" % (error["row"], error["field"]) if error["field"] else "row %d" % error["row"]
        located.setdefault(where, []).append(error["message"])
    return located


def _upload():
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            abort(400, description="Send the CSV file in the multipart field 'file'.")
        return upload.read()
    if request.mimetype and request.mimetype not in CSV_TYPES:
        abort(415, description="Send the file as text/csv (e.g. curl -H 'Content-Type: text/csv' --data-binary "
                               "@events.csv) or as the multipart field 'file'.")
    return request.get_data(cache=False)
