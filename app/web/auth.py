"""Login and logout pages."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from app.accounts import audit, users
from app.db import database
from app.http.extensions import limiter

bp = Blueprint("auth", __name__)


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _username_key():
    return "login:" + request.form.get("username", "").strip().lower()


def safe_next(target):
    """Only same-site paths: never another host, scheme or protocol-relative URL."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_username_key)
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = users.authenticate(username, password)
        if user is None:
            with database.atomic():
                audit.record(audit.Actor(username[:80] or "(empty)"), "login_failed", "user", username[:80])
            flash("Wrong username or password.", "error")
            return render_template("login.html", next=next_url, username=username), 401
        login_user(user, remember=request.form.get("remember") == "on")
        return redirect(next_url or url_for("pages.timeline"))
    return render_template("login.html", next=next_url, username="")


@bp.post("/logout")
def logout():
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
