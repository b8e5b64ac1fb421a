"""Correlation: the events related to one event, and the suspects of a failed build."""
from flask import Blueprint, request

from app.api.openapi import doc
from app.correlation import related, suspects

bp = Blueprint("correlation", __name__)
related_schema = related.RelatedSchema()
suspects_schema = suspects.SuspectsSchema()
# 400: a NUL character anywhere in the query string (refused before any view runs).
ERRORS = (400, 401, 403)


@bp.get("/events/<id:event_id>/related")
@doc("Events related to one event", query=related.RelatedQuerySchema, response=related.RelatedSchema, errors=ERRORS,
     description="Events sharing an agent, tool or toolchain with it within ± window, closest in time first, each "
                 "with its reasons and offset; rollbacks of it and the event it rolls back are always included.")
def related_events(event_id):
    query = related.parse_related_query(request.args)
    return related_schema.dump(related.related(event_id, window=query["window"], limit=query["limit"]))


@bp.get("/suspects")
@doc("Changes that could explain a failed build", query=suspects.SuspectQuerySchema,
     response=suspects.SuspectsSchema, errors=ERRORS,
     description="Changes in [since, before), and intervals still going on at `since`, scored on their evidence, "
                 "most likely first: how the change reaches the build (its agent; a tool or toolchain tool= names or "
                 "the agent's changes name, or a toolchain holding one; the controller; the fleet), its kind, "
                 "severity, how long before `before` (a decay), whether it was going on at the failure, unplanned, "
                 "reverted before `before`, or begun before `last_success`. Each reason comes with its weight; the "
                 "score is 100 x their product (docs/suspects.md: How suspects are ranked). Without agent=, build_url= finds "
                 "the agents from events that build recorded.")
def list_suspects():
    return suspects_schema.dump(suspects.find_suspects(suspects.parse_suspect_query(request.args)))
