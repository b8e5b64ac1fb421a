"""Saved searches: your own, plus those others share; only owners (and admins) change them."""
from flask import Blueprint, g

from app.accounts.access import ADMIN
from app.api.bodies import items_of, json_body
from app.api.openapi import doc
from app.ledger import saved_searches
from app.ledger.saved_searches import SavedSearchCreateSchema, SavedSearchSchema

bp = Blueprint("saved_searches", __name__)
search_schema = SavedSearchSchema()
SavedSearchList = items_of(SavedSearchSchema, "SavedSearchList")


@bp.get("/saved-searches")
@doc("Your saved searches, then those others share", response=SavedSearchList)
def list_saved_searches():
    return {"items": search_schema.dump(saved_searches.list_saved_searches(g.actor), many=True)}


@bp.post("/saved-searches")
@doc("Save a search", body=SavedSearchCreateSchema, response=SavedSearchSchema, status=201, errors=(401, 403, 409),
     description="query is checked like GET /api/v1/events would check it (422 naming the filter); 409 when you "
                 "already have a search with this name.")
def create_saved_search():
    return search_schema.dump(saved_searches.create_saved_search(json_body(), actor=g.actor)), 201


@bp.get("/saved-searches/<id:search_id>")
@doc("One saved search (yours or shared)", response=SavedSearchSchema)
def get_saved_search(search_id):
    search = saved_searches.get_saved_search(search_id, g.actor, may_see_all=g.level >= ADMIN)
    return search_schema.dump(saved_searches.search_to_dict(search))


@bp.patch("/saved-searches/<id:search_id>")
@doc("Change a saved search (yours; admins: anyone's)", body=SavedSearchCreateSchema(partial=True),
     response=SavedSearchSchema, errors=(401, 403, 409))
def update_saved_search(search_id):
    return search_schema.dump(saved_searches.update_saved_search(
        search_id, json_body(), actor=g.actor, may_change_others=g.level >= ADMIN))


@bp.delete("/saved-searches/<id:search_id>")
@doc("Delete a saved search (yours; admins: anyone's)", status=204)
def delete_saved_search(search_id):
    saved_searches.delete_saved_search(search_id, actor=g.actor, may_change_others=g.level >= ADMIN)
    return "", 204
