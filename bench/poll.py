"""Issue 6's poller benchmark: a poll of 1,000 agents against a fake Jenkins that adds 20 ms per request.

    .venv/bin/python -m bench.poll                          # SQLite, 1,000 agents, 20 ms, 3 timed runs
    .venv/bin/python -m bench.poll --database postgresql:///postgres   # a throw-away database on that server
    .venv/bin/python -m bench.poll --agents 200 --runs 1    # a quick run

The fake Jenkins (tests/fakes/jenkins.py, the one the tests use) runs in a child process, so its own
CPU does not compete with the poller for the GIL; python-jenkins is the real client. Every run goes
through app.polling.runner.run_pollers("jenkins") — the fleet query, 1,000 config.xml fetches with
bounded concurrency, parsing, and 1,002 snapshot submissions into a fresh database. The first run
records the baselines; the timed runs poll an unchanged fleet (target: ≤ 15 s and zero events); a last
run changes 10 agents and must record exactly 10 events, which the fleet drift matrix then shows as
10 outliers, each with its event (its build time is measured too). The machine is shared and noisy: read the
medians. Exits 1 when a target is missed.
"""
import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid

TARGET_SECONDS = 15.0
CHANGED_AGENTS = 10


def serve_fleet(agents, latency, conn):
    """Child process: a fake Jenkins with ``agents`` agents; answers "change N" and "stop" on ``conn``."""
    from tests.fakes.jenkins import FakeJenkins, agent_config, computer

    names = ["agent-%04d" % n for n in range(agents)]
    fake = FakeJenkins(computers=[computer(name, labels=("linux",)) for name in names],
                       configs={name: agent_config(name) for name in names})
    fake.latency = latency
    fake.start()
    conn.send(fake.url)
    while True:
        command = conn.recv()
        if command == "stop":
            break
        if command.startswith("change "):
            for name in names[:int(command.split()[1])]:
                fake.configs[name] = agent_config(name, tools={"JDK": "/opt/jdk-17.0.9",
                                                               "Maven": "/opt/apache-maven-3.9.6"})
        conn.send(len(fake.requests))
    fake.stop()


class Database:
    """A fresh, migrated database bound to the service's proxy: a SQLite file, or a PostgreSQL database
    created on the given server and dropped afterwards."""

    def __init__(self, url):
        self.url, self.drop = url, None

    def __enter__(self):
        from app import migrations
        from app.db import database, open_database

        if self.url == "sqlite":
            self.tmp = tempfile.TemporaryDirectory(prefix="bench-poll-")
            self.url = "sqlite:///%s" % os.path.join(self.tmp.name, "poll.db")
        else:
            self.url = self._create_postgres(self.url)
        db = open_database(self.url)
        migrations.upgrade(db)
        db.close()
        database.initialize(open_database(self.url))
        database.connect()
        return self

    def __exit__(self, *exc):
        from app.db import database

        database.close()
        if self.drop:
            self.drop()
        else:
            self.tmp.cleanup()

    def _create_postgres(self, server_url):
        import psycopg2
        from psycopg2 import sql

        name = "changetracker_bench_poll_%s" % uuid.uuid4().hex[:8]
        head, sep, query = server_url.partition("?")
        scheme, rest = head.split("://", 1)
        host = rest.split("/", 1)[0]
        admin = psycopg2.connect("%s://%s/%s%s%s" % (scheme, host, rest.split("/", 1)[1] or "postgres", sep, query))
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

        def drop():
            with admin.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.close()

        self.drop = drop
        return "%s://%s/%s%s%s" % (scheme, host, name, sep, query)


def poll_once(settings):
    from app.polling import runner

    started = time.perf_counter()
    summary = runner.run_pollers(["jenkins"], settings=settings)
    return time.perf_counter() - started, summary["pollers"][0]


def collect_once(settings):
    """The collection alone (no database): how much of a run is waiting on Jenkins."""
    from app.polling.collectors import jenkins

    started = time.perf_counter()
    result = jenkins.collect(settings.jenkins)
    return time.perf_counter() - started, result


