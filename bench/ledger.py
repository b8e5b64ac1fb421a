"""Issue 4's performance harness: the ledger's reads at 1,000,000 events, against bare-driver baselines.

    .venv/bin/python -m bench.ledger                       # SQLite, 1M events (cached under bench/.data/)
    .venv/bin/python -m bench.ledger --events 100000       # a quick run
    .venv/bin/python -m bench.ledger --database sqlite --database postgresql:///postgres   # both, one table

Every figure comes from the real domain functions (filters.parse + events.list_events, timeline.build,
csv_exchange.export_rows) on the database proxy the service uses, next to hand-written SQL through
the bare driver measured in the same run (see bench/baselines.py). The machine is shared and noisy:
read the medians, p95s and ratios, not single timings. Targets are checked here, never in unit tests.
See bench/README.md.
"""
import argparse
import gc
import json
import logging
import math
import os
import random
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone

from werkzeug.datastructures import MultiDict

from bench import baselines, dataset, runs

log = logging.getLogger("bench.ledger")

SEVERITIES = ("info", "low", "medium", "high", "critical")

# Targets of issue 4 (and 16: the page within PAGE_RATIO of the bare query, medians).
PAGE_P95_MS = 20.0
PAGE_RATIO = 2.0
TIMELINE_MEDIAN_MS = 150.0
EXPORT_RATE_SHARE = 0.60
EXPORT_MEMORY_GROWTH = 1.5  # peak(100k rows) / peak(10k rows): "roughly equal"
POSTGRES_FACTOR = 2.0


class Target:
    """One database under test: the service's proxy bound to it, plus a bare driver connection."""

    def __init__(self, kind, url):
        self.kind, self.url = kind, url
        self.dialect = baselines.Dialect(kind)

    def __enter__(self):
        from app.db import database, open_database

        self.database = database
        database.initialize(open_database(self.url))
        database.connect()
        if self.kind == "sqlite":
            import sqlite3

            self.bare = sqlite3.connect(self.url[len("sqlite:///"):])
        else:
            import psycopg2
            from playhouse.db_url import parse

            self.bare = psycopg2.connect(**parse(self.url))
            self.bare.autocommit = True
        cur = self.bare.cursor()
        cur.execute("SELECT min(occurred_at), max(occurred_at), count(*) FROM event")
        first, last, self.events = cur.fetchone()
        cur.execute("SELECT name FROM agent ORDER BY id")
        self.agents = [name for (name,) in cur.fetchall()]
        cur.close()
        self.first, self.last = _aware(first), _aware(last)
        return self

    def __exit__(self, *exc):
        self.bare.close()
        self.database.close()

    def stamp(self, moment):
        """A bound for the bare queries: text on SQLite (as peewee stores it), a naive datetime on PostgreSQL."""
        naive = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return naive.strftime("%Y-%m-%d %H:%M:%S") if self.kind == "sqlite" else naive

    def window(self, rng, days):
        """A random [from, to) of ``days`` inside the ledger, to the second."""
        span = (self.last - self.first).total_seconds() - days * 86400
        start = self.first + timedelta(seconds=int(rng.random() * max(span, 0)))
        return start, start + timedelta(days=days)


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def _ms(seconds):
    return seconds * 1000.0


