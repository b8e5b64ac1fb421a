"""Webhook sources (admin): who may send webhooks, with which secret (write-only) and mapping."""
from flask import Blueprint, current_app, g

from app.api.bodies import items_of, json_body
from app.api.openapi import doc
from app.ingest import sources
from app.ingest.sources import SourceCreateSchema, SourceSchema, SourceUpdateSchema

bp = Blueprint("sources", __name__)
source_schema = SourceSchema()
SourceList = items_of(SourceSchema, "SourceList")


def _box():
    return sources.cipher(current_app.config["SECRET_KEY"])


@bp.get("/sources")
@doc("List webhook sources (admin)", response=SourceList)
def list_sources():
    return {"items": source_schema.dump([sources.source_view(s) for s in sources.list_sources()], many=True)}


@bp.post("/sources")
@doc("Create a webhook source (admin)", body=SourceCreateSchema, response=SourceSchema, status=201,
     errors=(401, 403, 409),
     description="kind is jenkins, registry or generic; secret (write-only, at least 16 characters) is what the "
                 "sender signs with or presents; mapping is checked against the kind (docs/webhooks.md). "
                 "409 when the name is taken.")
def create_source():
    source = sources.create_source(json_body(), _box(), actor=g.actor)
    return source_schema.dump(sources.source_view(source)), 201


@bp.get("/sources/<name>")
@doc("One webhook source (admin); never its secret", response=SourceSchema)
def get_source(name):
    return source_schema.dump(sources.source_view(sources.get_source(name)))


@bp.patch("/sources/<name>")
@doc("Change a webhook source's name, secret, mapping or active flag (admin)", body=SourceUpdateSchema,
     response=SourceSchema, errors=(401, 403, 409),
     description="Only the fields sent change; the kind is fixed. Renaming changes the receiving URL.")
def update_source(name):
    return source_schema.dump(sources.source_view(sources.update_source(name, json_body(), _box(), actor=g.actor)))


@bp.delete("/sources/<name>")
@doc("Delete a webhook source (admin)", status=204,
     description="Its inbox items stay; those not processed yet are dead-lettered (their source is gone).")
def delete_source(name):
    sources.delete_source(name, actor=g.actor)
    return "", 204
