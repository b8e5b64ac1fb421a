"""The ledger's one way in (``record_event``, and ``record_events`` for batches) and its basic reads."""
import json
import logging
from collections import Counter, defaultdict, namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from marshmallow import ValidationError
from peewee import SQL

from app import dialect
from app.accounts import audit
from app.db import chunks, database, from_db_time, to_db_time, utcnow
from app.dialect import write_transaction
from app.errors import NotFound
from app.ledger import dedupe, filters, inserts, unplanned
from app.ledger.dedupe import DEFAULT_DEDUPE_WINDOW
from app.ledger.group_commit import GroupCommit
from app.ledger.inserts import LINK_KEYS, LINKS, unique
from app.ledger.schemas import EventCreateSchema
from app.models import Event

log = logging.getLogger(__name__)

# One instance for every load: building a schema costs twice what loading an event through it does, and loading
# keeps no state in the instance.
_SCHEMA = EventCreateSchema()
_PATCH_SCHEMA = EventCreateSchema(partial=True)


def record_event(payload, actor=audit.SYSTEM, dedupe_window=DEFAULT_DEDUPE_WINDOW):
    """Validate ``payload``, then write the event, its links and its audit entry in one transaction.

    Returns ``(event dict, created)`` once that transaction has committed. A ``dedupe_key`` already seen within
    ``dedupe_window`` folds into that event instead (``created`` is False, ``count`` + 1, ``last_seen`` moved
    on). Raises marshmallow.ValidationError with per-field messages; nothing is written then.

    Concurrent calls in one process share transactions (app.ledger.group_commit), each call's effects (event,
    links, audit entry, dedupe slot) all in the one that commits it. Inside a transaction of the caller's the
    event is written there, and commits with it.
    """
    recording = _Recording(validate_event(payload), actor, dedupe_window)
    if database.in_transaction():
        with write_transaction():
            outcome = _write([recording])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    return _GROUP.submit(recording)


def validate_event(payload):
    """``payload`` loaded through the ingest schema: defaults filled in, or ValidationError per field."""
    return _SCHEMA.load(payload)


def validate_events(payloads):
    """``validate_event`` for many payloads: ``(loaded, errors)``, loaded[i] None where errors[i] holds its field
    messages."""
    loaded, errors = [], {}
    for index, payload in enumerate(payloads):
        try:
            loaded.append(_SCHEMA.load(payload))
        except ValidationError as exc:
            loaded.append(None)
            errors[index] = exc.messages
    return loaded, errors


@dataclass(frozen=True)
class _Recording:
    """One ``record_event`` call waiting for its transaction."""

    data: dict
    actor: audit.Actor
    dedupe_window: timedelta


def _write_batch(recordings):
    """The group commit's writer: every recording in one write transaction; when that fails for a reason other
    than a busy database, each again in a transaction of its own, so a failing one fails alone."""
    try:
        with write_transaction():
            return _write(recordings)
    except Exception as exc:
        if len(recordings) == 1 or dialect.is_busy(exc):
            raise
        log.exception("%d events failed to be written together; writing each alone", len(recordings))
    return [_write_alone(recording) for recording in recordings]


def _write_alone(recording):
    try:
        with write_transaction():
            return _write([recording])[0]
    except Exception as exc:  # this recording's outcome: its caller raises it
        return exc


_GROUP = GroupCommit(_write_batch)


def _write(recordings):
    """Write ``recordings`` in the current transaction, as if one after another; per recording ``(event dict,
    created)``, or the ValidationError that refused it (nothing of it written)."""
    now = utcnow()
    outcomes = [None] * len(recordings)
    gone = _missing_events({r.data["reverts"] for r in recordings} - {None})
    for index, recording in enumerate(recordings):
        if recording.data["reverts"] in gone:
            outcomes[index] = ValidationError({"reverts": ["No event with id %d." % recording.data["reverts"]]})
    live = [index for index, outcome in enumerate(outcomes) if outcome is None]
    new, folds, targets = dedupe.plan([dedupe.slot_key(recordings[i].data) for i in live],
                                      [recordings[i].dedupe_window for i in live], now)
    ids = {}
    if new:
        batch = [recordings[live[i]] for i in new]
        names = [{key: unique(r.data[key]) for key in LINK_KEYS} for r in batch]
        rows = [inserts.event_values(r.data, item, r.actor, now) for r, item in zip(batch, names)]
        rows = inserts.with_unplanned(rows, [r.data for r in batch], names)
        event_ids = inserts.insert_events(rows)
        inserts.insert_links(event_ids, names, [row[inserts.OCCURRED_AT] for row in rows])
        entries, events = [], []
        for i, r, event_id, row, item in zip(new, batch, event_ids, rows, names):
            event = new_event_dict(event_id, r.data, row, item)
            ids[i] = event_id
            outcomes[live[i]] = (event, True)
            events.append(event)
            entries.append(audit.values(r.actor, "create", "event", event_id, now,
                                        after_json=audit.as_json(_audit_view(event))))
        audit.record_values(entries)
        unplanned.settle_new(events)

    def resolve(target):  # dedupe.plan's -(j + 1): the new event j of this batch
        return ids[-target - 1] if target < 0 else target

    folds = [(i, resolve(target)) for i, target in folds]
    dedupe.settle({key: resolve(target) for key, target in targets.items()}, folds, now)
    if folds:
        stored = {e["id"]: e for e in read_events(sorted({t for _, t in folds}))}
        later = Counter()  # each repeat answers with the count as of itself
        for i, target in reversed(folds):
            outcomes[live[i]] = (dict(stored[target], count=stored[target]["count"] - later[target]), False)
            later[target] += 1
    return outcomes


