"""Third-party browser assets served by the service itself (no CDN: the intranet may be offline)."""
import os

import plotly
from flask import Blueprint, send_from_directory

bp = Blueprint("assets", __name__, url_prefix="/assets")

PLOTLY_DIR = os.path.join(os.path.dirname(plotly.__file__), "package_data")


@bp.get("/plotly.min.js")
def plotly_js():
    return send_from_directory(PLOTLY_DIR, "plotly.min.js", mimetype="text/javascript", max_age=86400)
