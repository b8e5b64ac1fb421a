"""The ledger's one way in (``record_event``) and its basic reads."""
import hashlib
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError
from peewee import chunked

from app import dialect
from app.accounts import audit
from app.db import from_db_time, to_db_time, utcnow
from app.dialect import insert_rows, write_transaction
from app.errors import NotFound
from app.ledger import filters, unplanned
from app.ledger.schemas import EventCreateSchema
from app.models import Agent, DedupeSlot, Event, EventAgent, EventTag, EventTool, EventToolchain, Tag, Tool, Toolchain

DEFAULT_DEDUPE_WINDOW = timedelta(hours=1)
# Machine sources repeat themselves; people mean each note they write.
FINGERPRINTED_SOURCES = ("webhook", "poller")

# (junction model, catalogue model, junction field name, event dict key)
LINKS = (
    (EventAgent, Agent, "agent", "agents"),
    (EventTool, Tool, "tool", "tools"),
    (EventToolchain, Toolchain, "toolchain", "toolchains"),
    (EventTag, Tag, "tag", "tags"),
)


def record_event(payload, actor=audit.SYSTEM, dedupe_window=DEFAULT_DEDUPE_WINDOW):
    """Validate ``payload``, then write the event, its links and its audit entry in one transaction.

    Returns ``(event dict, created)``. A ``dedupe_key`` already seen within ``dedupe_window`` folds
    into that event instead (``created`` is False, ``count`` + 1, ``last_seen`` moved on).
    Raises marshmallow.ValidationError with per-field messages; nothing is written then.
    """
    data = validate_event(payload)
    now = utcnow()
    slot_key = dedupe_slot_key(data)
    with write_transaction():
        if data["reverts"] is not None and not Event.select().where(Event.id == data["reverts"]).exists():
            raise ValidationError({"reverts": ["No event with id %d." % data["reverts"]]})
        slot = _claim_slot(slot_key) if slot_key else None
        if slot is not None and slot.event_id and slot.last_seen and slot.last_seen >= now - dedupe_window:
            Event.update(count=Event.count + 1, last_seen=now, updated_at=now).where(Event.id == slot.event_id).execute()
            DedupeSlot.update(last_seen=now).where(DedupeSlot.key == slot_key).execute()
            return get_event(slot.event_id), False
        result = _insert_events([data], actor, now)[0]
        if slot is not None:
            DedupeSlot.update(event=result["id"], last_seen=now).where(DedupeSlot.key == slot_key).execute()
        audit.record(actor, "create", "event", result["id"], after=_audit_view(result))
    return result, True


def validate_event(payload):
    """``payload`` loaded through the ingest schema: defaults filled in, or ValidationError per field."""
    return EventCreateSchema().load(payload)


