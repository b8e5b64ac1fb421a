"""Admin pages for automatic ingestion: webhook sources (/admin/sources) and the inbox (/admin/inbox)."""
import json
import secrets

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from app.errors import Conflict
from app.fields import JsonRefused, loads_json
from app.ingest import inbox, sources
from app.models import INBOX_STATES
from app.ops import leases
from app.polling import poll_runs
from app.web import form_input

bp = Blueprint("ingest", __name__, url_prefix="/admin")
INBOX_PAGE = 50

# The mapping each kind starts from. The generic one reads the body of docs/webhooks.md's signed example (a deploy
# tool's {"deploy": {...}}); tests/docs/test_webhooks_doc.py holds the two together.
MAPPING_EXAMPLES = {
    "jenkins": {"jobs": [{"pattern": "infra/deploy-*", "type": "deployment", "agents_parameter": "AGENTS"},
                         {"pattern": "maintenance/*", "type": "maintenance", "severity": "low"}],
                "record_failures": False},
    "registry": {"repositories": ["library/*", "ci/build-images/*"], "actions": ["push", "delete"]},
    "generic": {"fields": {"agents": "deploy.hosts", "occurred_at": "deploy.at"},
                "templates": {"title": "Deploy {deploy.service} {deploy.version} to {deploy.environment}",
                              "description": "{deploy.service} {deploy.version} deployed by {deploy.user}",
                              "dedupe_key": "{deploy.service}-{deploy.version}-{deploy.environment}"},
                "defaults": {"type": "deployment", "severity": "info", "tags": ["deploy"]}},
}


def _box():
    return sources.cipher(current_app.config["SECRET_KEY"])


def _receive_url(source):
    return request.url_root.rstrip("/") + sources.receive_path(source)


def _sources_page(errors=None, form=None, status=200):
    rows = [dict(sources.source_view(s), url=_receive_url(s)) for s in sources.list_sources()]
    form = form or {"kind": "jenkins", "secret": secrets.token_urlsafe(32), "active": True,
                    "mapping": json.dumps(MAPPING_EXAMPLES["jenkins"], indent=2)}
    return render_template("admin_sources.html", sources=rows, errors=errors or {}, form=form,
                           examples={k: json.dumps(v, indent=2) for k, v in MAPPING_EXAMPLES.items()}), status


def _form_input():
    """The form as the domain's input, or (None, errors) when the mapping is not JSON."""
    form = {k: request.form.get(k, "") for k in ("name", "kind", "secret", "mapping")}
    form["active"] = request.form.get("active") == "on"
    data = {"name": form["name"].strip(), "kind": form["kind"], "active": form["active"]}
    if form["secret"]:
        data["secret"] = form["secret"]
    try:
        data["mapping"] = loads_json(form["mapping"]) if form["mapping"].strip() else {}
    except JsonRefused as exc:  # also NaN, numbers past 64 bits, nesting deeper than 64 (was a 500)
        return form, None, {"mapping": ["Not valid JSON: %s" % exc]}
    if not isinstance(data["mapping"], dict):
        return form, None, {"mapping": ["Must be a JSON object."]}
    return form, data, None


@bp.get("/sources")
def sources_page():
    return _sources_page()


@bp.post("/sources")
def create_source():
    form, data, errors = _form_input()
    kind = form["kind"] if form["kind"] in MAPPING_EXAMPLES else "jenkins"
    if request.form.get("action") == "example":  # "Fill in the example for this kind": nothing is saved
        return _sources_page(form=dict(form, mapping=json.dumps(MAPPING_EXAMPLES[kind], indent=2)))
    if data is not None and _other_example(kind, data["mapping"]):
        return _sources_page({"mapping": [
            "That was the %s example; the %s example is filled in instead: adjust it to what the sender posts, then "
            "add the source." % (_other_example(kind, data["mapping"]), kind)]},
            dict(form, mapping=json.dumps(MAPPING_EXAMPLES[kind], indent=2)), 422)
    if errors:
        return _sources_page(errors, form, 422)
    try:
        source = sources.create_source(data, _box(), actor=g.actor)
    except ValidationError as exc:
        return _sources_page(exc.messages, form, 422)
    except Conflict as exc:
        return _sources_page(exc.errors, form, 409)
    flash("Created %s source %s. Point the sender at %s." % (source.kind, source.name, _receive_url(source)), "info")
    return redirect(url_for("ingest.sources_page"))


