"""The fleet drift page: the /api/v1/fleet matrices as tables, outliers highlighted."""
from flask import Blueprint, render_template

from app.polling import fleet

bp = Blueprint("fleet", __name__)


@bp.get("/fleet")
def fleet_page():
    return render_template("fleet.html", drift=fleet.drift())
