"""Events: record, read, list, edit, delete, history."""
from datetime import timedelta

from flask import Blueprint, current_app, g, request

from app.api.bodies import json_body
from app.domain import events, filters
from app.domain.schemas import AuditEntrySchema, EventSchema

bp = Blueprint("events", __name__)
event_schema = EventSchema()
audit_schema = AuditEntrySchema(many=True)


@bp.post("/events")
def create_event():
    window = timedelta(minutes=current_app.config["DEDUPE_WINDOW_MINUTES"])
    event, created = events.record_event(json_body(), actor=g.actor, dedupe_window=window)
    return event_schema.dump(event), 201 if created else 200


@bp.get("/events")
def list_events():
    items, cursor = events.list_events(filters.parse(request.args))
    return {"items": event_schema.dump(items, many=True), "next_cursor": cursor}


@bp.get("/events/<int:event_id>")
def get_event(event_id):
    return event_schema.dump(events.get_event(event_id))


@bp.patch("/events/<int:event_id>")
def update_event(event_id):
    return event_schema.dump(events.update_event(event_id, json_body(), actor=g.actor))


@bp.delete("/events/<int:event_id>")
def delete_event(event_id):
    events.delete_event(event_id, actor=g.actor)
    return "", 204


@bp.get("/events/<int:event_id>/history")
def event_history(event_id):
    return {"items": audit_schema.dump(events.event_history(event_id))}
