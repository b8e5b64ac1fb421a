"""Where we bypass a library (docs/layout.md: "Where we bypass a library, and why"), each against the library's own path.

    .venv/bin/python -m bench.bypasses              # 7 rounds per contender, alternating
    .venv/bin/python -m bench.bypasses --rounds 3

In-process and single-threaded on a throw-away SQLite database, both sides of a pair in the same run, rounds
alternating, so the machine's drift hits both: read the ratio of the medians (library time / bypass time; above 1
means the bypass pays). The receivers' own app is measured over HTTP by ``make bench-ingest`` instead. Two
bypasses measured here were dropped for lack of a figure (bench/README.md, "Bypasses").

a. bulk INSERT: 2,000 audit rows in chunks of 500 through ``dialect.insert_rows`` and ``Model.insert_many``;
b. one INSERT: an inbox row through ``dialect.insert_row`` (the receivers' hot path) and ``Model.insert``;
c. a statement rendered once: the bearer token lookup of every API request (``tokens._by_prefix``, its text from
   ``dialect.statement``) and the same query built and run through peewee's ``select().join().first()``;
d. IN (subquery): rendering a page's query (7 days, 5 agents, 2 severities) with ``filters._in`` and with
   peewee's ``in_``, which renders each subquery once more per level of nesting to check it is not empty;
e. a page's columns as text: rendering that query's SELECT of the event's columns and its link names through
   peewee and taking them over as the text rendered once (``events.list_events``).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(function, repeat):
    """Microseconds per call of ``function`` over ``repeat`` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat * 1e6


def alternate(pairs, rounds):
    """{name: (library medians, bypass medians)}: each round runs every contender's two sides back to back."""
    samples = {name: ([], []) for name, _, _, _ in pairs}
    for round_number in range(rounds + 1):  # round 0 warms up and is not counted
        for name, library, bypass, repeat in pairs:
            first, second = (library, bypass) if round_number % 2 else (bypass, library)
            a, b = timed(first, repeat), timed(second, repeat)
            if round_number:
                lib, byp = (a, b) if first is library else (b, a)
                samples[name][0].append(lib)
                samples[name][1].append(byp)
    return samples


def build(directory):
    """The service's app on a fresh, migrated SQLite file in ``directory``."""
    os.environ.setdefault("CHANGETRACKER_ENV", "test")
    from app import create_app, migrations
    from app.db import open_database
    from app.ingest import sources

    url = "sqlite:///%s" % os.path.join(directory, "bench.db")
    db = open_database(url)
    migrations.upgrade(db)
    db.close()
    app = create_app({"ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key"})
    with app.app_context():  # the inbox rows name a source
        sources.create_source({"name": "ci", "kind": "jenkins", "secret": "bench-webhook-secret-0123456789",
                               "mapping": {"jobs": [{"pattern": "*"}]}}, sources.cipher(app.config["SECRET_KEY"]))
    return app


def insert_pairs(app):
    from app import dialect
    from app.accounts import audit
    from app.db import database, utcnow
    from app.models import AuditEntry, InboxItem

    actor = audit.Actor("bench")
    rows = [audit.entry(actor, "import", "event", n, after={"title": "event %d" % n, "agents": ["linux-01"]},
                        at=utcnow()) for n in range(2000)]

    def bulk(insert):
        def call():
            with app.app_context():
                database.connect(reuse_if_open=True)
                with database.atomic():
                    for start in range(0, len(rows), 500):
                        insert(rows[start:start + 500])
                database.close()
        return call

    now = utcnow()
    fields = InboxItem._meta.fields
    values = (1, "ci", "jenkins", fields["received_at"].db_value(now), "{}", b"{}", "0" * 64, "pending", 0,
              fields["next_attempt_at"].db_value(now), "[]")
    columns = ("source_id", "source_name", "kind", "received_at", "headers", "body", "body_sha256", "state",
               "attempts", "next_attempt_at", "event_ids")
    model_values = dict(zip(("source", "source_name", "kind", "received_at", "headers", "body", "body_sha256",
                             "state", "attempts", "next_attempt_at", "event_ids"),
                            (1, "ci", "jenkins", now, {}, b"{}", "0" * 64, "pending", 0, now, [])))
    context = app.app_context()
    context.push()
    database.connect(reuse_if_open=True)
    one_library = lambda: InboxItem.insert(**model_values).execute()  # noqa: E731
    one_bypass = lambda: dialect.insert_row("inbox_item", columns, values)  # noqa: E731
    return ((bulk(lambda chunk: AuditEntry.insert_many(chunk).execute()), bulk(lambda chunk: dialect.insert_rows(
        AuditEntry, chunk))), (one_library, one_bypass), context)


def statement_pairs(app):
    """c., d. and e.: (library, bypass) callables, run in the app context ``insert_pairs`` pushed."""
    from peewee import SQL
    from werkzeug.datastructures import MultiDict

    from app import dialect
    from app.accounts import tokens, users
    from app.ledger import events, filters
    from app.models import ApiToken, Event, User

    user = users.create_user({"username": "bench", "role": "editor", "password": "correct horse battery"})
    _, secret = tokens.create_token(user, {"name": "bench", "scopes": ["write"]})
    prefix = tokens._prefix_of(secret)
    lookup = ((lambda: ApiToken.select(ApiToken, User).join(User).where(ApiToken.prefix == prefix).first()),
              (lambda: tokens._by_prefix(prefix)))
    query = filters.parse(MultiDict([("from", "2025-07-28T14:02:03Z"), ("to", "2025-08-04T14:02:03Z"),
                                     ("limit", "50"), ("severity", "info"), ("severity", "high")]
                                    + [("agent", "linux-%03d" % n) for n in range(5)]))
    ours_in = filters._in

    def peewee_in():
        filters._in = lambda column, values: column.in_(values)
        try:
            return filters.ordered(query).limit(51).select(Event.id).sql()
        finally:
            filters._in = ours_in

    columns = dialect.statement(events._events_by_id, None)[len(events._COLUMNS_BEFORE):-len(events._COLUMNS_AFTER)]
    rendered = (lambda: filters.ordered(query).limit(51).select(*events._READ_FIELDS, events._names()).sql(),
                lambda: filters.ordered(query).limit(51).select(SQL(columns)).sql())
    return lookup, (peewee_in, lambda: filters.ordered(query).limit(51).select(Event.id).sql()), rendered


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bypasses", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="counted rounds per contender, after one warm-up")
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="ct-bypasses-")
    try:
        app = build(directory)
        bulk, one, context = insert_pairs(app)
        lookup, in_subquery, columns = statement_pairs(app)
        pairs = [
            ("a. bulk INSERT, 2,000 audit rows", *bulk, 3),
            ("b. one INSERT, an inbox row (autocommit)", *one, 400),
            ("c. the token lookup of an API request", *lookup, 400),
            ("d. rendering a page's query: IN (subquery)", *in_subquery, 200),
            ("e. rendering a page's query: its columns and names", *columns, 200),
        ]
        samples = alternate(pairs, args.rounds)
        context.pop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print("| bypass | library µs | bypass µs | library / bypass |")
    print("| --- | --- | --- | --- |")
    for name, (library, bypass) in samples.items():
        lib, byp = statistics.median(library), statistics.median(bypass)
        print("| %s | %.1f | %.1f | %.2f |" % (name, lib, byp, lib / byp))
    print("\nmedians of %d rounds; Python %s; %s" % (args.rounds, sys.version.split()[0], time.strftime("%Y-%m-%d %H:%M")))


if __name__ == "__main__":
    main()
