"""Indexes for the timeline's intervals (outages, maintenance and other events with an end): only those rows.

event_interval: events with an ended_at, by occurred_at — the intervals overlapping a range are a short scan of
it instead of every event of the range and the lookback before it. event_open_interval: outages and maintenance
without an end (still going on), by occurred_at. Both are partial indexes (SQLite and PostgreSQL alike), so they
hold a few percent of the events. Never edit; add a new migration.
"""
from peewee import PostgresqlDatabase

INDEXES = (
    ("event_interval", "ended_at IS NOT NULL"),
    ("event_open_interval", "ended_at IS NULL AND type IN ('outage', 'maintenance')"),
)


def up(migrator, db):
    for name, condition in INDEXES:
        db.execute_sql('CREATE INDEX "%s" ON "event" ("occurred_at") WHERE %s' % (name, condition))
    # Statistics for the new indexes, so the planners prefer them to the broader type index: on SQLite the indexes
    # alone (small); PostgreSQL samples the table.
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('ANALYZE "event"')
    else:
        for name, _ in INDEXES:
            db.execute_sql('ANALYZE "%s"' % name)


def down(migrator, db):
    for name, _ in INDEXES:
        db.execute_sql('DROP INDEX "%s"' % name)
