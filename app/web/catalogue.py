"""Catalogue pages: agents (list and one agent's recent changes), tools, toolchains."""
from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from app.http.errors import field_messages
from app.ledger import catalogue

bp = Blueprint("catalogue", __name__)
RECENT_EVENTS = 100


def _list_page(kind, template):
    try:
        items, cursor = catalogue.list_items(kind, catalogue.parse_list_query(kind, request.args))
    except ValidationError as exc:
        return render_template(template, items=[], cursor=None, args=request.args, errors=field_messages(exc)), 422
    return render_template(template, items=items, cursor=cursor, args=request.args, errors={})


@bp.get("/agents")
def agents():
    return _list_page(catalogue.AGENTS, "agents.html")


@bp.get("/agents/<path:name>")  # a name may hold '/', encoded or not
def agent_detail(name):
    agent = catalogue.get_item(catalogue.AGENTS, name)
    return render_template("agent.html", agent=agent,
                           events=catalogue.recent_events(catalogue.AGENTS, name, limit=RECENT_EVENTS),
                           limit=RECENT_EVENTS)


@bp.get("/tools")
def tools():
    return _list_page(catalogue.TOOLS, "tools.html")


@bp.get("/toolchains")
def toolchains():
    return _list_page(catalogue.TOOLCHAINS, "toolchains.html")
