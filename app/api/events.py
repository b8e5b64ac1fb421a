"""Events: record, read, list."""
from datetime import timedelta

from flask import Blueprint, current_app, g, request

from app.api.bodies import json_body
from app.domain import events
from app.domain.schemas import EventSchema

bp = Blueprint("events", __name__)
event_schema = EventSchema()


@bp.post("/events")
def create_event():
    window = timedelta(minutes=current_app.config["DEDUPE_WINDOW_MINUTES"])
    event, created = events.record_event(json_body(), actor=g.actor, dedupe_window=window)
    return event_schema.dump(event), 201 if created else 200


@bp.get("/events/<int:event_id>")
def get_event(event_id):
    return event_schema.dump(events.get_event(event_id))


@bp.get("/events")
def list_events():
    filters = events.parse_query(request.args)
    items = events.list_events(filters)
    return {"items": event_schema.dump(items, many=True), "next_cursor": None}
