"""The audit trail: who changed what, written in the same transaction as the change."""
from dataclasses import dataclass

from app.db import chunks, from_db_time
from app.dialect import insert_rows, insert_values
from app.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user in the browser, a user's API token, or the system itself."""

    name: str
    user_id: int | None = None
    token_id: int | None = None


SYSTEM = Actor("system")
# What the trail records changes of (entity_type), for filters.
ENTITY_TYPES = ("event", "comment", "saved_search", "agent", "tool", "toolchain", "user", "token", "webhook_source",
                "inbox_item", "poll_run", "retention")


def record(actor, action, entity_type, entity_id, before=None, after=None):
    """Append one entry. Call it inside the caller's ``db.atomic()`` so both land or neither does."""
    return AuditEntry.create(**entry(actor, action, entity_type, entity_id, before, after))


def record_many(entries):
    """Append ``entry`` dicts (one per changed object, e.g. a CSV import's events) in a few bulk INSERTs."""
    for chunk in chunks(entries):
        insert_rows(AuditEntry, chunk)


# An entry's columns, for callers that build many entries' values themselves (the ledger's INSERTs of events).
COLUMNS = ("at", "actor", "user_id", "action", "entity_type", "entity_id", "before", "after")
as_json = AuditEntry.after.db_value  # before/after as the trail stores them


def values(actor, action, entity_type, entity_id, at, before_json=None, after_json=None):
    """One entry as database values in COLUMNS order; ``before_json``/``after_json`` are ``as_json`` text."""
    return (at, actor.name, actor.user_id, action, entity_type, str(entity_id), before_json, after_json)


def record_values(rows):
    """Append entries given as ``values``, 500 to a statement."""
    for chunk in chunks(rows):
        insert_values(AuditEntry._meta.table_name, COLUMNS, chunk)


def entry(actor, action, entity_type, entity_id, before=None, after=None, at=None):
    """The columns of one audit entry (``at``: now, unless given)."""
    row = {"actor": actor.name, "user": actor.user_id, "action": action, "entity_type": entity_type,
           "entity_id": str(entity_id), "before": before, "after": after}
    if at is not None:
        row["at"] = at
    return row


def history(entity_type, entity_id):
    query = (AuditEntry.select()
             .where((AuditEntry.entity_type == entity_type) & (AuditEntry.entity_id == str(entity_id)))
             .order_by(AuditEntry.at, AuditEntry.id))
    return [entry_to_dict(e) for e in query]


def entry_to_dict(entry):
    return {
        "id": entry.id,
        "at": from_db_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
    }


def recent(limit=200, entity_type=None, actor=None, before_id=None):
    """Newest entries first, optionally for one kind of entity or one actor (substring)."""
    query = AuditEntry.select().order_by(AuditEntry.id.desc()).limit(limit)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if actor:
        query = query.where(AuditEntry.actor.contains(actor))
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return [entry_to_dict(e) for e in query]
