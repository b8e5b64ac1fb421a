"""The browser pages: thin views over the domain's queries."""
from flask import Blueprint, render_template, request

from app.domain import events
from app.domain.timeline import swimlanes
from app.domain.schemas import EventSchema

bp = Blueprint("pages", __name__)


@bp.get("/")
def timeline():
    filters = events.parse_query(request.args)
    lanes = swimlanes(filters)
    chart = {
        "lanes": [lane["name"] for lane in lanes["lanes"]],
        "events": EventSchema(only=("id", "title", "type", "severity", "occurred_at", "ended_at", "agents")).dump(
            lanes["events"], many=True),
    }
    return render_template("timeline.html", events=lanes["events"], chart=chart, filters=filters, args=request.args)