def _missing_events(ids):
    if not ids:
        return set()
    return ids - {i for (i,) in Event.select(Event.id).where(Event.id.in_(ids)).tuples()}


class BatchInvalid(ValueError):
    """Some items of a batch cannot be written; ``errors`` is {index: {field: [messages]}}."""

    def __init__(self, errors):
        super().__init__("%d items of the batch are invalid" % len(errors))
        self.errors = errors


def record_events(batch, actor=audit.SYSTEM, action="import"):
    """Write many validated events (``validate_event`` results) as new events in ONE transaction.

    ``batch`` is a list of ``(data, ref)``: ``ref`` is the id an item had where it came from (an
    exported file's id column) or None. A ``reverts`` naming another item's ref points at that
    item's new event; any other ``reverts`` must name an existing event. Items never fold by
    dedupe_key: a batch is history that was already de-duplicated where it was recorded, and
    folding by a window measured from now would merge distinct past events. Each event gets an
    audit entry with ``action``. Returns the event dicts in batch order; raises BatchInvalid
    (nothing written) when ``batch_errors`` finds a problem.

    Everything that needs no database is prepared before the write transaction starts (rows, names, the
    audit entries' text), so a big import holds the write lock (SQLite's, for the whole file) only for the
    statements themselves.
    """
    now = utcnow()
    refs = {ref: index for index, (_, ref) in enumerate(batch) if ref is not None}
    # Reverted items of the same batch get their ids only on insert: link them afterwards.
    internal = {index: refs[data["reverts"]] for index, (data, _) in enumerate(batch)
                if data["reverts"] is not None and data["reverts"] in refs}
    names = [{key: unique(data[key]) for key in LINK_KEYS} for data, _ in batch]
    rows = [inserts.event_values(dict(data, reverts=None) if index in internal else data, item, actor, now)
            for index, ((data, _), item) in enumerate(zip(batch, names))]
    results = [new_event_dict(0, data, row, item) for (data, _), row, item in zip(batch, rows, names)]
    # Each audit entry's text but for the event's id, which comes first and which the INSERT gives.
    tails = [_audit_tail(result) for result in results]
    with write_transaction():
        errors = batch_errors(batch)
        if errors:
            raise BatchInvalid(errors)
        flagged = inserts.with_unplanned(rows, [data for data, _ in batch], names)
        for index, (row, flag) in enumerate(zip(rows, flagged)):
            if row is not flag:  # flagged unplanned
                results[index]["unplanned"] = True
                tails[index] = _audit_tail(results[index])
        ids = inserts.insert_events(flagged)
        inserts.insert_links(ids, names, [row[inserts.OCCURRED_AT] for row in rows])
        for index, target in internal.items():
            Event.update(reverts=ids[target]).where(Event.id == ids[index]).execute()
            tails[index] = _audit_tail(dict(results[index], reverts=ids[target]))
        audit.record_values([audit.values(actor, action, "event", event_id, now, after_json='{"id":%d,%s'
                                          % (event_id, tail)) for event_id, tail in zip(ids, tails)])
        unplanned.settle_new(results)
    for result, event_id in zip(results, ids):
        result["id"] = event_id
    for index, target in internal.items():
        results[index]["reverts"] = ids[target]
    return results


def _audit_tail(event):
    """The event's audit text after its opening ``{"id":N,``: all of it but the id, which comes first."""
    return audit.as_json(_audit_view(event)).split(",", 1)[1]


