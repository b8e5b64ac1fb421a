"""The webhook inbox (admin): items with their state and reason, and replaying dead or ignored ones."""
from flask import Blueprint, g, request

from app.api.bodies import items_of
from app.api.openapi import doc
from app.ingest import inbox
from app.ingest.inbox import InboxItemSchema, InboxQuerySchema

bp = Blueprint("inbox", __name__)
item_schema = InboxItemSchema()
list_schema = InboxItemSchema(exclude=("body",))
InboxList = items_of(InboxItemSchema, "InboxList")


@bp.get("/inbox")
@doc("Inbox items, newest first (admin)", query=InboxQuerySchema, response=InboxList,
     description="Filter by state (pending, processing, done, ignored, dead) or source; before=<id> pages on.")
def list_items():
    query = InboxQuerySchema().load(request.args.to_dict())
    items = inbox.list_items(state=query.get("state"), limit=query["limit"], before_id=query.get("before"),
                             source=query.get("source"))
    return {"items": list_schema.dump([inbox.item_view(i) for i in items], many=True)}


@bp.get("/inbox/<id:item_id>")
@doc("One inbox item with its raw body (admin)", response=InboxItemSchema)
def get_item(item_id):
    return item_schema.dump(inbox.item_view(inbox.get_item(item_id), with_body=True))


@bp.post("/inbox/<id:item_id>/replay")
@doc("Replay a dead or ignored item (admin)", response=InboxItemSchema, errors=(401, 403, 409),
     description="Back to pending with its attempts reset; the worker processes it with the source's current "
                 "mapping. Events it already made are not made twice. 409 for items in any other state.")
def replay_item(item_id):
    return list_schema.dump(inbox.item_view(inbox.replay(item_id, actor=g.actor)))