def _other_example(kind, mapping):
    """The kind whose example ``mapping`` is, when that is not ``kind`` (the form's default left as it was)."""
    return next((other for other, example in MAPPING_EXAMPLES.items() if other != kind and mapping == example), None)


def _edit_page(source, errors=None, form=None, status=200):
    form = form or {"name": source.name, "active": source.active, "mapping": json.dumps(source.mapping, indent=2)}
    return render_template("admin_source.html", source=sources.source_view(source), url=_receive_url(source),
                           errors=errors or {}, form=form, example=json.dumps(MAPPING_EXAMPLES[source.kind], indent=2),
                           items=[inbox.item_view(i) for i in inbox.list_items(source=source.name, limit=20)]), status


@bp.get("/sources/<name>")
def edit_source(name):
    return _edit_page(sources.get_source(name))


@bp.post("/sources/<name>")
def update_source(name):
    source = sources.get_source(name)
    form, data, errors = _form_input()
    if errors:
        return _edit_page(source, errors, form, 422)
    data.pop("kind", None)
    try:
        source = sources.update_source(name, data, _box(), actor=g.actor)
    except ValidationError as exc:
        return _edit_page(source, exc.messages, form, 422)
    except Conflict as exc:
        return _edit_page(source, exc.errors, form, 409)
    flash("Saved %s." % source.name, "info")
    return redirect(url_for("ingest.edit_source", name=source.name))


@bp.post("/sources/<name>/delete")
def delete_source(name):
    sources.delete_source(name, actor=g.actor)
    flash("Deleted source %s; its inbox items stay." % name, "info")
    return redirect(url_for("ingest.sources_page"))


@bp.get("/inbox")
def inbox_page():
    state = request.args.get("state") or "dead"
    if state not in INBOX_STATES:
        state = "dead"
    source = request.args.get("source") or None
    before = request.args.get("before", type=form_input.row_id)
    by_state = inbox.counts()
    items = inbox.list_items(state=state, limit=INBOX_PAGE + 1, before_id=before, source=source)
    older = items[INBOX_PAGE - 1].id if len(items) > INBOX_PAGE else None
    return render_template("admin_inbox.html", counts=by_state, backlog=inbox.backlog(by_state), state=state,
                           source=source or "", sources=[s.name for s in sources.list_sources()],
                           items=[dict(inbox.item_view(i, with_body=True), body=_preview(i.body))
                                  for i in items[:INBOX_PAGE]],
                           older=older, paged=before is not None,
                           runs=poll_runs.recent(20, poll_runs.timeout(current_app.config)),
                           lease=leases.current(leases.SCHEDULER),
                           poll_run_timeout_minutes=current_app.config["POLL_RUN_TIMEOUT_MINUTES"])


def _preview(body, limit=4000):
    """A delivery's body as an admin reads it: JSON indented, cut at ``limit`` characters."""
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        text = body
    return text if len(text) <= limit else text[:limit] + "\n… (%d more characters)" % (len(text) - limit)


@bp.post("/inbox/<id:item_id>/replay")
def replay_item(item_id):
    try:
        inbox.replay(item_id, actor=g.actor)
        flash("Inbox item %d is pending again; the worker will process it." % item_id, "info")
    except Conflict as exc:
        flash(exc.message, "error")
    return redirect(url_for("ingest.inbox_page", state=request.form.get("state") or "dead"))
