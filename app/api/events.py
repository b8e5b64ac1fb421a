"""Events: record, read, list, edit, delete, history."""
from flask import Blueprint, current_app, g, request

from app import config
from app.accounts.access import WRITE, check_finishing
from app.api.bodies import items_of, json_body
from app.api.openapi import doc
from app.ledger import events, filters
from app.ledger.schemas import AuditEntrySchema, EventCreateSchema, EventSchema

bp = Blueprint("events", __name__)
event_schema = EventSchema()
audit_schema = AuditEntrySchema(many=True)
EventPage = items_of(EventSchema, "EventPage", cursor=True)
History = items_of(AuditEntrySchema, "EventHistory")


@bp.post("/events")
@doc("Record an event", body=EventCreateSchema, response=EventSchema, status=201,
     description="201 with the new event; 200 with the existing event (count + 1) when its dedupe_key was seen "
                 "within the dedupe window, or a webhook/poller event repeats (same source, type, agents, tools "
                 "and title up to numbers, hashes and timestamps).")
def create_event():
    event, created = events.record_event(json_body(), actor=g.actor,
                                         dedupe_window=config.dedupe_window(current_app.config))
    return event_schema.dump(event), 201 if created else 200


@bp.get("/events")
@doc("List events", query=filters.EventFilterSchema, response=EventPage,
     description="Repeatable filters OR within themselves and AND across. Pass next_cursor back as cursor for "
                 "the next page (keep the same sort); it stays correct when events arrive between pages.")
def list_events():
    items, cursor = events.list_events(filters.parse(request.args))
    return {"items": event_schema.dump(items, many=True), "next_cursor": cursor}


@bp.get("/events/<id:event_id>")
@doc("One event", response=EventSchema)
def get_event(event_id):
    return event_schema.dump(events.get_event(event_id))


@bp.patch("/events/<id:event_id>")
@doc("Edit an event", body=EventCreateSchema(partial=True), response=EventSchema,
     description="Only the fields sent change. id, source, dedupe_key, count, first_seen, last_seen, created_by, "
                 "created_at and updated_at are read-only (422). The audit entry keeps before and after. A "
                 "record-scope token may change only ended_at, severity and metadata of an event it recorded.")
def update_event(event_id):
    patch = json_body()
    if g.level < WRITE:
        check_finishing(g.actor, events.get_event(event_id), patch)
    return event_schema.dump(events.update_event(event_id, patch, actor=g.actor))


@bp.delete("/events/<id:event_id>")
@doc("Delete an event", status=204)
def delete_event(event_id):
    events.delete_event(event_id, actor=g.actor)
    return "", 204


@bp.get("/events/<id:event_id>/history")
@doc("An event's audit entries, oldest first (kept after deletion)", response=History)
def event_history(event_id):
    return {"items": audit_schema.dump(events.event_history(event_id))}
