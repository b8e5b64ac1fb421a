"""Comments on an event."""
from flask import Blueprint, g

from app.api.bodies import items_of, json_body
from app.api.openapi import doc
from app.ledger import comments
from app.ledger.comments import CommentCreateSchema, CommentSchema

bp = Blueprint("comments", __name__)
comment_schema = CommentSchema()
CommentList = items_of(CommentSchema, "CommentList")


@bp.get("/events/<id:event_id>/comments")
@doc("An event's comments, oldest first", response=CommentList)
def list_comments(event_id):
    return {"items": comment_schema.dump(comments.list_comments(event_id), many=True)}


@bp.post("/events/<id:event_id>/comments")
@doc("Comment on an event", body=CommentCreateSchema, response=CommentSchema, status=201,
     description="The author is the caller.")
def create_comment(event_id):
    return comment_schema.dump(comments.add_comment(event_id, json_body(), actor=g.actor)), 201
