"""The fleet drift page: a page of agents × a page of tools, outliers highlighted and linked to their events."""
from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from app.http.errors import field_messages
from app.polling import fleet
from app.web.paging import page_links

bp = Blueprint("fleet", __name__)


@bp.get("/fleet")
def fleet_page():
    try:
        query = fleet.parse_fleet_query(request.args)
    except ValidationError as exc:
        return render_template("fleet.html", drift=None, args=request.args, errors=field_messages(exc)), 422
    drift = fleet.drift_page(query)
    drift["agents"]["rows_page"] = page_links(drift["agents"]["rows_page"], "page")
    drift["agents"]["columns_page"] = page_links(drift["agents"]["columns_page"], "tools_page")
    return render_template("fleet.html", drift=drift, args=request.args, errors={})
