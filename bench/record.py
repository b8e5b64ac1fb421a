"""Issue 16's recording benchmarks: POST /api/v1/events against a trivial Flask endpoint, ``record_event``
in-process, and a 100,000-row CSV import with a writer recording beside it.

    .venv/bin/python -m bench.record                                          # SQLite
    .venv/bin/python -m bench.record --database sqlite --database postgresql:///postgres
    .venv/bin/python -m bench.record --requests 500 --rounds 3 --import-rows 20000   # a quick run

Each row's base is measured in the same run: the trivial endpoint for a., the bare driver for b. and c.

a. HTTP: the real service (``app:create_app()``, a write-scope token) and a trivial Flask app (reads the body,
   answers 201) under the same gunicorn settings (bench/http_load.py), on loopback, in the same run; for each
   number of clients and each kind of event, rounds alternate between the two. Kinds: ``new`` (one agent, one
   tool, one tag, one change), ``fold`` (16 dedupe keys, so nearly every request folds into an event) and
   ``wide`` (5 agents, 3 tools). Verdict: ours / trivial (medians of rounds) >= 0.50 at 8 clients, p99 <= 50 ms
   at 32 clients, no answer other than 201/200.
b. In-process: ``events.record_event`` called in a loop on one thread, per kind; its base is the same statements
   for a ``new`` event through the bare driver (``bare_event``), call for call. Target <= 0.5 ms a call (median).
c. Import: ``csv_exchange.import_csv`` of a seeded 100,000-row file (as POST /api/v1/events/import runs it),
   while another thread records an event every 20 ms; the longest of those calls shows how long the import
   kept writers waiting. Target: <= 5 s, and no failed call beside it. Its base (``bare_import``), after each
   import into the same database: the statements alone for another file of the same shape, through the bare
   driver in one transaction (the events' rows, their links by name, their audit entries; the schema's triggers
   and indexes do the rest, as for ours), its CSV read before the clock starts.

Each ``--database`` gets a fresh database (PostgreSQL: a throw-away one on that server, dropped at the end). The
machine is shared and noisy: read the medians and the ratios. Exit status 1 when a target is missed.
"""
import argparse
import csv
import io
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

from bench import dataset, runs
from bench.http_load import ROOT, Server, load, percentile

log = logging.getLogger("bench.record")

SECRET_KEY = "bench-secret-key-not-for-production"
PATH = "/api/v1/events"
SHARE = 0.50  # of the trivial endpoint's rate, at SHARE_CLIENTS clients
SHARE_CLIENTS = 8
P99_MS = 50.0  # at P99_CLIENTS clients
P99_CLIENTS = 32
CALL_MS = 0.5
IMPORT_SECONDS = 5.0
AGENTS = ["linux-%03d" % n for n in range(200)]
TOOLS = ["jdk-17", "jdk-21", "maven-3.9", "gradle-8", "docker-27", "node-20", "python-3.12"]


def event(kind, number):
    """The body of one request of ``kind``, distinct per ``number``."""
    agent = AGENTS[number % len(AGENTS)]
    if kind == "new":
        return {"title": "Upgrade JDK on %s (run %d)" % (agent, number), "type": "tool_update", "source": "pipeline",
                "agents": [agent], "tools": ["jdk-17"], "tags": ["bench"],
                "changes": [{"path": "jdk", "before": "17.0.8", "after": "17.0.9"}]}
    if kind == "fold":
        return {"title": "Nightly package scan", "type": "package_update", "source": "pipeline", "agents": [agent],
                "dedupe_key": "bench-fold-%d" % (number % 16)}
    return {"title": "Roll out build tools, batch %d" % number, "type": "toolchain_change", "source": "pipeline",
            "agents": [AGENTS[(number + k * 37) % len(AGENTS)] for k in range(5)],
            "tools": [TOOLS[(number + k) % len(TOOLS)] for k in range(3)], "tags": ["bench"]}


KINDS = ("new", "fold", "wide")


def prepare(url):
    """A write-scope token on the migrated database ``url`` (bench/dataset migrated it)."""
    from app.accounts import tokens, users
    from app.db import database, open_database

    database.initialize(open_database(url))
    database.connect()
    user = users.create_user({"username": "bench", "role": "editor", "password": "correct horse battery"})
    _, secret = tokens.create_token(user, {"name": "bench", "scopes": ["write"]})
    database.close()
    return secret