def p95(samples):
    """Nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def _paired(cases, ours, bare, what):
    """Each case through both contenders, in alternating order, checking they agree; (ours, bare, results)."""
    mine, theirs, results = [], [], []
    for number, case in enumerate(cases):
        pair = ((ours, mine), (bare, theirs)) if number % 2 else ((bare, theirs), (ours, mine))
        answers = {}
        for function, samples in pair:
            elapsed, answers[function] = _timed(function, *case)
            samples.append(elapsed)
        if answers[ours] != answers[bare]:
            raise AssertionError("%s %r: the service and the bare query disagree:\n%r\n%r"
                                 % (what, case, answers[ours], answers[bare]))
        results.append(answers[ours])
    return mine, theirs, results


# -- a. one filtered page -----------------------------------------------------------------------
def measure_page(target, runs, seed):
    from app.ledger import events, filters

    def ours(start, end, agents, severities):
        args = MultiDict([("from", _iso(start)), ("to", _iso(end)), ("limit", "50")]
                         + [("agent", a) for a in agents] + [("severity", s) for s in severities])
        items, _ = events.list_events(filters.parse(args))
        return [item["id"] for item in items]

    def bare(start, end, agents, severities):
        return [row[0] for row in baselines.page(target.bare, target.dialect, target.stamp(start), target.stamp(end),
                                                 agents, severities)]

    rng = random.Random(seed)
    cases = []
    for _ in range(runs):
        start, end = target.window(rng, 7)
        cases.append((start, end, rng.sample(target.agents, 5), rng.sample(SEVERITIES, 2)))
    for case in cases[:10]:  # warm the caches; not counted
        ours(*case), bare(*case)
    mine, theirs, results = _paired(cases, ours, bare, "page")
    return {"ours": mine, "bare": theirs, "rows": sum(len(r) for r in results) / len(cases)}


# -- b. a 90-day timeline ------------------------------------------------------------------------
def measure_timeline(target, runs, seed):
    from app.ledger import filters, timeline

    def ours(start, end):
        query = filters.parse(MultiDict([("from", _iso(start)), ("to", _iso(end))]))
        result = timeline.build(query, bucket="auto")
        return result["bucket"], sum(b["count"] for lane in result["lanes"] for b in lane.get("buckets", ()))

    def bare(start, end):
        return "day", sum(row[3] for row in baselines.timeline(target.bare, target.dialect, target.stamp(start),
                                                               target.stamp(end)))

    rng = random.Random(seed)
    cases = [target.window(rng, 90) for _ in range(runs)]
    for case in cases[:2]:
        ours(*case), bare(*case)
    mine, theirs, results = _paired(cases, ours, bare, "timeline")
    return {"ours": mine, "bare": theirs, "rows": sum(r[1] for r in results) / len(cases)}


# -- c. CSV export -------------------------------------------------------------------------------
def export_function():
    """app.ledger.csv_exchange's streaming export, or None while it does not exist."""
    try:
        from app.ledger import csv_exchange
    except ImportError:
        return None
    if not hasattr(csv_exchange, "export_rows") or not hasattr(csv_exchange, "export_filters"):
        return None

    def export(start, end):
        query = csv_exchange.export_filters(MultiDict([("from", _iso(start)), ("to", _iso(end))]))
        lines = size = 0
        for chunk in csv_exchange.export_rows(query):
            size += len(chunk)
            lines += chunk.count("\n")  # one per row: the generated ledger has no line breaks inside cells
        return lines - 1, size

    return export


def measure_export(target, runs, seed, days=30):
    export = export_function()
    if export is None:
        return None

    def bare(start, end):
        return baselines.export(target.bare, target.dialect, target.stamp(start), target.stamp(end))

    rng = random.Random(seed)
    cases = [target.window(rng, days) for _ in range(runs)]
    bare(*cases[0])  # warm
    mine, theirs, rows = [], [], []
    for number, case in enumerate(cases):
        expected = count_events(target, *case)
        pair = ((export, mine), (bare, theirs)) if number % 2 else ((bare, theirs), (export, mine))
        for function, samples in pair:
            elapsed, (written, _) = _timed(function, *case)
            if written != expected:
                raise AssertionError("export %r: %d rows written, %d events match" % (case, written, expected))
            samples.append(expected / elapsed)
        rows.append(expected)
    return {"ours": mine, "bare": theirs, "rows": statistics.mean(rows), "memory": _export_memory(target, export)}


def count_events(target, start, end):
    cur = target.bare.cursor()
    mark = target.dialect.mark
    cur.execute("SELECT count(*) FROM event WHERE occurred_at >= %s AND occurred_at < %s" % (mark, mark),
                (target.stamp(start), target.stamp(end)))
    (count,) = cur.fetchone()
    cur.close()
    return count


