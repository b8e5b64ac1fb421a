"""The comment form on an event's page."""
from flask import Blueprint, flash, g, redirect, request, url_for
from marshmallow import ValidationError

from app.ledger import comments

bp = Blueprint("comments", __name__)


@bp.post("/events/<id:event_id>/comments")
def add_comment(event_id):
    try:
        comments.add_comment(event_id, {"body": request.form.get("body", "")}, actor=g.actor)
    except ValidationError as exc:
        flash("Comment not saved: %s" % " ".join(exc.messages.get("body", [])), "error")
    else:
        flash("Comment added.", "info")
    return redirect(url_for("pages.event_detail", event_id=event_id, _anchor="comments"))
