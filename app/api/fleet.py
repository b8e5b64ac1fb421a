"""Fleet drift: agents × tools and controllers × plugins, the majority per column and the outliers."""
from flask import Blueprint

from app.api.openapi import doc
from app.polling import fleet

bp = Blueprint("fleet", __name__)


@bp.get("/fleet")
@doc("Fleet drift matrix", response=fleet.FleetSchema,
     description="Built from the newest snapshots: each agent's tool versions (read from the tool home paths) and "
                 "each controller's core and plugin versions. Per column the majority value; every other value is "
                 "an outlier, listed with the poller event that introduced it on that agent or controller (null when "
                 "it was there from the first snapshot).")
def get_fleet():
    return fleet.FleetSchema().dump(fleet.drift())