def _export_memory(target, export):
    """[(rows, tracemalloc peak)] of exporting the newest 10k and the newest 100k events (fewer on a small ledger)."""
    peaks = []
    end = target.last + timedelta(seconds=1)
    for wanted in (10_000, 100_000):
        wanted = min(wanted, target.events)
        cur = target.bare.cursor()
        cur.execute("SELECT occurred_at FROM event ORDER BY occurred_at DESC LIMIT 1 OFFSET %d" % (wanted - 1))
        start = _aware(cur.fetchone()[0])
        cur.close()
        gc.collect()
        tracemalloc.start()
        try:
            rows, _ = export(start, end)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        peaks.append((rows, peak))
    return peaks


# -- the run -------------------------------------------------------------------------------------
def run(target, args):
    results = {"events": target.events}
    log.info("%s: a. filtered page x %d", target.kind, args.page_runs)
    results["page"] = measure_page(target, args.page_runs, args.seed + 1)
    log.info("%s: b. 90-day timeline x %d", target.kind, args.timeline_runs)
    results["timeline"] = measure_timeline(target, args.timeline_runs, args.seed + 2)
    log.info("%s: c. CSV export x %d, then memory at 10k/100k rows", target.kind, args.export_runs)
    results["export"] = measure_export(target, args.export_runs, args.seed + 3)
    return results


def explain(target, args):
    from bench import plans

    print(plans.explain(target, _iso))


