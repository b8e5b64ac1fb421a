"""Events as CSV: the export's columns and cell encoding, and an import that reads exactly that back.

One row per event, header first. Timestamps are ISO 8601 in UTC (``...Z``); agents, tools,
toolchains and tags are joined with ``;``; changes, links and metadata are JSON text. A cell that a
spreadsheet would run as a formula (it starts with ``= + - @``, a tab or a carriage return) is
written with a leading ``'``, and so is a cell that is already quotes followed by such a character;
the import strips exactly that one quote, so export → import → export gives the same rows.
"""
import csv
import io
import re

from app import dialect
from app.db import database, utcnow
from app.fields import JsonRefused, loads_json, whole_number, without_surrogates
from app.ledger import events, filters
from app.models import Event

COLUMNS = ("id", "title", "description", "type", "severity", "source", "occurred_at", "ended_at", "agents", "tools",
           "toolchains", "tags", "changes", "links", "build_url", "metadata", "dedupe_key", "reverts", "count",
           "first_seen", "last_seen", "created_by")
# Written by the export so a file describes its events fully; the ledger sets these itself on import.
IGNORED_ON_IMPORT = ("count", "first_seen", "last_seen", "created_by")
REQUIRED_COLUMNS = ("title",)
LIST_COLUMNS = ("agents", "tools", "toolchains", "tags")
JSON_COLUMNS = ("changes", "links", "metadata")
TIME_COLUMNS = ("occurred_at", "ended_at", "first_seen", "last_seen")
INTEGER_COLUMNS = ("id", "reverts", "count")
LIST_SEPARATOR = ";"
EXPORT_BATCH = 1000
# Paging belongs to the JSON list; an export is every matching event, newest first.
PAGING_ARGUMENTS = ("sort", "limit", "cursor")
# csv's default 128 KiB per cell is less than an event's changes may hold; request limits bound it anyway.
MAX_CELL_CHARS = 16 * 1024 * 1024

_FORMULA = re.compile(r"'*[=+\-@\t\r]")
# LIST_COLUMNS: (junction, its link to the catalogue, catalogue), from the ledger's own table of links
_LINKS = {key: (junction, getattr(junction, field), catalogue) for junction, catalogue, field, key in events.LINKS}


class UnreadableFile(ValueError):
    """The upload is not UTF-8 text; the message says what to do about it."""


def export_filters(args):
    """The list filters (see app.ledger.filters) from query-string-like ``args``, ignoring sort/limit/cursor."""
    return filters.parse(_Without(args, PAGING_ARGUMENTS))


