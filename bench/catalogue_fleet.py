"""Issue 12's catalogue and fleet pages: what their server part costs at fleet scale, against bare SQL.

    .venv/bin/python -m bench.catalogue_fleet            # the cached 1M-event ledger (make bench builds it) + a fleet
    .venv/bin/python -m bench.catalogue_fleet --runs 10  # fewer runs

The catalogue rows read the cached 1,000,000-event, 500-agent SQLite ledger read-only (never written, never
rebuilt: run `make bench` first if it is missing); the fleet rows build a throw-away SQLite database holding the
newest snapshots of 500 agents with 200 tools each (1% of the values off the majority). Each figure comes from the
domain function the page calls, next to one hand-written statement through the bare sqlite3 driver in the same run,
in alternating order, both checked to give the same answer (bench/README.md, "Catalogue and fleet pages").
"""
import argparse
import glob
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time

from werkzeug.datastructures import MultiDict

from bench import dataset
from bench.ledger import _ms, _paired, p95

PAGE_MEDIAN_MS = 100.0  # a page's server part, as the table page's target in issue 12
AGENTS, TOOLS = 500, 200


def _proxy(url, read_only=False):
    """Bind the service's database proxy, as app.db binds it (read-only for the shared ledger)."""
    from peewee import SqliteDatabase

    from app.db import database, open_database

    path = url[len("sqlite:///"):]
    db = SqliteDatabase("file:%s?mode=ro" % path, uri=True, pragmas={"foreign_keys": 1}) if read_only \
        else open_database(url)
    database.initialize(db)
    database.connect(reuse_if_open=True)
    return database


# -- the catalogue at 1M events -------------------------------------------------------------------------------------
BARE_AGENTS = """SELECT a.name, (SELECT COUNT(*) FROM event_agent ea WHERE ea.agent_id = a.id)
                 FROM agent a ORDER BY %s LIMIT 50 OFFSET ?"""
BARE_NEWEST = "(SELECT MAX(occurred_at) FROM event_agent ea WHERE ea.agent_id = a.id) DESC NULLS LAST, a.name"
BARE_STATS = "SELECT COUNT(*), MAX(occurred_at) FROM {junction} WHERE {link}_id = ?"
BARE_RECENT = """SELECT e.id FROM {junction} j JOIN event e ON e.id = j.event_id WHERE j.{link}_id = ?
                 ORDER BY j.occurred_at DESC, j.event_id DESC LIMIT 25"""


def measure_catalogue(path, runs):
    from app.ledger import catalogue, catalogue_browse

    _proxy("sqlite:///" + path, read_only=True)
    bare = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    results = {}

    def browse(kind, args):
        listing = catalogue_browse.browse(kind, catalogue_browse.parse_browse_query(MultiDict(args)))
        return [(i["name"], i["event_count"]) for i in listing["items"]]

    for label, args, order in (("agents, page 1 by name", {}, "a.name"),
                               ("agents, page 10 by name", {"page": "10"}, "a.name"),
                               ("agents, newest change first", {"sort": "-last_event_at"}, BARE_NEWEST)):
        offset = (int(args.get("page", 1)) - 1) * 50
        ours, theirs, _ = _paired([()] * runs, lambda args=args: browse(catalogue.AGENTS, args),
                                  lambda order=order, offset=offset: bare.execute(BARE_AGENTS % order,
                                                                                  (offset,)).fetchall(), label)
        results[label] = (ours, theirs)
    for kind, junction, link in ((catalogue.AGENTS, "event_agent", "agent"), (catalogue.TOOLS, "event_tool", "tool")):
        row_id, name, count = bare.execute(
            "SELECT j.{0}_id, c.name, COUNT(*) n FROM {1} j JOIN {0} c ON c.id = j.{0}_id GROUP BY j.{0}_id "
            "ORDER BY n DESC LIMIT 1".format(link, junction)).fetchone()
        label = "busiest %s (%s, %d events): item + newest 25" % (kind.name, name, count)
        stats, recent = (sql.format(junction=junction, link=link) for sql in (BARE_STATS, BARE_RECENT))

        def ours_item(kind=kind, name=name):
            item = catalogue.get_item(kind, name)
            return item["event_count"], [e["id"] for e in catalogue.recent_events(kind, name, 25)]

        def bare_item(row_id=row_id, stats=stats, recent=recent):
            return bare.execute(stats, (row_id,)).fetchone()[0], [i for (i,) in bare.execute(recent, (row_id,))]

        ours, theirs, _ = _paired([()] * runs, ours_item, bare_item, label)
        results[label] = (ours, theirs)
    bare.close()
    return results


