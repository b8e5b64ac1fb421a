"""The worker: one schedule per deployment through the lease, duties that stand down without it, and the
end-to-end promise — a worker killed with SIGKILL mid-batch and restarted turns every accepted webhook into
exactly one event."""
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import requests

from app.cli import main
from app.db import utcnow
from app.models import Event, InboxItem, WorkerLease
from app.ops import leases
from app.ops.worker import Worker
from tests.conftest import PG_URL, connected
from tests.webhook_support import ROOT, make_source, signature


def lease_holder(app):
    with connected(app):
        return leases.current(leases.SCHEDULER)


def test_exactly_one_worker_holds_the_schedule_and_another_takes_over_on_expiry(app):
    first, second = Worker(app, name="w1"), Worker(app, name="w2")
    assert first.renew_lease() is True
    assert second.renew_lease() is False
    assert first.renew_lease() is True  # renewal by the holder
    assert lease_holder(app)["holder"] == "w1"
    with connected(app):
        WorkerLease.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert second.renew_lease() is True
    assert first.renew_lease() is False
    assert (first.leader, second.leader) == (False, True)


def test_duties_run_only_on_the_lease_holder(app, caplog):
    ran = []
    first, second = Worker(app, name="w1"), Worker(app, name="w2")
    first.renew_lease()
    assert first.run_duty("test", lambda: ran.append("w1") or "ok") == "ok"
    assert second.run_duty("test", lambda: ran.append("w2")) is None
    assert ran == ["w1"]
    caplog.set_level(logging.ERROR)
    assert first.run_duty("boom", lambda: 1 / 0) is None  # logged with its traceback, never raised
    assert "scheduled boom failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_stopping_releases_the_lease_for_the_next_worker(app):
    first = Worker(app, name="w1")
    first.renew_lease()
    first.stop_schedule()
    assert lease_holder(app) is None
    assert Worker(app, name="w2").renew_lease() is True


def test_pollers_are_called_by_name_with_the_settings_the_cli_uses(app, monkeypatch, caplog, tmp_path):
    from app.polling import runner

    pollers_file = tmp_path / "pollers.toml"
    pollers_file.write_text('[[registry]]\nname = "hub"\nurl = "https://registry.example"\nimages = ["python:3.12"]\n')
    app.config.update(POLLERS_FILE=str(pollers_file), JENKINS_URL="https://ci.example", SNAPSHOT_HISTORY=7)
    worker = Worker(app, name="w1")
    calls = []
    monkeypatch.setattr(runner, "run_pollers",
                        lambda names, settings: calls.append((names, settings)) or {"runs": len(names)})
    app.config["WORKER_POLLERS"] = "jenkins, registry"
    caplog.set_level(logging.INFO, logger="app.ops.worker")
    worker.renew_lease()
    assert worker.run_duty("pollers", worker.poll) == {"runs": 2}
    [(names, settings)] = calls
    assert names == ["jenkins", "registry"]
    # The app's pollers file and Jenkins URL, not whatever the environment of the worker process says.
    assert settings.source == str(pollers_file) and settings.snapshot_history == 7
    assert [r.name for r in settings.registries] == ["hub"]
    assert [c.url for c in settings.jenkins] == ["https://ci.example"]
    assert "polling jenkins, registry" in caplog.text


def test_the_schedule_starts_and_stops_with_its_jobs(app):
    app.config.update(WORKER_POLL_MINUTES=30, WORKER_BACKUP_HOURS=24, WORKER_LEASE_SECONDS=3)
    worker = Worker(app, name="w1")
    worker.start_schedule()
    try:
        # PostgreSQL's timeline-count deltas are folded every minute; SQLite's triggers count in place.
        folding = {"timeline-counts"} if PG_URL else set()
        assert {job.id for job in worker.scheduler.get_jobs()} == {"lease", "pollers", "retention", "backup"} | folding
        deadline = time.time() + 10
        while not worker.leader and time.time() < deadline:
            time.sleep(0.05)
        assert worker.leader
    finally:
        worker.stop_schedule()
    assert worker.scheduler is None and lease_holder(app) is None


def test_backups_keep_the_newest_copies(app, tmp_path, monkeypatch):
    from app.ops import backups

    worker = Worker(app, name="w1")
    app.config.update(BACKUP_DIR=str(tmp_path / "backups"), BACKUP_KEEP=2)
    with connected(app):
        if not backups.supported():
            assert worker.backup() is None  # PostgreSQL: pg_dump's job
            return
        for second in range(3):
            (tmp_path / "backups").mkdir(exist_ok=True)
            (tmp_path / "backups" / ("changetracker-20200101T00000%dZ.db" % second)).write_bytes(b"old")
        path = worker.backup()
    assert os.path.getsize(path) > 0
    assert sorted(os.listdir(tmp_path / "backups")) == ["changetracker-20200101T000002Z.db", os.path.basename(path)]


