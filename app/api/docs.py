"""The OpenAPI document and a Swagger UI page, both served offline from installed packages."""
import swagger_ui_bundle
from flask import Blueprint, current_app, render_template, send_from_directory

from app.api.openapi import build_spec

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi_document():
    spec = current_app.extensions.get("openapi_spec")
    if spec is None:
        spec = current_app.extensions["openapi_spec"] = build_spec(current_app)
    return spec


@bp.get("/docs")
def docs_page():
    return render_template("api_docs.html")


@bp.get("/docs/assets/<path:filename>")
def docs_asset(filename):
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