def table(all_results):
    """The report: one row per measurement and database."""
    rows = [("measurement", "db", "ours median", "ours p95|worst", "bare median", "bare p95|worst", "ours/bare",
             "target", "")]
    for kind, r in all_results.items():
        page, tl, ex = r["page"], r["timeline"], r["export"]
        pm, pp = _ms(statistics.median(page["ours"])), _ms(p95(page["ours"]))
        bm, bp = _ms(statistics.median(page["bare"])), _ms(p95(page["bare"]))
        rows.append(("a. page: 7 d, 5 agents, 2 sev, 50 (%.0f rows)" % page["rows"], kind, "%.2f ms" % pm,
                     "%.2f ms" % pp, "%.2f ms" % bm, "%.2f ms" % bp, "%.1fx" % (pm / bm),
                     "p95 <= %.0f ms, <= %.0fx" % (PAGE_P95_MS, PAGE_RATIO) if kind == "sqlite" else "",
                     runs.verdict(pp <= PAGE_P95_MS and pm / bm <= PAGE_RATIO) if kind == "sqlite" else ""))
        tm, tp = _ms(statistics.median(tl["ours"])), _ms(p95(tl["ours"]))
        bm, bp = _ms(statistics.median(tl["bare"])), _ms(p95(tl["bare"]))
        rows.append(("b. timeline: 90 d, bucket=auto (day)", kind, "%.0f ms" % tm, "%.0f ms" % tp, "%.0f ms" % bm,
                     "%.0f ms" % bp, "%.1fx" % (tm / bm),
                     "median <= %.0f ms" % TIMELINE_MEDIAN_MS if kind == "sqlite" else "",
                     runs.verdict(tm <= TIMELINE_MEDIAN_MS) if kind == "sqlite" else ""))
        if ex is None:
            rows.append(("c. CSV export", kind, "GAP: app.ledger.csv_exchange.export_rows not found", "", "", "", "",
                         "", "MISSED"))
            continue
        em, bm = statistics.median(ex["ours"]), statistics.median(ex["bare"])
        rows.append(("c. CSV export: 30 d (%.0f rows), rows/s" % ex["rows"], kind, "%.0f" % em,
                     "(min %.0f)" % min(ex["ours"]), "%.0f" % bm, "(min %.0f)" % min(ex["bare"]),
                     "%.0f%%" % (100 * em / bm), ">= %.0f%%" % (100 * EXPORT_RATE_SHARE),
                     runs.verdict(em / bm >= EXPORT_RATE_SHARE)))
        (small_rows, small), (large_rows, large) = ex["memory"]
        rows.append(("c. export memory peak: %dk vs %dk rows" % (small_rows // 1000, large_rows // 1000), kind,
                     "%dk: %.1f MiB" % (small_rows // 1000, small / 2**20),
                     "%dk: %.1f MiB" % (large_rows // 1000, large / 2**20), "", "", "%.2fx" % (large / small),
                     "<= %.1fx" % EXPORT_MEMORY_GROWTH, runs.verdict(large / small <= EXPORT_MEMORY_GROWTH)))
    if "sqlite" in all_results and "postgresql" in all_results:
        s, p = all_results["sqlite"], all_results["postgresql"]
        pairs = [("d. page p95, postgresql/sqlite", p95(p["page"]["ours"]) / p95(s["page"]["ours"])),
                 ("d. timeline median, postgresql/sqlite",
                  statistics.median(p["timeline"]["ours"]) / statistics.median(s["timeline"]["ours"]))]
        if s["export"] and p["export"]:
            pairs.append(("d. export rows/s, sqlite/postgresql",
                          statistics.median(s["export"]["ours"]) / statistics.median(p["export"]["ours"])))
        for name, ratio in pairs:
            rows.append((name, "both", "", "", "", "", "%.2fx" % ratio, "<= %.0fx" % POSTGRES_FACTOR,
                         runs.verdict(ratio <= POSTGRES_FACTOR)))
    return runs.text_table(rows)


def ledger_arguments(parser):
    """The options that choose the generated ledger, shared by the harnesses that use it."""
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the ledger (default 1,000,000)")
    parser.add_argument("--agents", type=int, default=500, help="agents in the fleet (default 500)")
    parser.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    parser.add_argument("--seed", type=int, default=4, help="seed of the data and of the random windows")
    return parser


def parse_args(argv):
    parser = ledger_arguments(argparse.ArgumentParser(prog="python -m bench.ledger",
                                                      description=__doc__.split("\n\n")[0]))
    parser.add_argument("--database", action="append", metavar="URL",
                        help="'sqlite' (the cached file, default) or a postgresql:// URL of a server on which a "
                             "throw-away database is created and dropped; repeat to run both into one table")
    parser.add_argument("--page-runs", type=int, default=200)
    parser.add_argument("--timeline-runs", type=int, default=20)
    parser.add_argument("--export-runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached SQLite ledger")
    parser.add_argument("--explain", action="store_true",
                        help="print the plans of the statements the service runs for a. b. c. instead of measuring")
    parser.add_argument("--json", metavar="PATH", help="also write the raw samples as JSON")
    args = parser.parse_args(argv)
    args.database = runs.databases(parser, args.database)
    return args


def main(argv=None):
    args = parse_args(argv)
    runs.log_progress()
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    path = dataset.sqlite_ledger(args.events, args.agents, args.days, args.seed, rebuild=args.rebuild)
    all_results = {}
    measure = explain if args.explain else run
    for url in args.database:
        if url == "sqlite":
            with Target("sqlite", "sqlite:///%s" % path) as target:
                all_results["sqlite"] = measure(target, args)
            continue
        url, drop = dataset.postgres_ledger(url, path)
        try:
            with Target("postgresql", url) as target:
                all_results["postgresql"] = measure(target, args)
        finally:
            drop()
    if args.explain:
        return 0
    report = table(all_results)
    # The machine is shared: say how busy it was, next to the figures.
    print("\n%d events, %d agents, %d days; %s; %d CPUs, load average %.1f at start, %.1f at end\n"
          % (args.events, args.agents, args.days, datetime.now().strftime("%Y-%m-%d %H:%M"), os.cpu_count() or 0,
             load_before, os.getloadavg()[0]))
    print(report)
    print("\nwall time %.0f s" % (time.perf_counter() - started))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(all_results, out, indent=1, default=str)
    missed = "MISSED" in report
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
