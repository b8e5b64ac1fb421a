"""The JSON API under /api/v1: one nested blueprint per resource."""
from flask import Blueprint


def create_blueprint():
    from app.api import events

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    api.register_blueprint(events.bp)
    return api
