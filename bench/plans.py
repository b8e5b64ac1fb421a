"""The query plans of the statements the service really runs for each measured answer.

Every statement peewee sends while one page, one timeline and one export batch are produced is
captured from peewee's query log and explained on the same database: EXPLAIN QUERY PLAN on SQLite,
EXPLAIN (ANALYZE, COSTS OFF) on PostgreSQL (the statements are read-only SELECTs).
"""
import logging
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice

from werkzeug.datastructures import MultiDict


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements = []

    def emit(self, record):
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.statements.append(record.msg)


@contextmanager
def captured():
    logger = logging.getLogger("peewee")
    handler, level, propagate = _Capture(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def explain(target, iso):
    """Text: each distinct statement of a. b. c. with its plan."""
    from app.db import database
    from app.ledger import events, filters, timeline
    from bench.ledger import export_function

    middle = target.first + timedelta(days=(target.last - target.first).days // 2)
    agents = target.agents[:: max(1, len(target.agents) // 5)][:5]
    page_args = MultiDict([("from", iso(middle)), ("to", iso(middle + timedelta(days=7))), ("limit", "50")]
                          + [("agent", a) for a in agents] + [("severity", "info"), ("severity", "high")])
    span = MultiDict([("from", iso(middle - timedelta(days=90))), ("to", iso(middle))])
    export = export_function()
    work = [("a. page", lambda: events.list_events(filters.parse(page_args))),
            ("b. timeline", lambda: timeline.build(filters.parse(span), bucket="auto"))]
    if export is not None:
        from app.ledger import csv_exchange

        export_args = MultiDict([("from", iso(middle - timedelta(days=30))), ("to", iso(middle))])
        work.append(("c. export (first two batches)",
                     lambda: list(islice(csv_exchange.export_rows(csv_exchange.export_filters(export_args)), 3))))
    prefix = "EXPLAIN QUERY PLAN " if target.kind == "sqlite" else "EXPLAIN (ANALYZE, COSTS OFF) "
    out = []
    for name, run in work:
        with captured() as statements:
            run()
        out.append("== %s: %s, %d statements" % (target.kind, name, len(statements)))
        seen = set()
        for sql, params in statements:
            if sql in seen:
                continue
            seen.add(sql)
            shown = sql if len(sql) < 400 else sql[:250] + " ... " + sql[-140:]
            out.append("-- " + shown)
            for row in database.execute_sql(prefix + sql, params).fetchall():
                out.append("   " + (row[-1] if target.kind == "sqlite" else row[0]))
    return "\n".join(out)
