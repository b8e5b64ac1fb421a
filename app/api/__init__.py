"""The JSON API under /api/v1: one nested blueprint per resource."""
from flask import Blueprint


def create_blueprint():
    from app.api import docs, events, timeline, tokens, users

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    for resource in (docs, events, timeline, tokens, users):
        api.register_blueprint(resource.bp)
    return api
