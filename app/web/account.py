"""A user's own API tokens."""
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from marshmallow import ValidationError

from app.accounts import tokens
from app.fields import whole_number
from app.models import User

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("/tokens", endpoint="tokens")
def tokens_page():
    owner = User.get_by_id(g.actor.user_id)
    # Handed over once by create_token's redirect, so a reload neither re-posts nor shows it again.
    secret = session.pop("new_token_secret", None)
    # Cache-Control: no-store, as on every authenticated response (app.http.rules), keeps the secret out of caches.
    return render_template("account_tokens.html", tokens=[tokens.token_view(t) for t in tokens.list_tokens(owner)],
                           errors={}, new_secret=secret, form={})


@bp.post("/tokens")
def create_token():
    owner = User.get_by_id(g.actor.user_id)
    form = {"name": request.form.get("name", "").strip() or "token",
            "scopes": request.form.getlist("scopes") or ["read"]}
    expires = request.form.get("expires_days", "").strip()
    errors, secret = {}, None
    try:
        if expires:
            form["expires_days"] = whole_number(expires)
        token, secret = tokens.create_token(owner, form, actor=g.actor, max_level=g.level)
    except ValueError:
        errors = {"expires_days": ["Must be a whole number of days."]}
    except ValidationError as exc:
        errors = exc.messages
    if not errors:
        session["new_token_secret"] = secret
        return redirect(url_for("account.tokens"), code=303)
    form["expires_days"] = expires
    return render_template("account_tokens.html", tokens=[tokens.token_view(t) for t in tokens.list_tokens(owner)],
                           errors=errors, new_secret=None, form=form), 422


@bp.post("/tokens/<id:token_id>/revoke")
def revoke_token(token_id):
    token = tokens.revoke_token(token_id, actor=g.actor)
    flash("Token %r revoked." % token.name, "info")
    return redirect(url_for("account.tokens"))
