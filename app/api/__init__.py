"""The JSON API under /api/v1: one nested blueprint per resource."""
from flask import Blueprint


def create_blueprint():
    from app.api import (
        annotations,
        catalogue,
        comments,
        correlation,
        csv_exchange,
        docs,
        events,
        fleet,
        inbox,
        poll_runs,
        saved_searches,
        snapshots,
        sources,
        timeline,
        tokens,
        users,
    )

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    for resource in (docs, csv_exchange, events, comments, correlation, annotations, saved_searches, timeline, tokens,
                     users):
        api.register_blueprint(resource.bp)
    for resource in (sources, inbox):  # webhook sources and the inbox (admin)
        api.register_blueprint(resource.bp)
    for resource in (snapshots, poll_runs, fleet):  # poller snapshots, poll runs and the drift matrix
        api.register_blueprint(resource.bp)
    for resource_bp in catalogue.blueprints:
        api.register_blueprint(resource_bp)
    return api
