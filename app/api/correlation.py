"""Correlation: related events, suspects for a failed build, Grafana annotations."""
from flask import Blueprint, request, url_for

from app.api.openapi import doc
from app.domain import annotations, suspects

bp = Blueprint("correlation", __name__)
related_schema = suspects.RelatedSchema()
suspects_schema = suspects.SuspectsSchema()
annotation_schema = annotations.AnnotationSchema(many=True)
# 400: a NUL character anywhere in the query string (refused before any view runs).
ERRORS = (400, 401, 403)


@bp.get("/events/<id:event_id>/related")
@doc("Events related to one event", query=suspects.RelatedQuerySchema, response=suspects.RelatedSchema, errors=ERRORS,
     description="Events sharing an agent, tool or toolchain with it within ± window, closest in time first, each "
                 "with its reasons and offset; rollbacks of it and the event it rolls back are always included.")
def related_events(event_id):
    query = suspects.parse_related_query(request.args)
    return related_schema.dump(suspects.related(event_id, window=query["window"], limit=query["limit"]))


@bp.get("/suspects")
@doc("Changes that could explain a failed build", query=suspects.SuspectQuerySchema,
     response=suspects.SuspectsSchema, errors=ERRORS,
     description="Changes in [since, before) ranked most likely first: same agent, then same tool or toolchain "
                 "(those the agent's events in the period name, or tool=), then fleet-wide events that name no "
                 "agent. Within a rank: changes, then notes, then changes a rollback undid before `before`; closer "
                 "to `before` first, then the more severe. Without agent=, build_url= finds the agents from events "
                 "that build recorded.")
def list_suspects():
    return suspects_schema.dump(suspects.find_suspects(suspects.parse_suspect_query(request.args)))


@bp.get("/annotations")
@doc("Events as Grafana annotations", query=annotations.AnnotationQuerySchema,
     response=annotations.AnnotationSchema(many=True), errors=ERRORS,
     description="Grafana's annotation shape, for the Infinity or JSON API data source: from/to are epoch ms "
                 "(${__from}, ${__to}); tags (repeatable or comma-separated) match an event's tags or its agents' "
                 "names, any of them; the other /events filters apply too. Newest first, up to limit.")
def list_annotations():
    found = annotations.annotations(annotations.parse(request.args),
                                    event_url=lambda event_id: url_for("pages.event_detail", event_id=event_id,
                                                                       _external=True))
    return annotation_schema.dump(found)
