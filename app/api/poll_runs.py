"""Poll runs: a poller that pushed its snapshots here reports how its run went, so it shows on /readyz and
/admin/inbox like a local run."""
from flask import Blueprint, current_app, g

from app.api.bodies import json_body
from app.api.openapi import doc
from app.polling import poll_runs

bp = Blueprint("poll_runs", __name__)
run_schema = poll_runs.PollRunSchema()


@bp.post("/poll-runs")
@doc("Report a finished poll run", body=poll_runs.PollRunCreateSchema, response=poll_runs.PollRunSchema, status=201,
     also=(200,), errors=(401, 403, 422),
     description="What `changetracker poll --push` sends after pushing a poller's snapshots (or failing to "
                 "observe anything): start, end, status (ok, partial, failed), counts and errors. 201 with the "
                 "stored run; 200 with the stored one when the same run (poller, started_at, finished_at) is "
                 "reported again, so retries are safe.")
def record_poll_run():
    run, created = poll_runs.record(json_body(), actor=g.actor, stale_after=poll_runs.timeout(current_app.config))
    return run_schema.dump(run), 201 if created else 200