def export_filename(now=None):
    return "changetracker-events-%s.csv" % (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")


def export_rows(query_filters, batch_size=EXPORT_BATCH):
    """CSV text in chunks: the header, then one chunk per ``batch_size`` events, newest first.

    Walks the matching events with the list's keyset (occurred_at, id), so memory stays at one batch
    however large the ledger is. Each batch is one statement, read as the driver's plain rows, that
    also gives each event's agent, tool, toolchain and tag ids; their names come from the catalogues,
    read when first needed (_Names). Model instances, a query per kind of name and decoding JSON only
    to encode it again took three quarters of the export's time (bench/README.md, row c).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield _drain(buffer)
    walk = dict(query_filters, sort="-occurred_at", after=None)
    columns = [_linked_ids(name) if name in _LINKS else getattr(Event, name) for name in COLUMNS]
    names = [(COLUMNS.index(name), _Names(catalogue)) for name, (_, _, catalogue) in _LINKS.items()]
    while True:
        rows = database.execute(filters.ordered(walk).select(*columns).limit(batch_size)).fetchall()
        writer.writerows(_cells(row, names) for row in rows)
        if rows:
            yield _drain(buffer)
        if len(rows) < batch_size:
            return
        # The stored occurred_at as the driver returned it, so the next batch compares like with like.
        occurred_at, last_id = rows[-1][_OCCURRED_AT], rows[-1][_ID]
        walk["after"] = (occurred_at, last_id)


def _linked_ids(name):
    """The ids of the event's ``name`` (agents, tools, ...) as text, "3,17"; NULL for none."""
    junction, link, _ = _LINKS[name]
    return junction.select(dialect.joined_text(link)).where(junction.event == Event.id)


class _Names:
    """One catalogue's names for an export: ids to names, sorted as events.with_links sorts them.

    Joining each event's names in SQL costs PostgreSQL a join and a sort per event and kind, about
    half of its export time; the ids alone are an index-only scan. Each name keeps its place in the
    database's ORDER BY name (its collation), so sorting by place gives the order the API shows.
    Like the rows, which each batch reads anew, names are as of when they were read: a name renamed
    during a long export may keep its old spelling in the rest of the file.
    """

    def __init__(self, catalogue):
        self.catalogue = catalogue
        self.places = {}  # "id": (place, name); read at the first id it does not know

    def joined(self, ids):
        """The names of ``ids`` ("3,17"), sorted, joined with LIST_SEPARATOR."""
        try:
            named = [self.places[i] for i in ids.split(",")]
        except KeyError:  # the first event with such links, or a name created since the export began
            self._read()
            # An id still unknown was deleted just now (tags may be): its event has lost it too.
            named = [self.places[i] for i in ids.split(",") if i in self.places]
        return LIST_SEPARATOR.join(name for _, name in sorted(named))

    def _read(self):
        rows = database.execute(self.catalogue.select(self.catalogue.id, self.catalogue.name)
                                .order_by(self.catalogue.name)).fetchall()
        self.places = {str(id_): (place, name) for place, (id_, name) in enumerate(rows)}


def import_csv(data, actor, dry_run=False):
    """Read CSV ``data`` (bytes) and record every row as a new event, or none.

    Every row is checked first, through the same schema as ``events.record_event``; only when all
    pass are they written, in one transaction (``events.record_events``). Returns
    ``{"created": n, "errors": [{"row", "field", "message"}]}``: ``row`` counts the header as row 1,
    as a spreadsheet shows it; with errors ``created`` is 0 and nothing was written. ``dry_run``
    checks everything and writes nothing. Raises UnreadableFile when ``data`` is not UTF-8.
    """
    # strict: a stray or unbalanced quote is an error to report, not text to guess around.
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
    errors = []
    payloads, refs, row_numbers = [], [], []
    number = 0
    try:
        columns = _columns(next(reader, None), errors)
        if errors:
            return {"created": 0, "errors": errors}
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, e.g. at the end of a hand-edited file
            if len(cells) != len(columns):
                errors.append(_error(number, None, "Expected %d cells (one per header column), found %d."
                                     % (len(columns), len(cells))))
                continue
            payload, ref, cell_errors = _payload(dict(zip(columns, (_restore(cell) for cell in cells))))
            errors.extend(_error(number, field, message) for field, message in cell_errors)
            payloads.append(payload)
            refs.append(ref)
            row_numbers.append(number)
    except csv.Error as exc:  # the rest of the file cannot be split into cells reliably
        errors.append(_error(number + 1, None, "Not readable as CSV: %s." % exc))
    loaded, invalid = events.validate_events(payloads)
    errors.extend(_batch_errors(invalid, row_numbers))
    batch = list(zip(loaded, refs))
    # Rows that failed above still count as ids a reverts may name, so check reverts on them all.
    errors.extend(_batch_errors(events.batch_errors([(data or {"reverts": None}, ref) for data, ref in batch]),
                                row_numbers))
    if errors:
        return {"created": 0, "errors": sorted(errors, key=lambda e: e["row"])}
    if dry_run:
        return {"created": len(batch), "errors": []}
    # Exports list newest first: inserting from the bottom up gives new ids in the original order.
    order = list(reversed(range(len(batch))))
    try:
        events.record_events([batch[i] for i in order], actor=actor, action="import")
    except events.BatchInvalid as exc:  # the ledger changed since the check above
        return {"created": 0, "errors": _batch_errors({order[i]: e for i, e in exc.errors.items()}, row_numbers)}
    return {"created": len(batch), "errors": []}


def read_rows(data, numbers=(), first=0):
    """Some rows of a CSV file as it reads, for a report that shows them: ``(rows, total)`` where ``rows`` maps
    the row number (the header is row 1) of the ``first`` data rows and of the rows in ``numbers`` to their cells
    by column name, and ``total`` counts the file's data rows (blank lines aside). Reading stops at the first row
    that cannot be split into cells; ``import_csv`` reports that row. Raises UnreadableFile as ``import_csv`` does."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
    wanted, rows, total = set(numbers), {}, 0
    try:
        header = [cell.strip().lower() for cell in next(reader, None) or []]
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            total += 1
            if total <= first or number in wanted:
                rows[number] = dict(zip(header, (_restore(cell) for cell in cells)))
    except csv.Error:
        pass
    return rows, total


def summary(report):
    """One sentence about an import report's errors, for the API's message and the command line."""
    rows = sorted({e["row"] for e in report["errors"]})
    parts = []
    if rows and rows[0] == 1:
        parts.append("the header is wrong")
        rows = rows[1:]
    if rows:
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        parts.append("%d %s errors (%s %s)" % (len(rows), "row has" if len(rows) == 1 else "rows have",
                                               "row" if len(rows) == 1 else "rows", shown))
    return "Nothing was imported: %s." % " and ".join(parts)


def _columns(header, errors):
    if header is None or not any(cell.strip() for cell in header):
        errors.append(_error(1, None, "The file is empty; its first line must be a header with columns from: %s."
                             % ", ".join(COLUMNS)))
        return []
    columns = [cell.strip().lower() for cell in header]
    for index, name in enumerate(columns):
        if name not in COLUMNS:
            errors.append(_error(1, name or "(column %d)" % (index + 1),
                                 "Unknown column; the header may use: %s." % ", ".join(COLUMNS)))
        elif name in columns[:index]:
            errors.append(_error(1, name, "Column appears more than once."))
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            errors.append(_error(1, name, "Missing column; every file needs it."))
    return columns


def _payload(values):
    """(payload for validate_event, the row's id or None, [(field, message)]) from one row's cells."""
    payload, problems = {}, []
    for name in ("title", "description"):
        if name in values:
            payload[name] = values[name]
    for name in ("type", "severity", "occurred_at"):
        if values.get(name):
            payload[name] = values[name]
    payload["source"] = values.get("source") or "import"
    for name in ("ended_at", "build_url", "dedupe_key"):
        if name in values:
            payload[name] = values[name] or None
    for name in LIST_COLUMNS:
        if name in values:
            payload[name] = [item.strip() for item in values[name].split(LIST_SEPARATOR) if item.strip()]
    for name in JSON_COLUMNS:
        if values.get(name, "").strip():
            try:
                payload[name] = loads_json(values[name])
            except JsonRefused as exc:
                problems.append((name, "Not valid JSON: %s" % exc))
    if values.get("reverts", "").strip():
        try:
            payload["reverts"] = whole_number(values["reverts"].strip())
        except ValueError:
            problems.append(("reverts", "Not a valid integer."))
    try:
        ref = whole_number(values.get("id", "").strip())
    except ValueError:
        ref = None
    return payload, ref, problems


_ID = COLUMNS.index("id")
_OCCURRED_AT = COLUMNS.index("occurred_at")
_TIMES = [COLUMNS.index(name) for name in TIME_COLUMNS]
# Every cell that holds stored text; the others are integers and the times the export formats itself.
_TEXTS = [index for index, name in enumerate(COLUMNS) if name not in TIME_COLUMNS + INTEGER_COLUMNS]


def _cells(row, names):
    """One export row from the driver's row in COLUMNS order; ``names``: [(index of an id list, its _Names)].

    changes, links and metadata go out as stored: app.db.JSONField wrote them with the json.dumps
    arguments the export encodes JSON with, so decoding and encoding again would give the same text.
    Integers and NULLs are left to csv.writer, which writes str(n) and an empty cell.
    """
    cells = list(row)
    for index, catalogue in names:
        if cells[index]:
            cells[index] = catalogue.joined(cells[index])
    for index in _TIMES:
        cells[index] = _iso(cells[index])
    for index in _TEXTS:
        if cells[index]:
            cells[index] = _defuse(cells[index])
    return cells


def _iso(value):
    """A stored naive-UTC time as ISO 8601 with Z, as events.utc_iso writes it."""
    if value is None:
        return None
    if isinstance(value, str):
        # SQLite holds the text peewee writes, "YYYY-MM-DD HH:MM:SS[.ffffff]" (as app.ledger.timeline
        # relies on too): the same digits. Editing the text costs a tenth of parsing it, which was an
        # eighth of the export's time per row.
        return value.replace(" ", "T", 1) + "Z"
    return value.isoformat() + "Z"  # PostgreSQL: a naive datetime


def _defuse(cell):
    """A cell a spreadsheet will show as text, never run as a formula."""
    return "'" + cell if _FORMULA.match(cell) else cell


def _restore(cell):
    """The inverse of ``_defuse``: one leading quote off a defused cell, anything else unchanged."""
    return cell[1:] if cell.startswith("'") and _FORMULA.match(cell) else cell


def _decode(data):
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile("The file is UTF-16 text; save it as UTF-8 (in Excel: \"CSV UTF-8\") and import it again.")
    try:
        return data.decode("utf-8-sig")  # a UTF-8 byte-order mark, as Excel writes, is fine
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UnreadableFile("The file is not UTF-8: byte 0x%02x on line %d is not valid UTF-8. Save it as UTF-8 "
                             "(in Excel: \"CSV UTF-8\") and import it again." % (data[exc.start], line)) from None


def _flatten(messages, field=None):
    """marshmallow's nested messages as (dotted field, message) pairs, e.g. ("changes.0.path", "...")."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            key = without_surrogates(str(key))  # a refused key is named, never echoed raw
            yield from _flatten(value, "%s.%s" % (field, key) if field else key)
    elif isinstance(messages, (list, tuple)):
        for message in messages:
            yield from _flatten(message, field)
    else:
        yield field, str(messages)


def _batch_errors(errors, row_numbers):
    return [_error(row_numbers[index], field, message)
            for index, fields in errors.items() for field, message in _flatten(fields)]


def _error(row, field, message):
    return {"row": row, "field": field, "message": message}


def _drain(buffer):
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


class _Without:
    """Query-string-like arguments with some names hidden."""

    def __init__(self, args, hidden):
        self.args = args
        self.hidden = set(hidden)

    def get(self, name, default=None):
        return default if name in self.hidden else self.args.get(name, default)

    def getlist(self, name):
        return [] if name in self.hidden else self.args.getlist(name)
