"""/suspects: "what changed before my build broke?", the page the Jenkins build sidebar links to."""
from datetime import timezone

from flask import Blueprint, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from app.correlation import suspects, windows
from app.http.errors import field_messages
from app.ledger.events import utc_iso
from app.web import form_input

bp = Blueprint("suspects", __name__)
LABELS = {"build_url": "Build URL", "agent": "Agents", "before": "Failed at (UTC)", "since": "Changes since (UTC)",
          "last_success": "Job's last success (UTC)", "tool": "Tools or toolchains", "limit": "Limit"}
TIMES = ("before", "since", "last_success")
RANK_NAMES = {"same_agent": "same agent", "same_tool": "a tool it uses", "fleet_wide": "fleet-wide"}


@bp.get("/suspects")
def search():
    form = _form(request.args)
    if not request.args:
        return _page(form)
    try:
        query = suspects.parse_suspect_query(_query(request.args))
    except ValidationError as exc:
        return _page(form, errors=field_messages(exc)), 422
    try:
        result = suspects.find_suspects(query)
    except ValidationError as exc:
        # A well-formed build_url refused here means the ledger cannot tell which agent ran the build.
        errors = field_messages(exc)
        return _page(form, errors=errors, agent_unknown="build_url" in errors), 422
    return _page(form, result=result)


def _query(args):
    """The API's query from the form's: names split on commas, datetime-local times in UTC."""
    query = MultiDict()
    query.setlist("agent", form_input.split_agent_names(args.getlist("agent")))
    query.setlist("tool", form_input.split_names(args.getlist("tool")))
    for name in TIMES:
        query[name] = form_input.utc_time(args.get(name, ""))
    for name in ("build_url", "limit"):
        query[name] = args.get(name, "").strip()
    return query


def _form(args):
    form = {"agent": ", ".join(form_input.split_agent_names(args.getlist("agent"))),
            "tool": ", ".join(form_input.split_names(args.getlist("tool")))}
    form["build_url"] = args.get("build_url", "").strip()
    form["limit"] = args.get("limit", "").strip()
    for name in TIMES:
        form[name + "_raw"] = args.get(name, "").strip()
        form[name] = form_input.datetime_local(form_input.utc_time(form[name + "_raw"]))
    return form


def _page(form, result=None, errors=None, agent_unknown=False):
    errors = errors or {}
    events_url = None
    if result:
        result = dict(result, since=result["since"].astimezone(timezone.utc),
                      before=result["before"].astimezone(timezone.utc))
        if result["last_success"]:
            result["last_success"] = result["last_success"].astimezone(timezone.utc)
        events_url = url_for("ledger.list_events", agent=result["agents"],
                             **{"from": utc_iso(result["since"]), "to": utc_iso(result["before"])})
    return render_template(
        "suspects.html", form=form, result=result, errors=errors, labels=LABELS, rank_names=RANK_NAMES,
        describe_span=windows.describe_span,
        agent_unknown=agent_unknown,
        permalink=_permalink(form, result) if result else None, events_url=events_url,
    )


def _permalink(form, result):
    """These results as a link that gives the same answer later: 'before' pinned to the time used."""
    args = {"agent": form["agent"] or None, "tool": form["tool"] or None, "build_url": form["build_url"] or None,
            "since": form["since"] and utc_iso(result["since"]), "before": utc_iso(result["before"]),
            "last_success": result["last_success"] and utc_iso(result["last_success"]), "limit": form["limit"] or None}
    return form_input.query_string(MultiDict([(k, v) for k, v in args.items() if v]))