def validate_events(payloads):
    """``validate_event`` for many payloads through one schema instance (building one costs more than
    loading a row): ``(loaded, errors)``, loaded[i] None where errors[i] holds its field messages."""
    schema = EventCreateSchema()
    loaded, errors = [], {}
    for index, payload in enumerate(payloads):
        try:
            loaded.append(schema.load(payload))
        except ValidationError as exc:
            loaded.append(None)
            errors[index] = exc.messages
    return loaded, errors


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
    """
    now = utcnow()
    refs = {ref: index for index, (_, ref) in enumerate(batch) if ref is not None}
    with write_transaction():
        errors = batch_errors(batch)
        if errors:
            raise BatchInvalid(errors)
        # Reverted items of the same batch get their ids only on insert: link them afterwards.
        internal = {index: refs[data["reverts"]] for index, (data, _) in enumerate(batch)
                    if data["reverts"] is not None and data["reverts"] in refs}
        results = _insert_events([dict(data, reverts=None) if index in internal else data
                                  for index, (data, _) in enumerate(batch)], actor, now)
        for index, target in internal.items():
            results[index]["reverts"] = results[target]["id"]
            Event.update(reverts=results[target]["id"]).where(Event.id == results[index]["id"]).execute()
        audit.record_many([audit.entry(actor, action, "event", result["id"], after=_audit_view(result), at=now)
                           for result in results])
    return results


def batch_errors(batch):
    """What only the database can tell about a ``record_events`` batch: {index: {field: [messages]}}."""
    refs = Counter(ref for _, ref in batch if ref is not None)
    outside = sorted({data["reverts"] for data, _ in batch if data["reverts"] not in refs} - {None})
    existing = set()
    for ids in chunked(outside, 500):
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


def _insert_events(batch, actor, now):
    """Insert validated events as new rows with their agent/tool/toolchain/tag links; their dicts in order.

    Bulk INSERTs, chunked under SQLite's and PostgreSQL's bound-parameter limits, so a 10,000-row
    import costs a few dozen statements rather than tens of thousands.
    """
    rows = [{
        "title": data["title"],
        "description": data["description"],
        "type": data["type"],
        "severity": data["severity"],
        "source": data["source"],
        "occurred_at": to_db_time(data["occurred_at"]) if data["occurred_at"] else now,
        "ended_at": to_db_time(data["ended_at"]),
        "changes": data["changes"],
        "links": data["links"],
        "build_url": data["build_url"],
        "metadata": data["metadata"],
        "dedupe_key": data["dedupe_key"],
        "count": 1,
        "first_seen": now,
        "last_seen": now,
        "reverts": data["reverts"],
        "created_by": actor.name,
        "created_at": now,
        "updated_at": now,
    } for data in batch]
    names = [{key: _unique(data[key]) for _, _, _, key in LINKS} for data in batch]
    flags = unplanned.flags([dict(item, source=data["source"], type=data["type"], occurred_at=row["occurred_at"])
                             for data, row, item in zip(batch, rows, names)])
    for row, flag in zip(rows, flags):
        row["unplanned"] = flag
    ids = []
    for chunk in chunked(rows, 500):
        ids.extend(insert_rows(Event, chunk, returning_id=True))
    for junction, catalogue, field, key in LINKS:
        wanted = _unique(n for item in names for n in item[key])
        if not wanted:
            continue
        known = _ensure_named(catalogue, wanted)
        links = [{"event": event_id, field: known[n], "occurred_at": row["occurred_at"]}
                 for event_id, row, item in zip(ids, rows, names) for n in item[key]]
        for chunk in chunked(links, 1000):
            insert_rows(junction, chunk)
    results = [event_to_dict(Event(id=event_id, **row), item) for event_id, row, item in zip(ids, rows, names)]
    unplanned.settle_new(results)
    return results


def dedupe_slot_key(data):
    """The key repeats of this event share: its dedupe_key, else a fingerprint for machine sources."""
    if data.get("dedupe_key"):
        return "key:" + data["dedupe_key"]
    if data.get("source") not in FINGERPRINTED_SOURCES:
        return None
    parts = [data["source"], data["type"], ",".join(sorted(set(data["agents"]))), ",".join(sorted(set(data["tools"]))),
             normalise_title(data["title"])]
    return "fp:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_HASH = re.compile(r"\b(sha256:)?[0-9a-f]{7,64}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")


def normalise_title(title):
    """The title with timestamps, hashes and numbers blanked, so "build #41" and "build #42" match."""
    title = _TIMESTAMP.sub("<time>", title)
    title = _HASH.sub("<hash>", title)
    title = _NUMBER.sub("<n>", title)
    return " ".join(title.lower().split())


def _claim_slot(key):
    """The dedupe slot for ``key``, created if new and locked until the transaction ends."""
    DedupeSlot.insert(key=key).on_conflict_ignore().execute()
    return dialect.locked(DedupeSlot.select().where(DedupeSlot.key == key)).get()


# Fields a PATCH may not touch: identity, provenance and the de-duplication counters.
# unplanned is the ledger's to keep (app.ledger.unplanned): recording an intent clears it.
READ_ONLY = ("id", "source", "dedupe_key", "count", "first_seen", "last_seen", "created_by", "created_at", "updated_at",
             "unplanned")


def update_event(event_id, patch, actor=audit.SYSTEM):
    """Partially update an event; the audit entry holds the changed fields before and after."""
    read_only = {name: ["Read-only field."] for name in READ_ONLY if name in patch}
    if read_only:
        raise ValidationError(read_only)
    data = EventCreateSchema(partial=True).load(patch)
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
        for junction, catalogue, field, key in LINKS:
            if key in data:
                junction.delete().where(junction.event == event_id).execute()
                names = _unique(data[key])
                if names:
                    ids = _ensure_named(catalogue, names)
                    junction.insert_many(
                        [{"event": event_id, field: ids[n], "occurred_at": occurred_at} for n in names]).execute()
            elif "occurred_at" in data:
                junction.update(occurred_at=occurred_at).where(junction.event == event_id).execute()
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
    event = Event.get_or_none(Event.id == event_id)
    if event is None:
        raise NotFound("No event with id %s." % event_id)
    return with_links([event])[0]


def list_events(query_filters):
    """One page of events matching ``query_filters`` (see app.ledger.filters): (events, next_cursor)."""
    rows, cursor = filters.page(query_filters)
    return with_links(rows), cursor


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
        "unplanned": event.unplanned,
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


def _ensure_named(catalogue, names):
    """Ids for ``names`` in a catalogue table, creating the unknown ones."""
    found = {}
    for chunk in chunked(names, 500):
        found.update(catalogue.select(catalogue.name, catalogue.id).where(catalogue.name.in_(chunk)).tuples())
    missing = [name for name in names if name not in found]
    for chunk in chunked(missing, 500):
        # A concurrent writer may add the same name first: ignore that conflict and read its id back.
        catalogue.insert_many([{"name": name} for name in chunk]).on_conflict_ignore().execute()
        found.update(catalogue.select(catalogue.name, catalogue.id).where(catalogue.name.in_(chunk)).tuples())
    return found


def _unique(names):
    seen = {}
    for name in names:
        name = name.strip()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def _audit_view(event):
    """The event as stored in an audit entry: JSON-safe values only."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in event.items()}


def utc_iso(value):
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None
