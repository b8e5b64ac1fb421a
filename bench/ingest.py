"""Issue 6's ingestion benchmarks: webhook acceptance against a trivial Flask endpoint, and the inbox drain.

    .venv/bin/python -m bench.ingest                          # defaults: 7 rounds of 2,000 requests, 8 clients
    .venv/bin/python -m bench.ingest --requests 1000 --rounds 3

a. Acceptance: the real service (``app:create_app()``: HMAC check, durable inbox insert, 202) and a trivial Flask
   app (reads the body, answers 202) run under the same gunicorn settings, on 127.0.0.1 only, in the same run;
   rounds alternate between them. A bounded load generator (a thread pool, a fixed number of requests, keep-alive
   connections) measures requests per second. Target: the webhook rate ≥ 50% of the trivial one (medians).
b. Drain: the items accepted in a. (distinct Jenkins builds of an infrastructure job, each becoming one event) are
   processed by ``inbox.drain`` in this process on SQLite, timed per slice of batches. Target: ≥ 2,000 items/s.

The machine is shared and noisy: read the medians and the ratio, not single numbers. Exit status 1 when a
target is missed.
"""
import argparse
import hashlib
import hmac
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime

from bench import runs
from bench.http_load import ROOT, Server, load

log = logging.getLogger("bench.ingest")

SECRET_KEY = "bench-secret-key-not-for-production"
HOOK_SECRET = "bench-webhook-secret-0123456789"
ACCEPT_SHARE = 0.50
DRAIN_RATE = 2000.0


def notification(number):
    return json.dumps({"name": "deploy", "url": "job/infra/job/deploy/", "build": {
        "full_url": "http://jenkins.local/job/infra/job/deploy/%d/" % number, "number": number,
        "phase": "COMPLETED", "status": "SUCCESS", "url": "job/infra/job/deploy/%d/" % number,
        "scm": {"url": "https://git.local/infra.git", "branch": "origin/main", "commit": "%040x" % number},
        "parameters": {"AGENTS": "linux-%03d" % (number % 200)}}}).encode()


def signed(body):
    return "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def prepare(url):
    """A migrated database with the 'bench' Jenkins source."""
    from app import migrations
    from app.db import database, open_database
    from app.ingest import sources

    db = open_database(url)
    migrations.upgrade(db)
    db.close()
    database.initialize(open_database(url))
    database.connect()
    sources.create_source({"name": "bench", "kind": "jenkins", "secret": HOOK_SECRET,
                           "mapping": {"jobs": [{"pattern": "infra/*", "agents_parameter": "AGENTS"}]}},
                          sources.cipher(SECRET_KEY))
    database.close()


