"""The browser pages: thin views over the domain's queries."""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from app.correlation import related
from app.http.errors import field_messages
from app.ledger import comments, events, filters
from app.ledger.schemas import EventSchema
from app.ledger.timeline import FLEET_LANE
from app.web import form_input

bp = Blueprint("pages", __name__)


PAGE_LIMIT = 500


@bp.get("/")
def timeline():
    try:
        query = filters.parse(form_input.utc_form_times(request.args), defaults={"limit": PAGE_LIMIT})
    except ValidationError as exc:
        # Keep the filter form on screen, with what is wrong, rather than a bare error page.
        return render_template("timeline.html", events=[], chart={"lanes": [], "events": []}, args=request.args,
                               errors=field_messages(exc), more=False, limit=PAGE_LIMIT), 422
    items, cursor = events.list_events(query)
    agents = sorted({a for e in items for a in e["agents"]}, key=str.lower)
    chart = {
        "lanes": agents + ([FLEET_LANE] if any(not e["agents"] for e in items) else []),
        "events": EventSchema(only=("id", "title", "type", "severity", "occurred_at", "ended_at", "agents")).dump(
            items, many=True),
    }
    return render_template("timeline.html", events=items, chart=chart, args=request.args, errors={},
                           more=cursor is not None, limit=query["limit"])


EDITABLE = ("title", "description", "type", "severity")


@bp.get("/events/<id:event_id>")
def event_detail(event_id):
    event = events.get_event(event_id)
    return render_template("event.html", event=event, history=events.event_history(event_id), errors={}, form=event,
                           comments=comments.list_comments(event_id), related=related.related(event_id))


@bp.post("/events/<id:event_id>")
def edit_event(event_id):
    # Browsers send textarea line breaks as CRLF; store what the user sees, not a phantom change.
    patch = {k: request.form[k].replace("\r\n", "\n") for k in EDITABLE if k in request.form}
    try:
        events.update_event(event_id, patch, actor=g.actor)
    except ValidationError as exc:
        event = events.get_event(event_id)
        return render_template("event.html", event=event, history=events.event_history(event_id),
                               errors=exc.messages, form={**event, **patch},
                               comments=comments.list_comments(event_id), related=related.related(event_id)), 422
    flash("Saved.", "info")
    return redirect(url_for("pages.event_detail", event_id=event_id))
