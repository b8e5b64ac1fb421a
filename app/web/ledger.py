"""The ledger pages: /events (the filtered table, its saved searches) and /events/new (record a change by hand)."""
from urllib.parse import parse_qsl

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from app import config
from app.accounts.access import ADMIN
from app.db import utcnow
from app.errors import Conflict, Forbidden
from app.http.errors import field_messages
from app.ledger import events, filters, saved_searches
from app.models import EVENT_TYPES, SEVERITIES
from app.models import Event
from app.web import form_input, panel

bp = Blueprint("ledger", __name__)

PAGE_SIZES = (50, 100, 200, 500)
SORTS = {"-occurred_at": "Newest first", "occurred_at": "Oldest first", "-severity": "Most severe first",
         "severity": "Least severe first", "title": "Title A–Z"}
FILTER_LABELS = {"q": "Search", "from": "From (UTC)", "to": "To (UTC)", "agent": "Agents", "tool": "Tools",
                 "label": "Agent labels", "toolchain": "Toolchains", "tag": "Tags", "type": "Type",
                 "severity": "Severity", "source": "Source", "sort": "Sort", "limit": "Per page"}
# Filters the "More filters" panel holds: it opens by itself when one of them is set or wrong.
MORE_FILTERS = ("label", "toolchain", "tag", "source", "limit")
SAVE_LABELS = {"name": "Name", "query": "Search", "shared": "Shared"}
EVENT_LABELS = {"title": "Title", "type": "Type", "severity": "Severity", "occurred_at": "Occurred at (UTC)",
                "ended_at": "Ended at (UTC)", "agents": "Agents", "tools": "Tools", "toolchains": "Toolchains",
                "tags": "Tags", "description": "Description", "build_url": "Build URL", "links": "Links"}


@bp.get("/events")
def list_events():
    return _ledger_page(form_input.ledger_query(request.args))


@bp.post("/events/saved-searches")
def save_search():
    query = form_input.ledger_query(MultiDict(parse_qsl(request.form.get("query", ""))))
    form = {"name": request.form.get("name", ""), "shared": request.form.get("shared") == "on",
            "query": form_input.query_string(query, without=("cursor",))}
    try:
        search = saved_searches.create_saved_search(form, actor=g.actor)
    except ValidationError as exc:
        return _ledger_page(query, save_form=form, save_errors=field_messages(exc), status=422)
    except Conflict as exc:
        return _ledger_page(query, save_form=form, save_errors=exc.errors or {"name": [exc.message]}, status=409)
    flash("Saved the search “%s”%s." % (search["name"], " for everyone" if search["shared"] else ""), "info")
    return redirect(_ledger_url(search["query"]), code=303)


@bp.post("/events/saved-searches/<id:search_id>/delete")
def delete_search(search_id):
    try:
        search = saved_searches.delete_saved_search(search_id, actor=g.actor, may_change_others=g.level >= ADMIN)
    except Forbidden as exc:
        flash(str(exc), "error")
    else:
        flash("Deleted the saved search “%s”." % search["name"], "info")
    back = form_input.ledger_query(MultiDict(parse_qsl(request.form.get("back", ""))))
    return redirect(_ledger_url(form_input.query_string(back)), code=303)


def _ledger_page(query, save_form=None, save_errors=None, status=200):
    """The /events page for ``query`` (see form_input.ledger_query); bad filters → 422 with the form and messages."""
    errors, items, cursor, found, total = {}, [], None, None, None
    try:
        found = filters.parse(query, defaults={"limit": form_input.PAGE_SIZE})
    except ValidationError as exc:
        errors, status = field_messages(exc), 422
    else:
        items, cursor = events.list_events(found)
        total = filters.matching(found).count()
    current = form_input.query_string(query, without=("cursor", "start"))
    page_size = found["limit"] if found else form_input.PAGE_SIZE
    start = _position(request.args.get("start")) if "cursor" in query else 1
    return render_template(
        "events.html", items=items, errors=errors, total=total, start=start, labels=FILTER_LABELS,
        panel=panel.context(query, found, "ledger.list_events", total=total, open_panel=True),
        sort=query.get("sort") or "-occurred_at", sort_hidden=[(k, v) for k, v in query.items(multi=True)
                                                                 if k not in ("sort", "cursor", "start")],
        current=current, paged="cursor" in query, page_size=page_size,
        next_url=_ledger_url(current, cursor=cursor, start=start + len(items)) if cursor else None,
        first_url=_ledger_url(current), back=request.full_path,
        ledger_empty=not errors and total == 0 and not current and not Event.select().exists(),
        csv_url=_query_url(url_for("api.csv_exchange.export_events"),
                           form_input.query_string(query, without=("sort", "limit", "cursor", "start"))),
        may_delete_any=g.level >= ADMIN,
        save_form=save_form or {"name": "", "shared": False}, save_errors=save_errors or {},
        save_labels=SAVE_LABELS, sorts=SORTS, only_links=_value_links(query),
        page_sizes=[(size, size) for size in sorted(set(PAGE_SIZES) | {page_size})],
    ), status


def _position(text):
    """The 1-based position of a page's first row, carried in its link for the "51–100 of 8,214" line."""
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 10 and int(text) > 0 else 1


def _value_links(query):
    """For the agent, tool and tag values in the rows: (only this, leave it out) links that keep the other filters."""
    def links(name, value):
        only = query.copy()
        only.setlist(name, [value])
        only.poplist("cursor")
        without = query.copy()
        without.setlist("not_" + name, list(dict.fromkeys(query.getlist("not_" + name) + [value])))
        without.setlist(name, [v for v in query.getlist(name) if v != value])
        without.poplist("cursor")
        return _ledger_url(form_input.query_string(only)), _ledger_url(form_input.query_string(without))
    return links


def _ledger_url(query_string, **extra):
    if extra:
        query_string = "&".join(part for part in (query_string, form_input.query_string(MultiDict(
            {k: str(v) for k, v in extra.items()}))) if part)
    return _query_url(url_for("ledger.list_events"), query_string)


def _query_url(path, query_string):
    return path + ("?" + query_string if query_string else "")


@bp.get("/events/new")
def new_event():
    form = {name: "" for name in EVENT_LABELS}
    form.update(type="note", severity="info", occurred_at=utcnow().strftime("%Y-%m-%dT%H:%M"))
    # A prefilled form is a link away, e.g. /events/new?agents=linux-07&type=agent_config.
    form.update({name: request.args[name] for name in EVENT_LABELS if request.args.get(name)})
    return _event_form(form, {})


@bp.post("/events/new")
def record_event():
    form = {name: request.form.get(name, "") for name in EVENT_LABELS}
    try:
        event, _ = events.record_event(dict(form_input.event_payload(form), source="manual"), actor=g.actor,
                                       dedupe_window=config.dedupe_window(current_app.config))
    except ValidationError as exc:
        return _event_form(form, form_input.event_form_errors(field_messages(exc)), status=422)
    flash("Recorded “%s”." % event["title"], "info")
    return redirect(url_for("pages.event_detail", event_id=event["id"]), code=303)


def _event_form(form, errors, status=200):
    times = {name: form_input.datetime_local(form_input.utc_time(form[name])) for name in ("occurred_at", "ended_at")}
    return render_template("event_new.html", form=form, times=times, errors=errors, labels=EVENT_LABELS,
                           types=[(t, t.replace("_", " ")) for t in EVENT_TYPES],
                           severities=[(s, s) for s in SEVERITIES]), status
