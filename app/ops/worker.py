"""The worker process (`changetracker worker`): drains the webhook inbox and runs the schedule.

Every worker drains the inbox (claims are atomic, so several may run). The schedule — pollers, retention (inbox,
poll runs, events when configured), backups — runs in exactly one worker per deployment: the one holding the
"scheduler" lease (app.ops.leases), renewed every third of its length and taken over by another worker once it
expires. Each scheduled job checks
the lease again before doing anything, so a worker that lost it (paused, cut off from the database) stands down.
Never started inside the web app: gunicorn workers only accept webhooks.
"""
import logging
import os
import signal
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from app.db import database, utcnow
from app.ingest import inbox
from app.ledger import buckets
from app.ops import backups, leases, retention
from app.polling import poll_runs, runner
from app.polling.collectors import config as poller_config

log = logging.getLogger(__name__)


def identity():
    """How this worker names itself in claims and leases: host, pid and a random suffix."""
    return "%s:%d:%s" % (socket.gethostname()[:60], os.getpid(), uuid.uuid4().hex[:6])


class Worker:
    def __init__(self, app, name=None, schedule=True):
        self.app = app
        self.name = name or identity()
        self.config = app.config
        self.settings = inbox.Settings.from_config(app.config)
        self.schedule = schedule
        self.stopping = threading.Event()
        self.scheduler = None
        self.leader = False

    # --- the inbox ----------------------------------------------------------------------------------

    def drain_once(self):
        """Claim and process one batch; returns how many items it handled."""
        with self._connection():
            counts = inbox.drain(self.name, self.settings, max_batches=1)
        handled = sum(counts.values())
        if handled:
            log.info("inbox batch of %d: %s", handled, ", ".join("%s %d" % kv for kv in sorted(counts.items())))
        return handled

    def run(self, once=False):
        """Drain until stopped (SIGTERM/SIGINT), sleeping WORKER_IDLE_SECONDS when nothing is due.

        ``once``: drain what is due now, then return (no schedule).
        """
        if self.schedule and not once:
            self.start_schedule()
        try:
            while not self.stopping.is_set():
                try:
                    handled = self.drain_once()
                except Exception:
                    log.exception("inbox batch failed; its items are retried once their claim times out")
                    handled = 0
                if once and not handled:
                    break
                if not handled:
                    self.stopping.wait(self.config["WORKER_IDLE_SECONDS"])
        finally:
            self.stop_schedule()

    def stop(self, *_):
        self.stopping.set()

    def install_signal_handlers(self):
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    # --- the schedule -------------------------------------------------------------------------------

    def start_schedule(self):
        lease = self.config["WORKER_LEASE_SECONDS"]
        scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                      "misfire_grace_time": 300})
        scheduler.add_job(self.renew_lease, "interval", seconds=max(1, lease / 3), id="lease",
                          next_run_time=_now())
        minutes = self.config["WORKER_POLL_MINUTES"]
        if minutes > 0:
            scheduler.add_job(self.run_duty, "interval", minutes=minutes, id="pollers", args=["pollers", self.poll],
                              next_run_time=_now() + timedelta(seconds=5))
        if buckets.fold_needed():
            scheduler.add_job(self.run_duty, "interval", minutes=1, id="timeline-counts",
                              args=["timeline counts", buckets.fold_counts])
        scheduler.add_job(self.run_duty, "interval", hours=1, id="retention", args=["retention", self.apply_retention],
                          next_run_time=_now() + timedelta(seconds=10))
        hours = self.config["WORKER_BACKUP_HOURS"]
        if hours > 0:
            scheduler.add_job(self.run_duty, "interval", hours=hours, id="backup", args=["backup", self.backup])
        scheduler.start()
        self.scheduler = scheduler
        log.info("worker %s started; schedule runs here while this worker holds the %r lease", self.name,
                 leases.SCHEDULER)

    def stop_schedule(self):
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.leader:
            try:
                with self._connection():
                    leases.release(leases.SCHEDULER, self.name)
                log.info("worker %s released the schedule", self.name)
            except Exception:
                log.exception("could not release the schedule lease; another worker takes it when it expires")
            self.leader = False

    def renew_lease(self):
        """Take or keep the schedule lease; logs when leadership changes hands."""
        try:
            with self._connection():
                held = leases.hold(leases.SCHEDULER, self.name, self.config["WORKER_LEASE_SECONDS"])
        except Exception:
            log.exception("could not renew the schedule lease")
            held = False
        if held != self.leader:
            log.info("worker %s %s the schedule", self.name, "now runs" if held else "no longer runs")
        self.leader = held
        return held

    def run_duty(self, name, duty):
        """Run one scheduled duty if (and only if) this worker holds the lease; failures are logged, never raised."""
        if not self.renew_lease():
            log.debug("%s skipped: another worker runs the schedule", name)
            return None
        try:
            with self._connection():
                return duty()
        except Exception:
            log.exception("scheduled %s failed", name)
            return None

    def poll(self):
        """The pollers named in WORKER_POLLERS, through app.polling.runner.run_pollers."""
        names = [n.strip() for n in self.config["WORKER_POLLERS"].split(",") if n.strip()]
        log.info("polling %s", ", ".join(names))
        # The same settings `changetracker poll` uses: this app's POLLERS_FILE, SNAPSHOT_HISTORY and JENKINS_*.
        return runner.run_pollers(names, settings=poller_config.load_for_app(self.config, self.app.instance_path))

    def apply_retention(self):
        """Processed inbox items, old poll runs and, when EVENT_RETENTION_DAYS is set, old events (with what hangs
        off them and one audit entry, as `changetracker purge` does); returns the counts."""
        now = utcnow()
        config = self.config
        purged = {"inbox_items": inbox.purge(now - timedelta(days=config["INBOX_RETENTION_DAYS"]),
                                             now - timedelta(days=config["INBOX_DEAD_RETENTION_DAYS"])),
                  "poll_runs": poll_runs.purge(now - timedelta(days=config["POLL_RUN_RETENTION_DAYS"]))}
        if config["EVENT_RETENTION_DAYS"] > 0:
            cutoff = datetime.now(timezone.utc) - timedelta(days=config["EVENT_RETENTION_DAYS"])
            totals = retention.purge(cutoff)
            purged["events"] = totals["events"]
            purged["inbox_items"] += totals["inbox_items"]
        if any(purged.values()):
            log.info("retention purged %s", ", ".join("%d %s" % (n, name.replace("_", " "))
                                                      for name, n in purged.items()))
        return purged

    def backup(self):
        if not backups.supported():
            log.warning("scheduled backups cover SQLite only; back PostgreSQL up with pg_dump")
            return None
        path = backups.backup_sqlite(backups.directory(self.config, self.app.instance_path), self.config["BACKUP_KEEP"])
        log.info("backup written to %s", path)
        return path

    def _connection(self):
        return _Connected(self.app)


class _Connected:
    """An app context and this thread's own database connection, for one unit of work."""

    def __init__(self, app):
        self.ctx = app.app_context()

    def __enter__(self):
        self.ctx.push()
        database.connect(reuse_if_open=True)

    def __exit__(self, *exc):
        try:
            if not database.is_closed():
                database.close()
        finally:
            self.ctx.pop()


def _now():
    return datetime.now(timezone.utc)
