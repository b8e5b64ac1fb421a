"""Admin pages: users and the audit trail."""
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import login_user
from marshmallow import ValidationError

from app.accounts import audit, users
from app.errors import Conflict
from app.web.paging import id_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 100


def _users_page(errors=None, form=None, status=200):
    listed = [users.user_view(u) for u in users.list_users()]
    return render_template("admin_users.html", users=listed, errors=errors or {}, form=form or {}), status


@bp.get("/users", endpoint="users")
def users_page():
    return _users_page()


@bp.post("/users")
def create_user():
    form = {k: request.form.get(k, "") for k in ("username", "role", "password")}
    try:
        user = users.create_user(form, actor=g.actor)
    except ValidationError as exc:
        return _users_page(exc.messages, {"username": form["username"], "role": form["role"]}, 422)
    except Conflict as exc:  # the name is taken, in some case
        return _users_page(exc.errors, {"username": form["username"], "role": form["role"]}, 409)
    flash("Created %s %s." % (user.role, user.username), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>")
def update_user(username):
    change = {}
    if request.form.get("role"):
        change["role"] = request.form["role"]
    if request.form.get("active") in ("true", "false"):
        change["active"] = request.form["active"] == "true"
    if request.form.get("password"):
        change["password"] = request.form["password"]
    try:
        user = users.update_user(username, change, actor=g.actor)
    except ValidationError as exc:
        return _users_page({"%s.%s" % (username, k): v for k, v in exc.messages.items()}, status=422)
    if user.id == g.actor.user_id and "password" in change:
        # A new password ends the admin's other sessions; this one goes on under the new session version.
        login_user(user, remember=current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies)
    flash("Updated %s." % username, "info")
    return redirect(url_for("admin.users"))


@bp.get("/audit")
def audit_trail():
    entity_type = request.args.get("entity_type") or None
    actor = request.args.get("actor", "").strip() or None
    before = id_arg("before")
    entries = audit.recent(limit=AUDIT_PAGE + 1, entity_type=entity_type, actor=actor, before_id=before)
    older = entries[AUDIT_PAGE - 1]["id"] if len(entries) > AUDIT_PAGE else None
    return render_template("admin_audit.html", entries=entries[:AUDIT_PAGE], entity_type=entity_type or "",
                           actor=actor or "", older=older, paged=before is not None)
