"""Running the pollers: collect, then submit the snapshots here or push them to a remote tracker.

``run_pollers(names)`` is what the CLI (``changetracker poll``), the worker's schedule and the nightly
Jenkins job run. Each poller (jenkins, registry, packages) gets a PollRun row (start, end, status,
counts, errors) when it submits locally. A poller's failure is recorded and makes the overall status
failed, but never stops the others. With ``push_url`` no local database is touched: the snapshots go
to ``<push_url>/api/v1/snapshots`` with the token (where the remote service diffs them), then the
finished run to ``<push_url>/api/v1/poll-runs``, so the remote tracker lists it with its local runs
(its id is the report's ``remote_run_id``; app.polling.push). The returned summary is archived by the nightly job.

Statuses: ``ok`` (everything observed and submitted), ``partial`` (some targets failed — an agent, an
image — the rest went through), ``failed`` (nothing could be observed or submitted, e.g. the
controller is unreachable or the push was refused), ``skipped`` (nothing configured for it; no PollRun).
"""
import logging
import time
from datetime import datetime, timezone

from marshmallow import ValidationError

from app.accounts.audit import Actor
from app.polling import poll_runs, snapshots
from app.polling.collectors import Collected, error
from app.polling.collectors import config as poller_config
from app.polling.collectors import jenkins as jenkins_collector
from app.polling.collectors import packages as packages_collector
from app.polling.collectors import registry as registry_collector
from app.polling.poll_runs import POLLERS
from app.polling.push import Pusher, PushRefused

log = logging.getLogger(__name__)

POLLER_ACTOR = Actor("poller")
COLLECTORS = {
    "jenkins": lambda settings: jenkins_collector.collect(settings.jenkins),
    "registry": lambda settings: registry_collector.collect(settings.registries),
    "packages": lambda settings: packages_collector.collect(settings.packages),
}
WHERE = {"jenkins": "[[jenkins]] in the pollers file or CHANGETRACKER_JENKINS_URL",
         "registry": "[[registry]] in the pollers file", "packages": "[[package]] in the pollers file"}


def expand(names):
    """["all"] → every poller; unknown names are a ValueError naming the choices."""
    wanted = []
    for name in names:
        if name not in POLLERS + ("all",):
            raise ValueError("unknown poller %r; choose from %s or all" % (name, ", ".join(POLLERS)))
        for poller in POLLERS if name == "all" else (name,):
            if poller not in wanted:
                wanted.append(poller)
    return wanted


def run_pollers(names, push_url=None, token=None, settings=None, actor=POLLER_ACTOR):
    """Run the named pollers (jenkins, registry, packages, all) and return a JSON-able summary.

    ``settings`` default: app.polling.collectors.config.load() (the pollers file and the environment).
    Local submission needs an open database connection; ``push_url`` needs ``token``.
    """
    pollers = expand(names)
    settings = settings or poller_config.load()
    started = _now()
    pusher = Pusher(push_url, token, settings.push_concurrency) if push_url else None
    tracker_version, version_note = pusher.version_note() if pusher else (None, None)
    if version_note:
        log.warning("%s", version_note)
    reports = []
    for poller in pollers:
        if not settings.configured(poller):  # not an error: a deployment watches what it has
            reports.append({"poller": poller, "status": "skipped", "reason": "nothing configured (%s)" % WHERE[poller]})
            continue
        reports.append(_run_one(poller, settings, pusher, actor))
    statuses = {r["status"] for r in reports}
    status = "failed" if "failed" in statuses else "partial" if "partial" in statuses else "ok"
    summary = {"status": status, "mode": "push" if pusher else "local", "push_url": push_url,
               "pollers_file": settings.source, "started_at": started, "finished_at": _now(), "pollers": reports}
    if pusher:
        summary.update(tracker_version=tracker_version, version_note=version_note)
    return summary


def _run_one(poller, settings, pusher, actor):
    clock, began = time.monotonic(), datetime.now(timezone.utc)
    run_id = poll_runs.start(poller) if pusher is None else None
    report = {"poller": poller, "run_id": run_id, "status": "running", "started_at": _iso(began),
              "seen": {}, "observed": 0, "changed": 0, "events": 0, "baselines": 0, "submitted": 0,
              "errors": [], "changes": []}
    collected = Collected()
    try:
        collected = COLLECTORS[poller](settings)
        report["errors"].extend(collected.errors)
        report["observed"] = len(collected.observations)
        report["seen"] = collected.stats
        submitted = (pusher.push_all(collected.observations) if pusher
                     else _submit_all(collected.observations, settings, actor))
        for observation, outcome in zip(collected.observations, submitted):
            _count(report, observation, outcome)
    except PushRefused as exc:
        report["errors"].append(error(pusher.endpoint, str(exc)))
        report["status"] = "failed"
    except Exception as exc:  # a poller's crash is its own: record it, keep running the others
        log.exception("poller %s failed", poller)
        report["errors"].append(error(poller, exc))
        report["status"] = "failed"
    if report["status"] != "failed":
        if not report["errors"]:
            report["status"] = "ok"
        else:
            report["status"] = "partial" if report["submitted"] else "failed"
    ended = datetime.now(timezone.utc)
    report["finished_at"] = _iso(ended)
    report["duration_seconds"] = round(time.monotonic() - clock, 3)
    if run_id is not None:
        poll_runs.finish(run_id, report["status"], report["observed"], report["changed"], report["events"],
                         report["errors"])
    if pusher is not None:
        report["remote_run_id"], problem = pusher.report_run(report, began, ended)
        if problem:  # the snapshots went through (or not) regardless: the run's status stays what it was
            report["remote_run_error"] = problem
            log.warning("the %s run was not recorded at %s: %s", poller, pusher.runs_endpoint, problem)
    return report


def _submit_all(observations, settings, actor):
    outcomes = []
    for item in observations:
        try:
            outcomes.append(snapshots.submit(item["collector"], item["key"], item["observed_at"], item["content"],
                                             actor=actor, history=settings.snapshot_history))
        except ValidationError as exc:
            outcomes.append(error(item["key"], "invalid snapshot: %s" % exc.messages))
        except Exception as exc:  # one observation the database refuses must not cost the rest
            log.exception("snapshot %s/%s could not be stored", item["collector"], item["key"])
            outcomes.append(error(item["key"], exc))
    return outcomes


def _count(report, observation, outcome):
    if "target" in outcome:  # an error dict
        report["errors"].append(outcome)
        return
    report["submitted"] += 1
    report["baselines"] += bool(outcome.get("baseline"))
    if outcome.get("changed"):
        report["changed"] += 1
        report["events"] += len(outcome.get("event_ids") or [])
        report["changes"].append({"collector": observation["collector"], "key": observation["key"],
                                  "event_ids": outcome.get("event_ids") or [],
                                  "paths": [c["path"] for c in outcome.get("changes") or []][:50]})


def _now():
    return _iso(datetime.now(timezone.utc))


def _iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
