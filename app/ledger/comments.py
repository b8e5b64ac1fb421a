"""Comments: notes people leave on an event, oldest first, each audited."""
from marshmallow import RAISE, Schema, fields, validate

from app.accounts import audit
from app.db import from_db_time
from app.dialect import write_transaction
from app.errors import NotFound
from app.fields import Text, not_blank
from app.models import Comment, Event

BODY_MAX = 5000


class CommentCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    body = Text(required=True, validate=[validate.Length(min=1, max=BODY_MAX), not_blank])


class CommentSchema(Schema):
    id = fields.Integer(dump_only=True)
    event_id = fields.Integer(dump_only=True)
    author = Text(dump_only=True)
    body = Text()
    created_at = fields.DateTime(format="iso", dump_only=True)


def list_comments(event_id):
    """An event's comments, oldest first; NotFound when there is no such event."""
    _require_event(event_id)
    rows = Comment.select().where(Comment.event == event_id).order_by(Comment.created_at, Comment.id)
    return [comment_to_dict(c) for c in rows]


def add_comment(event_id, payload, actor=audit.SYSTEM):
    """Validate and store a comment by ``actor``; the audit entry is written in the same transaction."""
    data = CommentCreateSchema().load(payload)
    with write_transaction():
        _require_event(event_id)
        comment = Comment.create(event=event_id, author=actor.name, user=actor.user_id, body=data["body"].strip())
        result = comment_to_dict(comment)
        audit.record(actor, "create", "comment", comment.id,
                     after={"event_id": event_id, "author": comment.author, "body": comment.body})
    return result


def comment_to_dict(comment):
    return {
        "id": comment.id,
        "event_id": comment.event_id,
        "author": comment.author,
        "body": comment.body,
        "created_at": from_db_time(comment.created_at),
    }


def _require_event(event_id):
    if not Event.select().where(Event.id == event_id).exists():
        raise NotFound("No event with id %s." % event_id)
