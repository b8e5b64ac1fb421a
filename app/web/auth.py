"""Login and logout pages.

Two limits slow password guessing (LOGIN_RATE_LIMIT, e.g. 10 per minute, each):

- per client address, every attempt;
- per username, failed attempts only, from browsers that have never logged in as that username. A browser that
  has gets a signed "login device" cookie naming (a keyed hash of) the username, and is counted by its address
  alone. So an attacker guessing one account's password from many addresses soon waits, while its owner, on a
  browser where they logged in before, is never locked out by them (OWASP: device cookies).
"""
import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.accounts import audit, users
from app.db import database
from app.http.extensions import limiter

bp = Blueprint("auth", __name__)

DEVICE_COOKIE = "changetracker_login_device"
DEVICE_LIFETIME = timedelta(days=180)
DEVICE_NAMES = 10  # usernames one browser is known for, newest kept


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_name():
    return request.form.get("username", "").strip().lower()


def _username_key():
    return "login:" + _login_name()


def _failed(response):
    return response.status_code == 401


def _device_serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="changetracker login device")


def _device_mark(name):
    return hmac.new(current_app.secret_key.encode("utf-8"), name.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _device_names():
    """The (hashed) usernames this browser has logged in as, from its signed device cookie."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        names = _device_serializer().loads(raw, max_age=DEVICE_LIFETIME.total_seconds())
    except BadSignature:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _known_device():
    """exempt_when of the per-username limit: this browser has logged in as this username before."""
    return _device_mark(_login_name()) in _device_names()


def _remember_device(response, username):
    mark = _device_mark(username.lower())
    names = [mark] + [n for n in _device_names() if n != mark][:DEVICE_NAMES - 1]
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(names), max_age=int(DEVICE_LIFETIME.total_seconds()),
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
    return response


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
@limiter.limit(_login_limit, methods=["POST"], key_func=_username_key, exempt_when=_known_device,
               deduct_when=_failed)
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
        # A new session: nothing from before the login carries over, the CSRF token included.
        session.clear()
        login_user(user, remember=request.form.get("remember") == "on")
        return _remember_device(redirect(next_url or url_for("pages.timeline")), user.username)
    return render_template("login.html", next=next_url, username="")


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # Ends this session, its remember cookie, and any session of the user's that was copied or left open.
        users.end_sessions(current_user._get_current_object())
    session.clear()
    logout_user()  # after clear(): it marks the remember cookie for deletion in the session
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
