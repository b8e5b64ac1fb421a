"""Grafana annotations: events in the shape Grafana's annotation queries read."""
from flask import Blueprint, request, url_for

from app.api.openapi import doc
from app.ledger import annotations

bp = Blueprint("annotations", __name__)
annotation_schema = annotations.AnnotationSchema(many=True)
# 400: a NUL character anywhere in the query string (refused before any view runs).
ERRORS = (400, 401, 403)


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