def measure(args, url):
    from app.models import Event
    from app.polling import fleet
    from app.polling.collectors.config import JenkinsController, PollerSettings

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve_fleet, args=(args.agents, args.latency_ms / 1000.0, child),
                                     daemon=True)
    server.start()
    rows, failures = [], []
    try:
        jenkins_url = parent.recv()
        settings = PollerSettings(jenkins=(JenkinsController(name="bench", url=jenkins_url, timeout=10.0, retries=1,
                                                             concurrency=args.concurrency),))
        with Database(url):
            seconds, report = poll_once(settings)
            rows.append(("baseline poll (%d snapshots)" % report["observed"], [seconds], report))
            if report["status"] != "ok" or report["baselines"] != args.agents + 2:
                failures.append("baseline poll: %s, %d baselines, errors %s" % (
                    report["status"], report["baselines"], report["errors"][:3]))
            collect = [collect_once(settings)[0] for _ in range(args.runs)]
            rows.append(("collect only (no database)", collect, None))
            unchanged, reports = [], []
            for _ in range(args.runs):
                seconds, report = poll_once(settings)
                unchanged.append(seconds)
                reports.append(report)
            rows.append(("unchanged fleet poll", unchanged, reports[-1]))
            events = sum(r["events"] for r in reports)
            if statistics.median(unchanged) > TARGET_SECONDS:
                failures.append("unchanged poll median %.2f s > %.0f s" % (statistics.median(unchanged), TARGET_SECONDS))
            if events or any(r["status"] != "ok" for r in reports):
                failures.append("unchanged fleet: %d events, statuses %s" % (events, [r["status"] for r in reports]))
            parent.send("change %d" % CHANGED_AGENTS)
            parent.recv()
            seconds, report = poll_once(settings)
            rows.append(("poll with %d agents changed" % CHANGED_AGENTS, [seconds], report))
            if report["events"] != CHANGED_AGENTS or Event.select().count() != CHANGED_AGENTS:
                failures.append("changed fleet: %d events, want %d" % (report["events"], CHANGED_AGENTS))
            drift, timings = None, []
            for _ in range(args.runs):
                started = time.perf_counter()
                drift = fleet.drift()
                timings.append(time.perf_counter() - started)
            rows.append(("GET /api/v1/fleet's drift()", timings, {"events": "-", "errors": []}))
            if len(drift["outliers"]) != CHANGED_AGENTS or any(o["event"] is None for o in drift["outliers"]):
                failures.append("fleet: %d outliers, want %d each with its event" % (
                    len(drift["outliers"]), CHANGED_AGENTS))
    finally:
        parent.send("stop")
        server.join(timeout=10)
    return rows, failures


def print_table(kind, args, rows):
    print("\nPoll of %d agents, fake Jenkins +%d ms per request, concurrency %d, %s" % (
        args.agents, args.latency_ms, args.concurrency, kind))
    header = "%-34s %5s %10s %8s %8s %8s %7s" % ("run", "runs", "median s", "min s", "max s", "events", "errors")
    print(header)
    print("-" * len(header))
    for name, samples, report in rows:
        print("%-34s %5d %10.2f %8.2f %8.2f %8s %7s" % (
            name, len(samples), statistics.median(samples), min(samples), max(samples),
            report["events"] if report else "-", len(report["errors"]) if report else "-"))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.poll", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20, help="added to every request (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="config.xml fetches in flight (default 16)")
    parser.add_argument("--runs", type=int, default=3, help="timed polls of the unchanged fleet (default 3)")
    parser.add_argument("--database", action="append", metavar="URL",
                        help="'sqlite' (default) or a postgresql:// URL of a server to create a throw-away database on")
    return parser.parse_args(argv)


def main(argv=None):
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    all_failures = []
    for url in args.database or ["sqlite"]:
        kind = "SQLite" if url == "sqlite" else "PostgreSQL"
        rows, failures = measure(args, url)
        print_table(kind, args, rows)
        all_failures += ["%s: %s" % (kind, f) for f in failures]
    print("\ntarget: an unchanged fleet of %d agents polled in <= %.0f s (median) with zero events; "
          "%d changed agents -> %d events" % (args.agents, TARGET_SECONDS, CHANGED_AGENTS, CHANGED_AGENTS))
    for failure in all_failures:
        print("MISSED: " + failure)
    print("all targets met" if not all_failures else "%d target(s) missed" % len(all_failures))
    return 1 if all_failures else 0


if __name__ == "__main__":
    sys.exit(main())
