"""The timeline (/) and one event's page (/events/<id>): thin views over the ledger's timeline builder and reads."""
from datetime import datetime, timedelta, timezone

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from app.api.timeline import as_json
from app.http.errors import field_messages
from app.ledger import events, filters, timeline
from app.web import event_view, form_input, panel

bp = Blueprint("pages", __name__)

DEFAULT_RANGE = "7d"
LANES_PER_PAGE = 25
LIST_LIMIT = 50
LANE_ARGS = ("lane_offset", "lane_order", "lane")


@bp.get("/", endpoint="timeline")
def timeline_page():
    query = form_input.ledger_query(request.args)
    chosen = request.args.get("range") if request.args.get("range") in panel.RANGES else None
    range_name = chosen or (DEFAULT_RANGE if not query.get("from") and not query.get("to") else None)
    view = _lane_view(request.args)
    keep = [(name, str(value)) for name, value in (("lane_order", view.order), ("lane", view.match or ""))
            if value and (name, value) != ("lane_order", "activity")]
    context = {"args": request.args, "range_name": range_name, "ranges": _range_links(request.args),
               "lanes_view": view, "lanes_per_page": LANES_PER_PAGE, "keep": keep}
    try:
        found = filters.parse(_with_range(query, range_name))
        result = timeline.build(found, max_events=current_app.config["TIMELINE_MAX_EVENTS"], lanes=view,
                                detail="summary")
    except ValidationError as exc:
        # Keep the filter panel on screen, with what is wrong, rather than a bare error page.
        return render_template("timeline.html", result=None, chart=None, errors=field_messages(exc),
                               panel=panel.context(query, None, "pages.timeline", keep=keep, range_name=range_name,
                                                   chosen_range=chosen), **context), 422
    chart = {"result": as_json(result), "api": url_for("api.timeline.get_timeline"),
             "query": form_input.query_string(query, without=("from", "to", "cursor", "sort", "limit")),
             "lanes": {"offset": view.offset, "limit": view.limit, "order": view.order, "match": view.match or ""},
             "range": range_name, "event_url": url_for("pages.event_detail", event_id=0)[:-1]}
    return render_template(
        "timeline.html", result=result, chart=chart, errors={}, listed=_listed(result, found),
        panel=panel.context(query, found, "pages.timeline", total=result["total"], keep=keep,
                            range_name=range_name, chosen_range=chosen),
        lane_links=_lane_links(request.args, view, result), table_url=_table_url(query, result),
        **context)


def _range_links(args):
    """{"24h": url}: the same view over the last hour, day, week, month or quarter."""
    links = {}
    for name in panel.RANGES:
        moved = MultiDict([(k, v) for k, v in args.items(multi=True) if k not in ("range", "from", "to", "lane_offset")])
        moved["range"] = name
        links[name] = url_for("pages.timeline") + "?" + form_input.query_string(moved)
    return links


def _with_range(query, range_name):
    """``query`` with the absolute from/to of a relative range (e.g. the default: the last 7 days)."""
    bounds = panel.relative_range({"range": range_name}) if range_name else None
    if bounds is None:
        return query
    query = query.copy()
    query["from"], query["to"] = (moment.isoformat() for moment in bounds)
    return query


def _lane_view(args):
    order = args.get("lane_order") if args.get("lane_order") in timeline.LANE_ORDERS else "activity"
    offset = args.get("lane_offset", "")
    offset = int(offset) if offset.isdigit() and offset.isascii() and len(offset) < 7 else 0
    match = (args.get("lane") or "").strip()[:200] or None
    return timeline.Lanes(offset=offset, limit=LANES_PER_PAGE, order=order, match=match)


def _lane_links(args, view, result):
    """Previous/next lane pages as links that keep everything else."""
    def at(offset):
        moved = MultiDict(args)
        moved.setlist("lane_offset", [str(offset)] if offset else [])
        text = form_input.query_string(moved)
        return url_for("pages.timeline") + ("?" + text if text else "")

    total = result["lanes_total"] or 0
    return {"first": view.offset + 1 if total else 0, "last": min(view.offset + view.limit, total), "total": total,
            "previous": at(max(0, view.offset - view.limit)) if view.offset > 0 else None,
            "next": at(view.offset + view.limit) if view.offset + view.limit < total else None}


def _listed(result, found):
    """The newest events of the view, once each, for the list under the chart: those drawn, or when the chart
    shows groups, the newest of the range."""
    if result["mode"] == "buckets":
        return events.list_events(dict(found, limit=LIST_LIMIT, sort="-occurred_at", cursor=None))[0]
    seen = {}
    for lane in result["lanes"]:
        for event in lane.get("events", ()):
            seen.setdefault(event["id"], event)
    return sorted(seen.values(), key=lambda e: (e["occurred_at"], e["id"]), reverse=True)[:LIST_LIMIT]


