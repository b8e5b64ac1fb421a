"""The JSON API under /api/v1: one nested blueprint per resource."""
from flask import Blueprint


def create_blueprint():
    from app.api import (catalogue, comments, correlation, csv_transfer, docs, events, saved_searches, timeline,
                         tokens, users)
    from app.api import inbox, sources
    from app.api import fleet, poll_runs, snapshots

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    for resource in (docs, csv_transfer, events, comments, correlation, saved_searches, timeline, tokens, users):
        api.register_blueprint(resource.bp)
    for resource in (sources, inbox):  # webhook sources and the inbox (admin)
        api.register_blueprint(resource.bp)
    for resource in (snapshots, poll_runs, fleet):  # poller snapshots, poll runs and the drift matrix
        api.register_blueprint(resource.bp)
    for resource_bp in catalogue.blueprints:
        api.register_blueprint(resource_bp)
    return api