# -- the fleet matrix, 500 agents × 200 tools ----------------------------------------------------------------------
def build_fleet(url, seed=12):
    """The newest jenkins_agent snapshot of each agent, 1% of the tool values off the majority."""
    from app import migrations
    from app.db import open_database
    from app.models import Agent, Snapshot

    db = open_database(url)
    migrations.upgrade(db)
    db.close()
    _proxy(url)
    rng = random.Random(seed)
    rows = []
    for agent in range(AGENTS):
        tools = {}
        for tool in range(TOOLS):
            version = "1.%d.%d" % (tool, 1 + rng.randrange(3)) if rng.random() < 0.01 else "1.%d.0" % tool
            tools["tool-%03d" % tool] = {"kind": "other", "home": "/opt/tool-%03d-%s" % (tool, version)}
        content = {"name": "agent-%03d" % agent, "controller": "ci", "labels": ["linux"], "tools": tools}
        rows.append({"collector": "jenkins_agent", "key": "ci/agent-%03d" % agent, "observed_at": "2026-01-01 00:00:00",
                     "received_at": "2026-01-01 00:00:00", "content": content, "event_ids": [],
                     "content_sha256": hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()})
    for start in range(0, len(rows), 50):
        Snapshot.insert_many(rows[start:start + 50]).execute()
    Agent.insert_many([{"name": "agent-%03d" % a} for a in range(AGENTS)]).execute()


BARE_NEWEST_SNAPSHOTS = """SELECT id, content_sha256, observed_at FROM snapshot WHERE id IN (
    SELECT MAX(id) FROM snapshot WHERE collector IN ('jenkins_agent', 'jenkins_nodes', 'jenkins_plugins')
    GROUP BY collector, key)"""
BARE_CONTENTS = """SELECT content FROM snapshot WHERE id IN (
    SELECT MAX(id) FROM snapshot WHERE collector = 'jenkins_agent' GROUP BY key)"""


def measure_fleet(url, runs):
    from app.polling import fleet

    bare = sqlite3.connect(url[len("sqlite:///"):])
    query = fleet.parse_fleet_query(MultiDict())
    drifting = fleet.parse_fleet_query(MultiDict({"drifting": "on", "odd": "on"}))

    def view(q):
        page = fleet.drift_page(q)
        return len(page["agents"]["rows"])

    def first_build():
        fleet._built["fingerprint"] = None
        fleet.version_from_home.cache_clear()
        return view(query)

    def parsed():
        return min(50, len([json.loads(c) for (c,) in bare.execute(BARE_CONTENTS)]))

    results = {}
    ours, theirs, _ = _paired([()] * max(3, runs // 5), first_build, parsed, "first build")
    results["fleet: first view of a process (builds the matrices)"] = (ours, theirs, "read + parse the snapshots")
    for label, q in (("fleet: a view, 50 agents × 12 tools", query),
                     ("fleet: only drifting tools, odd agents", drifting)):
        view(q)
        ours, theirs, _ = _paired([()] * runs, lambda q=q: min(view(q), 1),
                                  lambda: min(len(bare.execute(BARE_NEWEST_SNAPSHOTS).fetchall()), 1), label)
        results[label] = (ours, theirs, "the fingerprint query")
    bare.close()
    return results


def table(catalogue_results, fleet_results):
    rows = [("measurement", "ours median", "ours p95", "bare median", "ours/bare", "bare is", "target", "")]
    for label, (ours, theirs) in catalogue_results.items():
        m = _ms(statistics.median(ours))
        rows.append((label, "%.1f ms" % m, "%.1f ms" % _ms(p95(ours)), "%.1f ms" % _ms(statistics.median(theirs)),
                     "%.1fx" % (statistics.median(ours) / statistics.median(theirs)),
                     "two SQL statements" if label.startswith("busiest") else "one SQL statement",
                     "median <= %.0f ms" % PAGE_MEDIAN_MS, "ok" if m <= PAGE_MEDIAN_MS else "MISSED"))
    for label, (ours, theirs, what) in fleet_results.items():
        m = _ms(statistics.median(ours))
        built = not label.startswith("fleet: first")
        rows.append((label, "%.1f ms" % m, "%.1f ms" % _ms(p95(ours)), "%.1f ms" % _ms(statistics.median(theirs)),
                     "%.1fx" % (statistics.median(ours) / statistics.median(theirs)), what,
                     "median <= %.0f ms" % PAGE_MEDIAN_MS if built else "",
                     ("ok" if m <= PAGE_MEDIAN_MS else "MISSED") if built else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines), all(not row[-1] == "MISSED" for row in rows[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.catalogue_fleet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per measurement (default 30)")
    parser.add_argument("--ledger", help="a 1M-event SQLite ledger built by bench/dataset.py (default: the cached one)")
    args = parser.parse_args(argv)
    ledger = args.ledger or dataset.cache_path(1_000_000, 500, 730, 4)
    if not os.path.exists(ledger):
        # Another branch's migrations give another file name; the rows are the same (bench/dataset.py, seed 4).
        found = sorted(glob.glob(os.path.join(dataset.DATA_DIR, "ledger-1000000-500a-730d-s4-*.db")))
        if not found:
            sys.exit("No cached 1M-event ledger at %s: run `make bench` once to build it." % ledger)
        ledger = found[-1]
    started = time.perf_counter()
    catalogue_results = measure_catalogue(ledger, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        url = "sqlite:///%s" % os.path.join(folder, "fleet.db")
        build_fleet(url)
        fleet_results = measure_fleet(url, args.runs)
    text, ok = table(catalogue_results, fleet_results)
    print(text)
    print("\n%d runs each; %.0f s in all" % (args.runs, time.perf_counter() - started))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