def batch_errors(batch):
    """What only the database can tell about a ``record_events`` batch: {index: {field: [messages]}}."""
    refs = Counter(ref for _, ref in batch if ref is not None)
    outside = sorted({data["reverts"] for data, _ in batch if data["reverts"] not in refs} - {None})
    existing = set()
    for ids in chunks(outside):
        existing.update(i for (i,) in Event.select(Event.id).where(Event.id.in_(ids)).tuples())
    errors = {}
    for index, (data, ref) in enumerate(batch):
        target = data["reverts"]
        if target is None:
            continue
        if target == ref:
            errors[index] = {"reverts": ["An event cannot revert itself."]}
        elif refs[target] > 1:
            errors[index] = {"reverts": ["Ambiguous: %d rows have id %d." % (refs[target], target)]}
        elif target not in refs and target not in existing:
            errors[index] = {"reverts": ["No event with id %d, neither a row of this batch nor in the ledger."
                                         % target]}
    return errors


def new_event_dict(event_id, data, row, names):
    """A new event's dict from its validated ``data``, its row (inserts.event_values) and its link names
    ({key: names}), without reading it back."""
    event = SimpleNamespace(id=event_id, **dict(zip(inserts.EVENT_COLUMNS, row)))
    event.changes, event.links, event.metadata = data["changes"], data["links"], data["metadata"]
    return event_to_dict(event, names)


# Fields a PATCH may not touch: identity, provenance and the de-duplication counters.
# unplanned is the ledger's to keep (app.ledger.unplanned): recording an intent clears it.
READ_ONLY = ("id", "source", "dedupe_key", "count", "first_seen", "last_seen", "created_by", "created_at", "updated_at",
             "unplanned")


