"""The unplanned flag of events, and the indexes the suspects of a failed build read (issue 13).

event.unplanned: a change a poller or a webhook detected with no intent recorded before it, set when such a change
is recorded (app.ledger.unplanned) and cleared when an intent for it is recorded later. A partial index on
occurred_at holds only the flagged events, so `planned=false` pages and the /metrics count read those few rows,
never the whole ledger.

Two partial indexes for the suspects of a failed build (app.correlation.suspects), so they read a few index
entries, never the events in between: event_intervals, the intervals (events with an end, and outages and
maintenance with none recorded yet) by (occurred_at, ended_at), for "which were going on at t"; event_rollbacks,
the rollbacks by (occurred_at, reverts_id), for "what was reverted before t".

Existing events are flagged by the same rule with the default window of 2 hours: a poller or webhook event,
other than a note or an outage, with no pipeline, manual or imported event on one of its agents, tools or
toolchains in the 2 hours before it (a copy of the rule as it was when this shipped).

Never edit; add a new migration.
"""
from peewee import SQL, BooleanField, PostgresqlDatabase

DETECTED = "('poller', 'webhook')"
INTENTS = "('pipeline', 'manual', 'import')"
NOT_CHANGES = "('note', 'outage')"
INTERVALS = "ended_at IS NOT NULL OR type IN ('outage', 'maintenance')"
LINKS = (("event_agent", "agent_id"), ("event_tool", "tool_id"), ("event_toolchain", "toolchain_id"))


def _backfill_sql(db):
    """One UPDATE flagging every detected change without an intent on a shared name in the 2 hours before it."""
    if isinstance(db, PostgresqlDatabase):
        earliest = "l.occurred_at - interval '2 hours'"
    else:
        earliest = "datetime(l.occurred_at, '-2 hours')"
    intent = ("EXISTS (SELECT 1 FROM {table} l JOIN {table} o ON o.{column} = l.{column} "
              "JOIN event i ON i.id = o.event_id WHERE l.event_id = event.id AND o.occurred_at >= %s "
              "AND o.occurred_at <= l.occurred_at AND i.source IN %s)" % (earliest, INTENTS))
    return ("UPDATE event SET unplanned = TRUE WHERE source IN %s AND type NOT IN %s AND NOT (%s)"
            % (DETECTED, NOT_CHANGES, " OR ".join(intent.format(table=t, column=c) for t, c in LINKS)))


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("event", "unplanned", BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")]),
                            allow_not_null=True),
    )
    db.execute_sql(_backfill_sql(db))
    migrator.migrate(
        migrator.add_index("event", ("occurred_at",), False, where=SQL("unplanned"),
                           name="event_unplanned_occurred_at"),
        migrator.add_index("event", ("occurred_at", "ended_at"), False, where=SQL(INTERVALS), name="event_intervals"),
        migrator.add_index("event", ("occurred_at", "reverts_id"), False, where=SQL("reverts_id IS NOT NULL"),
                           name="event_rollbacks"),
    )


def down(migrator, db):
    for name in ("event_rollbacks", "event_intervals", "event_unplanned_occurred_at"):
        migrator.migrate(migrator.drop_index("event", name))
    migrator.migrate(migrator.drop_column("event", "unplanned"))