def _table_url(query, result):
    """The same filters and range on /events, where every matching event is listed."""
    table = query.copy()
    table["from"], table["to"] = result["from"].isoformat(), result["to"].isoformat()
    return url_for("ledger.list_events") + "?" + form_input.query_string(table)


@bp.post("/outages")
def quick_outage():
    """The timeline's "Report outage": an outage from a few fields, then back to where it was reported from."""
    form = {name: request.form.get(name, "") for name in ("title", "severity", "occurred_at", "ended_at", "agents",
                                                            "description")}
    payload = {"title": form["title"].strip() or "Outage", "type": "outage", "severity": form["severity"] or "high",
               "description": form["description"].strip(), "source": "manual",
               "agents": form_input.split_agent_names([form["agents"]])}
    if form["occurred_at"].strip():
        payload["occurred_at"] = form_input.utc_time(form["occurred_at"])
    if form["ended_at"].strip():
        payload["ended_at"] = form_input.utc_time(form["ended_at"])
    back = form_input.local_path(request.form.get("back")) or url_for("pages.timeline")
    try:
        event, _ = events.record_event(payload, actor=g.actor)
    except ValidationError as exc:
        messages = field_messages(exc)
        flash("The outage was not recorded: %s" % "; ".join(
            "%s: %s" % (field, " ".join(texts)) for field, texts in messages.items()), "error")
        return redirect(back, code=303)
    flash("Recorded the outage “%s”%s." % (event["title"], "" if event["ended_at"] else
                                            "; end it from its page when it is over"), "ok")
    return redirect(back, code=303)


EDITABLE = ("title", "description", "type", "severity")


@bp.get("/events/<id:event_id>")
def event_detail(event_id):
    event = events.get_event(event_id)
    return render_template("event.html", errors={}, form=event, **event_view.context(event))


@bp.post("/events/<id:event_id>")
def edit_event(event_id):
    # Browsers send textarea line breaks as CRLF; store what the user sees, not a phantom change.
    patch = {k: request.form[k].replace("\r\n", "\n") for k in EDITABLE if k in request.form}
    try:
        events.update_event(event_id, patch, actor=g.actor)
    except ValidationError as exc:
        event = events.get_event(event_id)
        return render_template("event.html", errors=field_messages(exc), form={**event, **patch},
                               **event_view.context(event)), 422
    flash("Saved.", "ok")
    return redirect(url_for("pages.event_detail", event_id=event_id))


@bp.post("/events/<id:event_id>/end")
def end_event(event_id):
    """End an ongoing outage or maintenance now."""
    event = events.get_event(event_id)
    if event["ended_at"] is not None:
        flash("It had already ended.", "info")
    else:
        now = datetime.now(timezone.utc)
        ended = max(now, event["occurred_at"] + timedelta(seconds=1))  # never before it began (clock skew)
        events.update_event(event_id, {"ended_at": ended.isoformat()}, actor=g.actor)
        flash("Ended “%s” at %s UTC." % (event["title"], ended.strftime("%Y-%m-%d %H:%M")), "ok")
    back = form_input.local_path(request.form.get("back")) or url_for("pages.event_detail", event_id=event_id)
    return redirect(back, code=303)


@bp.route("/events/<id:event_id>/delete", methods=["GET", "POST"])
def delete_event(event_id):
    """GET: are you sure?; POST: delete it (its audit history stays)."""
    event = events.get_event(event_id)
    if request.method == "GET":
        return render_template("event_delete.html", event=event)
    events.delete_event(event_id, actor=g.actor)
    flash("Deleted “%s”. Its history stays in the audit trail." % event["title"], "ok")
    return redirect(url_for("ledger.list_events"), code=303)


@bp.post("/events/<id:event_id>/quick-edit")
def quick_edit(event_id):
    """The table's inline edit of severity and tags."""
    patch = {}
    if "severity" in request.form:
        patch["severity"] = request.form["severity"]
    if "tags" in request.form:
        patch["tags"] = form_input.split_names([request.form["tags"]])
    back = form_input.local_path(request.form.get("back")) or url_for("ledger.list_events")
    try:
        events.update_event(event_id, patch, actor=g.actor)
    except ValidationError as exc:
        flash("Event #%d was not changed: %s" % (event_id, "; ".join(
            "%s: %s" % (field, " ".join(texts)) for field, texts in field_messages(exc).items())), "error")
        return redirect(back, code=303)
    flash("Saved event #%d." % event_id, "ok")
    return redirect(back + "#event-%d" % event_id, code=303)

