"""The catalogue: /agents, /tools and /toolchains, each addressed by name (URL-encode it; '/' may stay as it is)."""
from flask import Blueprint, g, request

from app.api.bodies import items_of, json_body
from app.api.openapi import doc
from app.ledger import catalogue


def _blueprint(kind):
    bp = Blueprint(kind.plural, __name__)
    schema = kind.schema()
    page = items_of(kind.schema, "%sPage" % kind.title, cursor=True)
    # A path converter: names such as library/python arrive with their '/' whether the client encoded it or not.
    one = "/%s/<path:name>" % kind.plural
    addressing = ("Address it by its name, URL-encoded; a '/' in the name (library/python) may be sent as is or as "
                  "%2F.")

    @bp.get("/%s" % kind.plural)
    @doc("List %s" % kind.plural, query=kind.list_query_schema, response=page,
         description="Ordered by name; each with event_count and last_event_at. Pass next_cursor back as cursor "
                     "for the next page.")
    def list_items():
        items, cursor = catalogue.list_items(kind, catalogue.parse_list_query(kind, request.args))
        return {"items": schema.dump(items, many=True), "next_cursor": cursor}

    @bp.post("/%s" % kind.plural)
    @doc("Create a %s" % kind.name, body=kind.create_schema, response=kind.schema, status=201,
         errors=(401, 403, 409), description="409 when the name is taken.")
    def create_item():
        return schema.dump(catalogue.create_item(kind, json_body(), actor=g.actor)), 201

    @bp.get(one)
    @doc("One %s, with its event count and newest event time" % kind.name, response=kind.schema,
         description=addressing)
    def get_item(name):
        return schema.dump(catalogue.get_item(kind, name))

    @bp.patch(one)
    @doc("Edit or rename a %s" % kind.name, body=kind.create_schema(partial=True), response=kind.schema,
         errors=(401, 403, 409),
         description="Only the fields sent change. {\"name\": new} renames it and keeps its events linked; 409 when "
                     "the new name is taken. " + addressing)
    def update_item(name):
        return schema.dump(catalogue.update_item(kind, name, json_body(), actor=g.actor))

    @bp.delete(one)
    @doc("Delete a %s" % kind.name, query=catalogue.DeleteQuerySchema, status=204, errors=(401, 403, 409),
         description="409 (with the number of events) while events reference it, unless force=true: then those "
                     "links are removed and each event's history records the unlink. " + addressing)
    def delete_item(name):
        force = catalogue.DeleteQuerySchema().load(request.args.to_dict())["force"]
        catalogue.delete_item(kind, name, actor=g.actor, force=force)
        return "", 204

    return bp


blueprints = [_blueprint(kind) for kind in catalogue.KINDS]