def measure_acceptance(args, env):
    trivial, hooks = [], []
    number = 0
    with Server('bench.http_load:trivial_app("/hooks/jenkins/bench", 202)', args.workers, args.threads, env) as yardstick, \
            Server("app:create_app()", args.workers, args.threads, env) as service:
        # Round 0 warms both up (imports on first use, connection pools, SQLite's page cache) and is not counted.
        for round_no in range(args.rounds + 1):
            for name, server, rates in (("trivial", yardstick, trivial), ("webhook", service, hooks)):
                requests = []
                for _ in range(args.requests if round_no else max(1, args.requests // 4)):
                    number += 1
                    body = notification(number)
                    requests.append((body, {"X-Hub-Signature-256": signed(body)}))
                result = load(server.port, "/hooks/jenkins/bench", requests, args.clients,
                              headers={"Content-Type": "application/json;charset=UTF-8"})
                if set(result.statuses) != {202}:
                    raise RuntimeError("%s answered %s" % (name, result.statuses))
                if round_no:
                    rates.append(result.rate)
                log.info("round %d %-8s %7.0f req/s%s", round_no, name, result.rate, "" if round_no else " (warm-up)")
    return trivial, hooks


def measure_drain(url, args):
    from app.db import database, open_database
    from app.ingest import inbox
    from app.models import Event, InboxItem

    database.initialize(open_database(url))
    database.connect()
    settings = inbox.Settings(batch_size=args.batch_size)
    waiting = InboxItem.select().where(InboxItem.state == "pending").count()
    rates = []
    while True:
        began = time.perf_counter()
        counts = inbox.drain("bench", settings, max_batches=args.slice_batches)
        elapsed = time.perf_counter() - began
        done = sum(counts.values())
        if not done:
            break
        if counts.get("done") != done:
            raise RuntimeError("drain left items unprocessed: %s" % counts)
        rates.append(done / elapsed)
    events = Event.select().count()
    database.close()
    if events != waiting:
        raise RuntimeError("%d items made %d events" % (waiting, events))
    return rates, waiting


def table(trivial, hooks, drain_rates, items, args):
    med_t, med_h = statistics.median(trivial), statistics.median(hooks)
    ratio = med_h / med_t
    paired = [h / t for t, h in zip(trivial, hooks)]  # each round's pair ran back to back: drift cancels out
    med_d = statistics.median(drain_rates)
    verdict = runs.verdict
    rows = [
        ("measure", "median", "min", "max", "samples", "ratio", "target", "verdict"),
        ("a. trivial Flask endpoint, req/s", "%.0f" % med_t, "%.0f" % min(trivial), "%.0f" % max(trivial),
         str(len(trivial)), "", "", ""),
        ("a. webhook accept (HMAC + inbox + 202), req/s", "%.0f" % med_h, "%.0f" % min(hooks), "%.0f" % max(hooks),
         str(len(hooks)), "%.2f" % ratio, ">= %.2f" % ACCEPT_SHARE, verdict(ratio >= ACCEPT_SHARE)),
        ("a. webhook / trivial, round by round", "%.2f" % statistics.median(paired), "%.2f" % min(paired),
         "%.2f" % max(paired), str(len(paired)), "", "", ""),
        ("b. inbox drain on SQLite, items/s", "%.0f" % med_d, "%.0f" % min(drain_rates), "%.0f" % max(drain_rates),
         str(len(drain_rates)), "", ">= %.0f" % DRAIN_RATE, verdict(med_d >= DRAIN_RATE)),
    ]
    table = runs.text_table(rows)
    head = ("gunicorn --workers %d --threads %d; %d clients x %d requests x %d rounds; drain: %d items in batches "
            "of %d, %d batches a sample; %s; %d CPUs" % (
                args.workers, args.threads, args.clients, args.requests, args.rounds, items, args.batch_size,
                args.slice_batches, datetime.now().strftime("%Y-%m-%d %H:%M"), os.cpu_count() or 0))
    return head + "\n\n" + table


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round and contender")
    parser.add_argument("--rounds", type=int, default=7, help="counted rounds, after one warm-up round")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both contenders)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (both contenders)")
    parser.add_argument("--batch-size", type=int, default=100, help="inbox batch size for the drain")
    parser.add_argument("--slice-batches", type=int, default=10, help="batches per drain sample")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    runs.log_progress()
    workdir = tempfile.mkdtemp(prefix="changetracker-bench-ingest-")
    try:
        url = "sqlite:///%s" % os.path.join(workdir, "changetracker.db")
        prepare(url)
        # As `changetracker serve` runs it: /metrics' request counts shared by the gunicorn processes.
        os.makedirs(os.path.join(workdir, "prometheus"))
        env = dict(os.environ, CHANGETRACKER_DATABASE_URL=url, CHANGETRACKER_SECRET_KEY=SECRET_KEY,
                   CHANGETRACKER_INSTANCE_PATH=workdir, CHANGETRACKER_WEBHOOK_RATE_LIMIT="100000000 per minute",
                   PROMETHEUS_MULTIPROC_DIR=os.path.join(workdir, "prometheus"), PYTHONPATH=ROOT)
        trivial, hooks = measure_acceptance(args, env)
        drain_rates, items = measure_drain(url, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = table(trivial, hooks, drain_rates, items, args)
    print("\n" + report)
    return 1 if "MISSED" in report else 0


if __name__ == "__main__":
    sys.exit(main())