# -- a. POST /api/v1/events over HTTP -------------------------------------------------------------------
def measure_http(args, env, secret):
    """{(clients, kind, "ours"|"trivial"): [http_load.Result per counted round]}."""
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + secret}
    samples = {}
    number = 0
    with Server('bench.http_load:trivial_app("%s", 201)' % PATH, args.workers, args.threads, env) as yardstick, \
            Server("app:create_app()", args.workers, args.threads, env) as service:
        for clients in args.clients:
            for round_no in range(args.rounds + 1):  # round 0 warms both up and is not counted
                for kind in KINDS:
                    contenders = [("trivial", yardstick, {201}), ("ours", service, {200, 201})]
                    for name, server, fine in (contenders if round_no % 2 else contenders[::-1]):
                        size = args.requests if round_no else max(clients, args.requests // 4)
                        requests = []
                        for _ in range(size):
                            number += 1
                            requests.append((json.dumps(event(kind, number)).encode(), {}))
                        result = load(server.port, PATH, requests, clients, headers)
                        result.errors = sum(n for status, n in result.statuses.items() if status not in fine)
                        if round_no:
                            samples.setdefault((clients, kind, name), []).append(result)
                        log.info("%d clients, round %d, %-4s %-7s %6.0f req/s, p99 %5.1f ms%s%s", clients, round_no,
                                 kind, name, result.rate, 1000 * percentile(result.latencies, 0.99),
                                 "" if round_no else " (warm-up)",
                                 ", answers %s" % result.statuses if result.errors else "")
    return samples


# -- b. record_event in-process ---------------------------------------------------------------------------
def measure_calls(url, args):
    """{kind: [seconds per call]} for record_event, and {"bare": [...]}: the same statements for a new event
    through the bare driver, on a connection of its own (bench_bare_event), alternating call by call."""
    from app.accounts.audit import Actor
    from app.db import database, open_database
    from app.ledger import events

    database.initialize(open_database(url))
    database.connect()
    bare = _bare_connection(url)
    actor = Actor("bench")
    per_call = {kind: [] for kind in KINDS + ("bare",)}
    number = 10**7
    try:
        for round_no in range(args.rounds + 1):
            for kind in KINDS:
                for _ in range(args.calls):
                    number += 1
                    began = time.perf_counter()
                    events.record_event(event(kind, number), actor)
                    took = time.perf_counter() - began
                    if kind == "new":
                        bare_took = bare_event(bare, url, number)
                    if round_no:
                        per_call[kind].append(took)
                        if kind == "new":
                            per_call["bare"].append(bare_took)
    finally:
        bare.close()
        database.close()
    return per_call


def _bare_connection(url):
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        for pragma in ("journal_mode = wal", "foreign_keys = 1", "busy_timeout = 30000", "synchronous = normal"):
            conn.execute("PRAGMA " + pragma)
        return conn
    import psycopg2
    from playhouse.db_url import parse

    conn = psycopg2.connect(**parse(url))
    conn.autocommit = True
    return conn


def bare_event(conn, url, number):
    """What recording a ``new`` event asks of the database, written by hand: the event's row, its agent, tool and
    tag links by name, its audit entry, in one transaction. Seconds it took."""
    data = event("new", number)
    mark = "?" if url.startswith("sqlite") else "%s"
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    when = now.isoformat(" ") if url.startswith("sqlite") else now
    began = time.perf_counter()
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE" if url.startswith("sqlite") else "BEGIN")
    cur.execute("INSERT INTO event (title, description, type, severity, source, occurred_at, changes, links, metadata, "
                "count, first_seen, last_seen, created_by, created_at, updated_at) VALUES (%s) RETURNING id"
                % ", ".join([mark] * 15),
                (data["title"], "", data["type"], "info", data["source"], when, json.dumps(data["changes"]), "[]",
                 "{}", 1, when, when, "bench", when, when))
    (event_id,) = cur.fetchone()
    for junction, column, catalogue, name in (("event_agent", "agent_id", "agent", data["agents"][0]),
                                              ("event_tool", "tool_id", "tool", data["tools"][0]),
                                              ("event_tag", "tag_id", "tag", data["tags"][0])):
        cur.execute("INSERT INTO %s (event_id, %s, occurred_at) SELECT %s, id, %s FROM %s WHERE name = %s"
                    % (junction, column, mark, mark, catalogue, mark), (event_id, when, name))
    cur.execute("INSERT INTO audit_entry (at, actor, action, entity_type, entity_id, after) VALUES (%s)"
                % ", ".join([mark] * 6), (when, "bench", "create", "event", str(event_id), json.dumps(data)))
    cur.execute("COMMIT")
    cur.close()
    return time.perf_counter() - began


# -- c. a big CSV import, and a writer beside it --------------------------------------------------------------
def import_file(rows, seed):
    """A CSV file as the export writes one: ``rows`` events over a year, 0-3 agents, 0-2 tools and tags."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["title", "type", "severity", "occurred_at", "agents", "tools", "tags", "changes", "metadata"])
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for n in range(rows):
        at = start + timedelta(seconds=rng.randrange(365 * 86400))
        tools = rng.sample(TOOLS, rng.randrange(3))
        writer.writerow([
            "Imported change %d on %s" % (n, rng.choice(AGENTS)), rng.choice(("tool_update", "agent_config", "note")),
            rng.choice(("info", "info", "low", "medium", "high")), at.isoformat().replace("+00:00", "Z"),
            ";".join(rng.sample(AGENTS, rng.randrange(4))), ";".join(tools),
            ";".join(rng.sample(("k8s", "infra", "weekend", "rollback", "legacy"), rng.randrange(3))),
            json.dumps([{"path": tool, "before": "1.%d" % n, "after": "1.%d" % (n + 1)} for tool in tools]),
            json.dumps({"controller": "ci-main", "ticket": "CHG-%d" % n})])
    return out.getvalue().encode()


def bare_import(url, data):
    """What importing ``data`` (import_file's CSV) asks of the database, written by hand through the bare driver:
    every event's row, its agent, tool and tag links by name, its audit entry, in one transaction. The file is
    read and its rows made before the clock starts; nothing is validated and no unplanned flag is looked up.
    Seconds it took."""
    sqlite = url.startswith("sqlite")
    conn = _bare_connection(url)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    events, entries, links = [], [], {"agent": [], "tool": [], "tag": []}
    for number, row in enumerate(csv.DictReader(io.StringIO(data.decode()))):
        at = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00")).replace(tzinfo=None)
        when, stamp = (at.isoformat(" "), now.isoformat(" ")) if sqlite else (at, now)
        names = {kind: [n for n in row[kind + "s"].split(";") if n] for kind in links}
        events.append((row["title"], "", row["type"], row["severity"], "import", when, row["changes"], "[]",
                       row["metadata"], 1, stamp, stamp, "bench", stamp, stamp, not names["agent"]))
        entries.append(json.dumps(dict(row, **{kind + "s": named for kind, named in names.items()})))
        for kind, named in names.items():
            links[kind] += [(number, name, when) for name in named]
    began = time.perf_counter()
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
    columns = ("title, description, type, severity, source, occurred_at, changes, links, metadata, count, first_seen, "
               "last_seen, created_by, created_at, updated_at, fleet_wide")
    if sqlite:  # the write lock is held: the ids are the next ones
        cur.execute("SELECT coalesce(max(id), 0) FROM event")
        first = cur.fetchone()[0] + 1
        ids = list(range(first, first + len(events)))
        cur.executemany("INSERT INTO event (id, %s) VALUES (%s)" % (columns, ", ".join(["?"] * 17)),
                        [(i, *values) for i, values in zip(ids, events)])
        for kind, rows in links.items():
            cur.executemany("INSERT INTO event_%s (event_id, %s_id, occurred_at) SELECT ?, id, ? FROM %s WHERE name = ?"
                            % (kind, kind, kind), [(ids[n], when, name) for n, name, when in rows])
        cur.executemany("INSERT INTO audit_entry (at, actor, action, entity_type, entity_id, after) VALUES "
                        "(?, 'bench', 'import', 'event', ?, ?)",
                        [(now.isoformat(" "), str(i), entry) for i, entry in zip(ids, entries)])
    else:
        from psycopg2.extras import execute_values

        ids = [i for (i,) in execute_values(cur, "INSERT INTO event (%s) VALUES %%s RETURNING id" % columns, events,
                                            page_size=1000, fetch=True)]
        for kind, rows in links.items():
            execute_values(cur, "INSERT INTO event_%s (event_id, %s_id, occurred_at) SELECT v.e, c.id, v.t FROM "
                           "(VALUES %%s) AS v (e, n, t) JOIN %s c ON c.name = v.n" % (kind, kind, kind),
                           [(ids[n], name, when) for n, name, when in rows], page_size=1000)
        execute_values(cur, "INSERT INTO audit_entry (at, actor, action, entity_type, entity_id, after) VALUES %s",
                       [(now, "bench", "import", "event", str(i), entry) for i, entry in zip(ids, entries)],
                       page_size=1000)
    cur.execute("COMMIT")
    took = time.perf_counter() - began
    mark = "?" if sqlite else "%s"
    for kind, rows in links.items():  # every name was in its catalogue (the import before made them): all linked
        cur.execute("SELECT count(*) FROM event_%s WHERE event_id BETWEEN %s AND %s" % (kind, mark, mark),
                    (ids[0], ids[-1]))
        if cur.fetchone()[0] != len(rows):
            raise RuntimeError("the bare import linked fewer %ss than its rows name" % kind)
    cur.close()
    conn.close()
    return took


def measure_import(url, args):
    """[(seconds, writer calls, slowest writer call in s, writer errors, bare seconds)] per import."""
    from app.accounts.audit import Actor
    from app.db import database, open_database
    from app.ledger import csv_exchange, events

    database.initialize(open_database(url))
    actor = Actor("bench")
    data = import_file(args.import_rows, seed=16)
    runs = []
    for run in range(args.import_runs):
        done, calls, errors = threading.Event(), [], []

        def writer():
            database.connect(reuse_if_open=True)
            number = 0
            try:
                while not done.is_set():
                    number += 1
                    began = time.perf_counter()
                    try:
                        events.record_event(event("new", 10**8 + 10**6 * run + number), actor)
                    except Exception as exc:  # counted, and named in the log
                        errors.append(repr(exc))
                    calls.append(time.perf_counter() - began)
                    done.wait(0.02)
            finally:
                database.close()

        thread = threading.Thread(target=writer)
        database.connect(reuse_if_open=True)
        thread.start()
        began = time.perf_counter()
        try:
            report = csv_exchange.import_csv(data, actor)
        finally:
            took = time.perf_counter() - began
            done.set()
            thread.join()
            database.close()
        if report["errors"] or report["created"] != args.import_rows:
            raise RuntimeError("the import failed: %s" % report["errors"][:5])
        if errors:
            log.warning("writer beside the import failed %d times: %s", len(errors), errors[:3])
        bare = bare_import(url, import_file(args.import_rows, seed=1000 + run))
        log.info("import %d: %d rows in %.1f s (bare statements %.1f s); writer: %d calls, slowest %.0f ms, %d failed",
                 run + 1, args.import_rows, took, bare, len(calls), 1000 * max(calls), len(errors))
        runs.append((took, len(calls), max(calls), len(errors), bare))
    return runs


# -- the run ------------------------------------------------------------------------------------------------
def run(kind, url, args, workdir):
    secret = prepare(url)
    os.makedirs(os.path.join(workdir, kind, "prometheus"), exist_ok=True)
    env = dict(os.environ, CHANGETRACKER_DATABASE_URL=url, CHANGETRACKER_SECRET_KEY=SECRET_KEY,
               CHANGETRACKER_INSTANCE_PATH=os.path.join(workdir, kind),
               PROMETHEUS_MULTIPROC_DIR=os.path.join(workdir, kind, "prometheus"), PYTHONPATH=ROOT)
    results = {"http": measure_http(args, env, secret) if args.requests else {}}
    log.info("%s: record_event in-process", kind)
    results["calls"] = measure_calls(url, args) if args.calls else {}
    log.info("%s: %d-row import", kind, args.import_rows)
    results["import"] = measure_import(url, args) if args.import_rows else []
    return results


def table(all_results, args):
    rows = [("measurement", "db", "ours median", "base median", "ours/base", "p50", "p99", "errors", "target", "")]
    for db, results in all_results.items():
        for clients in args.clients:
            for kind in KINDS:
                ours, trivial = results["http"].get((clients, kind, "ours")), results["http"].get(
                    (clients, kind, "trivial"))
                if not ours:
                    continue
                rate, base = statistics.median(r.rate for r in ours), statistics.median(r.rate for r in trivial)
                latencies = [s for r in ours for s in r.latencies]
                p50, p99 = 1000 * percentile(latencies, 0.5), 1000 * percentile(latencies, 0.99)
                errors = sum(r.errors for r in ours)
                targets, ok = ["no errors"], errors == 0
                if clients == SHARE_CLIENTS:
                    targets.insert(0, ">= %.2f" % SHARE)
                    ok = ok and rate / base >= SHARE
                if clients == P99_CLIENTS:
                    targets.insert(0, "p99 <= %.0f ms" % P99_MS)
                    ok = ok and p99 <= P99_MS
                rows.append(("a. POST %s, %s, %d clients, req/s" % (PATH, kind, clients), db, "%.0f" % rate,
                             "%.0f" % base, "%.2f" % (rate / base), "%.1f ms" % p50, "%.1f ms" % p99, str(errors),
                             ", ".join(targets), runs.verdict(ok)))
        calls = results["calls"]
        for kind in KINDS if calls else ():
            ms = 1000 * statistics.median(calls[kind])
            base = "%.3f ms" % (1000 * statistics.median(calls["bare"])) if kind == "new" else ""
            rows.append(("b. record_event in-process, %s, per call" % kind, db, "%.3f ms" % ms, base,
                         "%.2f" % (ms / 1000 / statistics.median(calls["bare"])) if kind == "new" else "",
                         "%.3f ms" % ms, "%.1f ms" % (1000 * percentile(calls[kind], 0.99)), "",
                         "<= %.1f ms" % CALL_MS, runs.verdict(ms <= CALL_MS)))
        if results["import"]:
            seconds = statistics.median(r[0] for r in results["import"])
            slowest = max(r[2] for r in results["import"])
            errors = sum(r[3] for r in results["import"])
            bare = statistics.median(r[4] for r in results["import"])
            rows.append(("c. import %d CSV rows (%d runs)" % (args.import_rows, len(results["import"])), db,
                         "%.1f s" % seconds, "%.1f s" % bare, "%.2f" % (seconds / bare), "", "", str(errors),
                         "<= %.0f s" % IMPORT_SECONDS,
                         runs.verdict(seconds <= IMPORT_SECONDS and not errors)))
            rows.append(("c. record_event beside the import: slowest call", db, "%.0f ms" % (1000 * slowest), "", "",
                         "", "", str(errors), "no errors", runs.verdict(not errors)))
    return runs.text_table(rows)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.record", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", action="append", metavar="URL",
                        help="'sqlite' (a fresh file, the default) or a postgresql:// URL of a server on which a "
                             "throw-away database is created and dropped; repeat for both in one table")
    parser.add_argument("--clients", type=int, action="append", help="concurrent keep-alive connections "
                        "(repeatable; default 8 and 32)")
    parser.add_argument("--requests", type=int, default=1500, help="requests per round, contender and kind "
                        "(0: skip a.)")
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds, after one warm-up round")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both contenders)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (both contenders)")
    parser.add_argument("--calls", type=int, default=2000, help="record_event calls per round and kind (0: skip b.)")
    parser.add_argument("--import-rows", type=int, default=100_000, help="rows of the CSV import (0: skip c.)")
    parser.add_argument("--import-runs", type=int, default=3, help="imports, each into the same database")
    args = parser.parse_args(argv)
    args.database = runs.databases(parser, args.database)
    args.clients = args.clients or [SHARE_CLIENTS, P99_CLIENTS]
    return args


def main(argv=None):
    args = parse_args(argv)
    runs.log_progress()
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="changetracker-bench-record-")
    all_results = {}
    try:
        for url in args.database:
            if url == "sqlite":
                from app import migrations
                from app.db import open_database

                url, drop = "sqlite:///%s" % os.path.join(workdir, "changetracker.db"), lambda: None
                db = open_database(url)
                migrations.upgrade(db)
                db.close()
            else:
                url, drop = dataset.throwaway_postgres(url)
            kind = "sqlite" if url.startswith("sqlite") else "postgresql"
            try:
                all_results[kind] = run(kind, url, args, workdir)
            finally:
                drop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = table(all_results, args)
    print("\ngunicorn --workers %d --threads %d; %d requests x %d rounds per row; %s; %d CPUs, load average %.1f at "
          "start, %.1f at end\n" % (args.workers, args.threads, args.requests, args.rounds,
                                    datetime.now().strftime("%Y-%m-%d %H:%M"), os.cpu_count() or 0, load_before,
                                    os.getloadavg()[0]))
    print(report)
    print("\nwall time %.0f s" % (time.perf_counter() - started))
    return 1 if "MISSED" in report else 0


if __name__ == "__main__":
    sys.exit(main())
