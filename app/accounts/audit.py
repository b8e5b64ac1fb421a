"""The audit trail: who changed what, written in the same transaction as the change."""
from dataclasses import dataclass

from app.db import from_db_time
from app.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user in the browser, a user's API token, or the system itself."""

    name: str
    user_id: int | None = None
    token_id: int | None = None


SYSTEM = Actor("system")


def record(actor, action, entity_type, entity_id, before=None, after=None):
    """Append one entry. Call it inside the caller's ``db.atomic()`` so both land or neither does."""
    return AuditEntry.create(
        actor=actor.name,
        user=actor.user_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
    )


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