def update_event(event_id, patch, actor=audit.SYSTEM):
    """Partially update an event; the audit entry holds the changed fields before and after."""
    read_only = {name: ["Read-only field."] for name in READ_ONLY if name in patch}
    if read_only:
        raise ValidationError(read_only)
    data = _PATCH_SCHEMA.load(patch)
    with write_transaction():
        current = get_event(event_id)
        start = data.get("occurred_at", current["occurred_at"])
        end = data.get("ended_at", current["ended_at"])
        if start and end and end < start:
            raise ValidationError({"ended_at": ["Must not be before occurred_at."]})
        if data.get("reverts") is not None:
            if data["reverts"] == event_id:
                raise ValidationError({"reverts": ["An event cannot revert itself."]})
            if not Event.select().where(Event.id == data["reverts"]).exists():
                raise ValidationError({"reverts": ["No event with id %d." % data["reverts"]]})
        columns = {k: v for k, v in data.items() if k not in {key for _, _, _, key in LINKS}}
        for key in ("occurred_at", "ended_at"):
            if key in columns:
                columns[key] = to_db_time(columns[key])
        columns["updated_at"] = utcnow()
        Event.update(**columns).where(Event.id == event_id).execute()
        occurred_at = to_db_time(start)
        for junction, _, _, key in LINKS:
            if key in data:
                junction.delete().where(junction.event == event_id).execute()
            elif "occurred_at" in data:
                junction.update(occurred_at=occurred_at).where(junction.event == event_id).execute()
        inserts.insert_links([event_id], [{key: unique(data[key]) for key in LINK_KEYS if key in data}], [occurred_at])
        updated = get_event(event_id)
        unplanned.settle_edit(current, updated)
        before, after = _audit_view(current), _audit_view(updated)
        changed = [k for k in after if k not in ("updated_at",) and before.get(k) != after.get(k)]
        if changed:
            audit.record(actor, "update", "event", event_id,
                         before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return updated


def delete_event(event_id, actor=audit.SYSTEM):
    """Delete an event and its links; the audit entry keeps everything it held."""
    with write_transaction():
        current = get_event(event_id)
        Event.delete().where(Event.id == event_id).execute()
        unplanned.settle_delete(current)
        audit.record(actor, "delete", "event", event_id, before=_audit_view(current))
    return current


def event_history(event_id):
    """The audit entries of an event, oldest first (still there after it was deleted)."""
    entries = audit.history("event", event_id)
    if not entries:
        get_event(event_id)  # a 404 when the event never existed
    return entries


def get_event(event_id):
    found = read_events([event_id])
    if not found:
        raise NotFound("No event with id %s." % event_id)
    return found[0]


def list_events(query_filters):
    """One page of events matching ``query_filters`` (see app.ledger.filters): (events, next_cursor)."""
    columns = SQL(dialect.statement(_events_by_id, None)[len(_COLUMNS_BEFORE):-len(_COLUMNS_AFTER)])
    return filters.page(query_filters, lambda query: _events_of(database.execute(query.select(columns))))


def read_events(ids):
    """The event dicts of ``ids``, in that order (missing ones left out), with their agent, tool, toolchain and
    tag names: one statement, rendered once per number of ids.

    A page of 50 took five statements (the events, then the names of each kind), each built by peewee, and a
    model instance per event: four times what the database spent on it (bench/README.md, row a).
    """
    if not ids:
        return []
    found = {event["id"]: event for event in _events_of(database.execute_sql(
        dialect.statement(_events_by_id, len(ids)), list(ids)))}
    return [found[i] for i in ids if i in found]


def _events_of(cursor):
    """Event dicts from the rows of a SELECT of _READ_FIELDS and the names (_names)."""
    events = []
    for row in cursor.fetchall():
        values = list(row)
        for i in _JSON_COLUMNS:
            values[i] = _decode(values[i])
        events.append(event_to_dict(_Row._make(values), _decode(row[-1])))
    return events


_READ_FIELDS = Event._meta.sorted_fields
_READ_NAMES = [field.column_name for field in _READ_FIELDS]  # reverts as reverts_id, as event_to_dict reads it
# A row as event_to_dict reads it (the names last): a tuple, made and read in C instead of a namespace per row.
# With app.db.from_db_time reading SQLite's text in one call, a page's 35 rows (bench row a.) decode in 0.33 ms,
# from 0.54.
_Row = namedtuple("_Row", _READ_NAMES + ["names"])
# The driver's values serve as they are (event_to_dict reads SQLite's time text itself) but for JSON text.
_JSON_COLUMNS = [_READ_NAMES.index(name) for name in ("changes", "links", "metadata")]


def _names():
    """Each kind of link's names, sorted, as one JSON object (dialect.sorted_names), correlated with Event."""
    return dialect.sorted_names({key: (junction.select(catalogue.name)
                                       .join(catalogue, on=(getattr(junction, field) == catalogue.id))
                                       .where(junction.event == Event.id), catalogue.name)
                                 for junction, catalogue, field, key in LINKS})


def _events_by_id(count):
    """The SELECT of ``read_events`` for ``count`` ids; with None, of every event, which a page's query takes its
    columns from (between _COLUMNS_BEFORE and _COLUMNS_AFTER) as they are: rendering them through peewee for
    every page took as long as running the page's query. The event is "t1" in both (its columns come first),
    the subqueries' own aliases stay inside them."""
    query = Event.select(*_READ_FIELDS, _names())
    return query if count is None else query.where(Event.id.in_(list(range(count))))


_COLUMNS_BEFORE, _COLUMNS_AFTER = "SELECT ", ' FROM "event" AS "t1"'


def _decode(value):
    """JSON text as Python; PostgreSQL's driver decodes json columns (the names) itself. Most events' links,
    many changes and some metadata are empty: those skip the decoder."""
    if not isinstance(value, str):
        return value
    empty = _EMPTY.get(value)
    return empty() if empty else _loads(value)


_EMPTY = {"[]": list, "{}": dict}
_loads = json.JSONDecoder().decode


def event_to_dict(event, links):
    return {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "type": event.type,
        "severity": event.severity,
        "source": event.source,
        "occurred_at": from_db_time(event.occurred_at),
        "ended_at": from_db_time(event.ended_at),
        "agents": links.get("agents", []),
        "tools": links.get("tools", []),
        "toolchains": links.get("toolchains", []),
        "tags": links.get("tags", []),
        "changes": event.changes,
        "links": event.links,
        "build_url": event.build_url,
        "metadata": event.metadata,
        "dedupe_key": event.dedupe_key,
        "count": event.count,
        "first_seen": from_db_time(event.first_seen),
        "last_seen": from_db_time(event.last_seen),
        "reverts": event.reverts_id,
        "created_by": event.created_by,
        "created_at": from_db_time(event.created_at),
        "updated_at": from_db_time(event.updated_at),
        "unplanned": bool(event.unplanned),  # SQLite's driver gives 0 or 1
    }


def with_links(events):
    """Attach agent/tool/toolchain/tag names with one query per kind, not one per event."""
    ids = [e.id for e in events]
    names = {key: defaultdict(list) for _, _, _, key in LINKS}
    if ids:
        for junction, catalogue, field, key in LINKS:
            rows = (junction.select(junction.event, catalogue.name)
                    .join(catalogue, on=(getattr(junction, field) == catalogue.id))
                    .where(junction.event.in_(ids))
                    .order_by(catalogue.name)
                    .tuples())
            for event_id, name in rows:
                names[key][event_id].append(name)
    return [event_to_dict(e, {key: names[key][e.id] for key in names}) for e in events]


def _audit_view(event):
    """The event as stored in an audit entry: JSON-safe values only."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in event.items()}


def utc_iso(value):
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None
