"""Poll runs: what each run of a poller did (start, end, status, counts, errors), for /readyz and /admin/inbox.

Local runs write their own rows (app.polling.runner calls ``start``, then ``finish`` with the outcome). A poll
that pushed its snapshots to this tracker from elsewhere (``changetracker poll --push``) reports its finished
run here afterwards (``record``, POST /api/v1/poll-runs).

A run whose process was killed never writes its outcome. Once it has been 'running' for longer than
``stale_after`` (POLL_RUN_TIMEOUT_MINUTES) the readers below mark it 'abandoned', with a note in its errors,
so no page shows it running forever; a run that was only slow and finishes after all overwrites that with
its real outcome.
"""
from datetime import datetime, timedelta, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema
from peewee import fn

from app.accounts import audit
from app.db import from_db_time, to_db_time, utcnow
from app.dialect import write_transaction
from app.fields import Integer, Text, UtcDateTime
from app.models import PollRun

POLLERS = ("jenkins", "registry", "packages")
OUTCOMES = ("ok", "partial", "failed")
STATUSES = ("running",) + OUTCOMES + ("abandoned",)
DEFAULT_STALE_AFTER = timedelta(minutes=120)
MAX_ERRORS = 200
FUTURE_TOLERANCE = timedelta(minutes=5)
_COUNT = validate.Range(min=0, max=10**9)


class RunErrorSchema(Schema):
    class Meta:
        unknown = RAISE

    target = Text(required=True, validate=validate.Length(max=1000),
                  metadata={"description": "what could not be observed or submitted (controller, agent, image, …)"})
    message = Text(required=True, validate=validate.Length(max=1000))


class PollRunCreateSchema(Schema):
    """A finished run of a poller that pushed its snapshots here."""

    class Meta:
        unknown = RAISE

    poller = Text(required=True, validate=validate.OneOf(POLLERS, error="Must be one of: {choices}."))
    status = Text(required=True, validate=validate.OneOf(OUTCOMES, error="Must be one of: {choices}."),
                  metadata={"description": "ok, partial (some targets failed) or failed (nothing observed or "
                                           "submitted)"})
    started_at = UtcDateTime(required=True)
    finished_at = UtcDateTime(required=True)
    observed = Integer(strict=True, load_default=0, validate=_COUNT)
    changed = Integer(strict=True, load_default=0, validate=_COUNT)
    events = Integer(strict=True, load_default=0, validate=_COUNT)
    errors = fields.List(fields.Nested(RunErrorSchema), load_default=list, validate=validate.Length(max=MAX_ERRORS))

    @validates("finished_at")
    def _not_future(self, value, **kwargs):
        if value > datetime.now(timezone.utc) + FUTURE_TOLERANCE:
            raise ValidationError("Must not be in the future (check the poller's clock).")

    @validates_schema
    def _ends_after_it_starts(self, data, **kwargs):
        if data["finished_at"] < data["started_at"]:
            raise ValidationError("Must not be before started_at.", "finished_at")


class PollRunSchema(Schema):
    id = fields.Integer(dump_only=True)
    poller = fields.String()
    status = fields.String(metadata={"description": "running, ok, partial, failed, or abandoned (still running "
                                                    "after POLL_RUN_TIMEOUT_MINUTES: its process died)"})
    started_at = fields.DateTime(format="iso")
    finished_at = fields.DateTime(format="iso", allow_none=True)
    observed = fields.Integer()
    changed = fields.Integer()
    events = fields.Integer()
    errors = fields.List(fields.Dict())


def timeout(config):
    """``stale_after`` as configured: POLL_RUN_TIMEOUT_MINUTES of ``config`` (the app's config mapping)."""
    return timedelta(minutes=config["POLL_RUN_TIMEOUT_MINUTES"])


def start(poller):
    """A run of ``poller`` begins here: its row, 'running' until ``finish``; returns its id."""
    return PollRun.create(poller=poller, started_at=utcnow()).id