def test_retention_purges_old_poll_runs_always_and_old_events_only_when_configured(app, caplog):
    from datetime import datetime, timezone

    from app.accounts.audit import Actor
    from app.ledger.events import record_event
    from app.models import AuditEntry, PollRun

    worker = Worker(app, name="w1")
    now = utcnow()

    def run(poller, days_ago, status="ok"):
        return PollRun.create(poller=poller, started_at=now - timedelta(days=days_ago), status=status).id

    with connected(app):
        expired = run("jenkins", 200)
        kept = [run("jenkins", 150),  # jenkins's newest run: shown on /readyz however old
                run("registry", 300, status="running"),  # not finished: settled as abandoned, never purged here
                run("packages", 10)]
        aware_now = datetime.now(timezone.utc)
        for title, days_ago in (("ancient", 400), ("recent", 30)):
            record_event({"title": title, "occurred_at": (aware_now - timedelta(days=days_ago)).isoformat()},
                         Actor("tester"))
    app.config.update(POLL_RUN_RETENTION_DAYS=90, EVENT_RETENTION_DAYS=0)
    worker.renew_lease()
    caplog.set_level(logging.INFO, logger="app.ops.worker")

    assert worker.run_duty("retention", worker.apply_retention) == {"inbox_items": 0, "poll_runs": 1}
    assert "retention purged 0 inbox items, 1 poll runs" in caplog.text
    with connected(app):
        assert sorted(r.id for r in PollRun.select()) == sorted(kept) and expired not in kept
        assert sorted(e.title for e in Event.select()) == ["ancient", "recent"]  # 0: every event is kept

    app.config["EVENT_RETENTION_DAYS"] = 365
    assert worker.run_duty("retention", worker.apply_retention) == {"inbox_items": 0, "poll_runs": 0, "events": 1}
    with connected(app):
        assert [e.title for e in Event.select()] == ["recent"]
        [entry] = AuditEntry.select().where(AuditEntry.action == "purge")
        assert entry.actor == "system" and entry.after["events"] == 1
    assert worker.run_duty("retention", worker.apply_retention) == {"inbox_items": 0, "poll_runs": 0, "events": 0}


def test_worker_once_drains_the_inbox(app, client, runner):
    from tests.webhook_support import deliver, fixture_bytes

    make_source(app, "ci", "jenkins", mapping={"jobs": [{"pattern": "*"}]})
    deliver(client, "jenkins", "ci", fixture_bytes("notification-plugin-completed.json"))
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    with connected(app):
        assert [i.state for i in InboxItem.select()] == ["done"]
        assert Event.select().count() == 1


def _notification(number):
    return json.dumps({"name": "deploy", "url": "job/infra/job/deploy/", "build": {
        "full_url": "http://jenkins.local/job/infra/job/deploy/%d/" % number, "number": number,
        "phase": "COMPLETED", "status": "SUCCESS", "url": "job/infra/job/deploy/%d/" % number,
        "parameters": {"AGENTS": "linux-%02d" % (number % 50)}}}).encode()


# The first worker is slowed down (20 ms per item, inside its batch transaction) so that the test kills it while
# a claimed batch is in flight on any machine, however loaded; the code under test is unchanged.
SLOW_WORKER = ("import time; from app.ingest import mappings as n; original = n.to_events; "
               "n.to_events = lambda *args: (time.sleep(0.02), original(*args))[1]; ")


def _start_worker(app, tmp_path, log_name, prelude=""):
    env = dict(os.environ,
               CHANGETRACKER_DATABASE_URL=app.config["DATABASE_URL"], CHANGETRACKER_SECRET_KEY=app.config["SECRET_KEY"],
               CHANGETRACKER_ENV="test", CHANGETRACKER_INSTANCE_PATH=str(tmp_path / "instance"),
               CHANGETRACKER_INBOX_BATCH_SIZE="25", CHANGETRACKER_INBOX_CLAIM_TIMEOUT_SECONDS="2",
               CHANGETRACKER_WORKER_IDLE_SECONDS="0.1", CHANGETRACKER_WORKER_POLL_MINUTES="0",
               CHANGETRACKER_WORKER_LEASE_SECONDS="3")
    with open(tmp_path / log_name, "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-c", prelude + "from app.cli import main; main()", "worker"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)


def _states(app):
    with connected(app):
        rows = InboxItem.select(InboxItem.state).tuples()
        found = {}
        for (state,) in rows:
            found[state] = found.get(state, 0) + 1
        return found


def test_a_worker_killed_mid_batch_and_restarted_makes_exactly_one_event_per_webhook(app, live_server, tmp_path):
    total = 400
    make_source(app, "ci", "jenkins", mapping={"jobs": [{"pattern": "infra/*", "agents_parameter": "AGENTS"}]})
    with requests.Session() as http:
        ids = []
        for number in range(1, total + 1):
            body = _notification(number)
            response = http.post(live_server.url + "/hooks/jenkins/ci", data=body, timeout=10,
                                 headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
    assert len(set(ids)) == total

    first = _start_worker(app, tmp_path, "worker-1.log", prelude=SLOW_WORKER)
    caught = None
    seen = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            states = _states(app)
            seen.append(states)
            if states.get("done", 0) >= 25 and states.get("processing", 0) > 0:
                os.kill(first.pid, signal.SIGKILL)  # in the middle of a claimed batch
                caught = states
                break
            if states.get("done", 0) == total:
                break
            time.sleep(0.01)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(10)
    assert caught, "the worker finished before it could be killed mid-batch: %s" % seen[::max(1, len(seen) // 30)]
    after_kill = _states(app)
    assert after_kill.get("processing", 0) > 0 and after_kill.get("done", 0) < total

    second = _start_worker(app, tmp_path, "worker-2.log")
    try:
        deadline = time.time() + 90
        while _states(app).get("done", 0) < total and time.time() < deadline:
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, (tmp_path / "worker-2.log").read_text()
    log = (tmp_path / "worker-2.log").read_text()

    assert _states(app) == {"done": total}, log
    with connected(app):
        events = list(Event.select())
        items = list(InboxItem.select())
        assert len(events) == total
        assert len({e.dedupe_key for e in events}) == total and all(e.count == 1 for e in events)
        assert sorted(e for i in items for e in i.event_ids) == sorted(e.id for e in events)
        assert max(i.attempts for i in items) == 2  # the killed batch was claimed twice, nothing more
        # SIGTERM released the lease if the second worker had it; only the killed worker's expired row may remain.
        assert all(":%d:" % second.pid not in lease.holder for lease in WorkerLease.select())
