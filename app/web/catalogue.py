"""Catalogue pages: agents, tools and toolchains, each a searchable list of numbered pages and a page per item with
its recent changes (and, for agents and tools, what the fleet matrix says of them). Editors edit them there."""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from app.http.errors import field_messages
from app.ledger import catalogue, catalogue_browse
from app.ledger.events import utc_iso
from app.polling import fleet
from app.web.paging import page_links

bp = Blueprint("catalogue", __name__)
RECENT_EVENTS = 25
# What the edit form on each item's page may change (the rest is observed by the pollers or derived).
EDITABLE = {catalogue.AGENTS: ("description", "url", "labels"), catalogue.TOOLS: ("kind", "description", "url"),
            catalogue.TOOLCHAINS: ("description", "tools")}
# Lists edited as text: labels are single words (spaces or commas between them), tool names may hold spaces.
LISTED = {"labels": " ", "tools": ", "}


def _list_page(kind, template):
    choices = {"labels": catalogue_browse.agent_labels() if kind is catalogue.AGENTS else [],
               "kinds": catalogue_browse.tool_kinds() if kind is catalogue.TOOLS else [],
               "sorts": catalogue_browse.SORTS}
    try:
        listing = catalogue_browse.browse(kind, catalogue_browse.parse_browse_query(request.args))
    except ValidationError as exc:
        return render_template(template, items=[], listing=None, args=request.args, errors=field_messages(exc),
                               **choices), 422
    return render_template(template, items=listing["items"], listing=page_links(listing), args=request.args,
                           errors={}, **choices)


def _item_page(kind, template, name, form=None, errors=None, status=200, **extra):
    item = catalogue.get_item(kind, name)
    events = catalogue.recent_events(kind, item["name"], RECENT_EVENTS)
    return render_template(template, item=item, kind=kind.name, form=form or _form_of(kind, item),
                           errors=errors or {}, events=events, timeline_url=_timeline_url(kind, item, events),
                           **extra), status


def _timeline_url(kind, item, events):
    """The timeline filtered on the item, its range reaching back to the oldest change shown (to now)."""
    args = {kind.name: item["name"]}
    if events:
        oldest = min(e["occurred_at"] for e in events).replace(minute=0, second=0, microsecond=0)
        args["from"] = utc_iso(oldest)
    return url_for("pages.timeline", **args)


def _form_of(kind, item):
    return {k: LISTED[k].join(item[k]) if k in LISTED else (item[k] or "") for k in EDITABLE[kind]}


def _split(key, text):
    if key == "labels":
        return text.replace(",", " ").split()
    return [name.strip() for name in text.replace("\n", ",").split(",") if name.strip()]


def _edit(kind, name, endpoint, template, **extra):
    """The edit form of an item's page. Only the fields that differ from what is stored are sent, so saving an
    untouched form changes nothing and writes no audit entry."""
    item = catalogue.get_item(kind, name)
    form = {k: request.form.get(k, "").replace("\r\n", "\n") for k in EDITABLE[kind]}
    current = _form_of(kind, item)
    patch = {}
    for key, value in form.items():
        if key in LISTED:
            if _split(key, value) != _split(key, current[key]):
                patch[key] = _split(key, value)
        elif value.strip() != current[key].strip():
            patch[key] = value.strip() or (None if key == "url" else "")
    if patch:
        try:
            catalogue.update_item(kind, item["name"], patch, actor=g.actor)
        except ValidationError as exc:
            return _item_page(kind, template, name, form=form, errors=field_messages(exc), status=422, **extra)
        flash("Saved the %s %s." % (kind.name, item["name"]), "ok")
    else:
        flash("Nothing to save: the form was unchanged.", "info")
    return redirect(url_for(endpoint, name=item["name"]), code=303)


@bp.get("/agents")
def agents():
    return _list_page(catalogue.AGENTS, "agents.html")


@bp.get("/agents/<path:name>")  # a name may hold '/', encoded or not
def agent_detail(name):
    return _item_page(catalogue.AGENTS, "agent.html", name, observed=fleet.agent_tools(name))


@bp.post("/agents/<path:name>")
def update_agent(name):
    return _edit(catalogue.AGENTS, name, "catalogue.agent_detail", "agent.html", observed=fleet.agent_tools(name))


@bp.get("/tools")
def tools():
    return _list_page(catalogue.TOOLS, "tools.html")


@bp.get("/tools/<path:name>")
def tool_detail(name):
    return _item_page(catalogue.TOOLS, "tool.html", name, versions=fleet.tool_versions(name))


@bp.post("/tools/<path:name>")
def update_tool(name):
    return _edit(catalogue.TOOLS, name, "catalogue.tool_detail", "tool.html", versions=fleet.tool_versions(name))


@bp.get("/toolchains")
def toolchains():
    return _list_page(catalogue.TOOLCHAINS, "toolchains.html")


@bp.get("/toolchains/<path:name>")
def toolchain_detail(name):
    return _item_page(catalogue.TOOLCHAINS, "toolchain.html", name)


@bp.post("/toolchains/<path:name>")
def update_toolchain(name):
    return _edit(catalogue.TOOLCHAINS, name, "catalogue.toolchain_detail", "toolchain.html")

