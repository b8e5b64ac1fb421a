"""The JSON API under /api/v1: one nested blueprint per resource."""
from flask import Blueprint


def create_blueprint():
    from app.api import (catalogue, comments, correlation, csv_transfer, docs, events, saved_searches, timeline,
                         tokens, users)
    from app.api import inbox, sources
    from app.api import fleet, snapshots
    from app.domain.refusals import Conflict, Forbidden
    from app.errors import error_response

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    for resource in (docs, csv_transfer, events, comments, correlation, saved_searches, timeline, tokens, users):
        api.register_blueprint(resource.bp)
    for resource in (sources, inbox):  # webhook sources and the inbox (admin)
        api.register_blueprint(resource.bp)
    for resource in (snapshots, fleet):  # poller snapshots and the drift matrix built from them
        api.register_blueprint(resource.bp)
    for resource_bp in catalogue.blueprints:
        api.register_blueprint(resource_bp)
    api.register_error_handler(Conflict, lambda exc: error_response(409, exc.message, exc.errors))
    api.register_error_handler(Forbidden, lambda exc: error_response(403, str(exc)))
    return api