def finish(run_id, status, observed, changed, events, errors):
    """The outcome of the run ``start`` began (at most MAX_ERRORS of its errors are kept)."""
    (PollRun.update(finished_at=utcnow(), status=status, observed=observed, changed=changed, events=events,
                    errors=errors[:MAX_ERRORS]).where(PollRun.id == run_id).execute())


def record(data, actor=audit.SYSTEM, stale_after=DEFAULT_STALE_AFTER):
    """Store a finished run reported from elsewhere; returns (run view, created).

    Reporting the same run again (same poller, start and end: a retried POST) returns the stored one.
    Raises ValidationError."""
    data = PollRunCreateSchema().load(data)
    started, finished = to_db_time(data["started_at"]), to_db_time(data["finished_at"])
    values = {k: data[k] for k in ("poller", "status", "observed", "changed", "events", "errors")}
    with write_transaction():
        existing = PollRun.get_or_none((PollRun.poller == data["poller"]) & (PollRun.started_at == started)
                                       & (PollRun.finished_at == finished))
        if existing is not None:
            return run_view(existing), False
        run = PollRun.create(started_at=started, finished_at=finished, **values)
        audit.record(actor, "create", "poll_run", run.id, after=_audit_view(run))
    settle_abandoned(stale_after)  # a new run is a good moment to settle the old ones
    return run_view(run), True


def recent(limit=20, stale_after=DEFAULT_STALE_AFTER):
    """The newest runs of every poller, newest first."""
    settle_abandoned(stale_after)
    return [run_view(r) for r in PollRun.select().order_by(PollRun.started_at.desc(), PollRun.id.desc()).limit(limit)]


def latest_per_poller(stale_after=DEFAULT_STALE_AFTER):
    """Each poller's newest run, by poller name."""
    settle_abandoned(stale_after)
    newest = (PollRun.select(PollRun.poller, fn.MAX(PollRun.id).alias("last_id")).group_by(PollRun.poller))
    ids = [row.last_id for row in newest]
    if not ids:
        return []
    return [run_view(r) for r in PollRun.select().where(PollRun.id.in_(ids)).order_by(PollRun.poller)]


def purge(before):
    """Delete the finished runs that started before ``before`` (naive UTC), except each poller's newest run,
    which /readyz and the admin page show however old it is; returns how many went."""
    newest = PollRun.select(fn.MAX(PollRun.id)).group_by(PollRun.poller)
    with write_transaction():
        return (PollRun.delete()
                .where((PollRun.started_at < before) & (PollRun.status != "running") & PollRun.id.not_in(newest))
                .execute())


def settle_abandoned(stale_after=DEFAULT_STALE_AFTER, now=None):
    """Mark runs 'running' for longer than ``stale_after`` as 'abandoned'; returns how many.

    Reads first and writes only when there is something to settle, so the readers (/readyz is probed often)
    take no write lock in the usual case. The update is conditional: a run that finishes meanwhile keeps its
    outcome."""
    cutoff = (now or utcnow()) - stale_after
    stale = list(PollRun.select().where((PollRun.status == "running") & (PollRun.started_at < cutoff)))
    settled = 0
    for run in stale:
        note = {"target": run.poller, "message": "no outcome %d minutes after it started: its process was "
                                                 "probably stopped" % (stale_after.total_seconds() // 60)}
        errors = (run.errors or [])[:MAX_ERRORS - 1] + [note]
        settled += (PollRun.update(status="abandoned", errors=errors)
                    .where((PollRun.id == run.id) & (PollRun.status == "running")).execute())
    return settled


def run_view(run):
    return {
        "id": run.id,
        "poller": run.poller,
        "status": run.status,
        "started_at": from_db_time(run.started_at),
        "finished_at": from_db_time(run.finished_at),
        "observed": run.observed,
        "changed": run.changed,
        "events": run.events,
        "errors": run.errors,
    }


def _audit_view(run):
    return {"poller": run.poller, "status": run.status, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat(), "observed": run.observed, "changed": run.changed,
            "events": run.events, "errors": len(run.errors)}
