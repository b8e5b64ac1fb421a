"""The unplanned and fleet-wide flags of events, and the indexes the suspects of a failed build read (issue 13).

event.unplanned: a change a poller or a webhook detected with no intent recorded before it, set when such a change
is recorded (app.ledger.unplanned) and cleared when an intent for it is recorded later. A partial index on
occurred_at holds only the flagged events, so `planned=false` pages and the /metrics count read those few rows,
never the whole ledger.

event.fleet_wide: the event names no agent. New events start fleet-wide; triggers on event_agent keep the flag
whatever writes the links (the one ingest function, edits, catalogue unlinks, deletions): the first link clears
it, removing the last one sets it again (on PostgreSQL too, where AFTER row triggers run at the end of the
statement: the flag only depends on whether a link is left).

Partial indexes for the suspects of a failed build (app.correlation.suspects), so they read a few index entries,
never the events in between: event_fleet_wide, the events naming no agent, covering what their ranking reads;
event_intervals, the intervals (events with an end, and outages and maintenance with none recorded yet) by
(occurred_at, ended_at), for "which were going on at t"; event_rollbacks, the rollbacks by (occurred_at,
reverts_id), for "what was reverted before t".

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


SQLITE_TRIGGERS = {
    "event_fleet_wide_link_insert": "AFTER INSERT ON event_agent BEGIN "
                                    "UPDATE event SET fleet_wide = FALSE WHERE id = NEW.event_id AND fleet_wide; END",
    "event_fleet_wide_link_delete": "AFTER DELETE ON event_agent BEGIN "
                                    "UPDATE event SET fleet_wide = TRUE WHERE id = OLD.event_id AND NOT fleet_wide "
                                    "AND NOT EXISTS (SELECT 1 FROM event_agent WHERE event_id = OLD.event_id); END",
}
POSTGRES_FUNCTION = """CREATE FUNCTION event_fleet_wide() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE event SET fleet_wide = FALSE WHERE id = NEW.event_id AND fleet_wide;
            RETURN NEW;
        END IF;
        -- Links removed by another trigger (timeline_count_event_unlink, as the event itself goes) or a cascade:
        -- the event is being deleted, and updating it now would make PostgreSQL refuse the deletion.
        IF pg_trigger_depth() = 1 THEN
            UPDATE event SET fleet_wide = TRUE WHERE id = OLD.event_id AND NOT fleet_wide
                AND NOT EXISTS (SELECT 1 FROM event_agent WHERE event_id = OLD.event_id);
        END IF;
        RETURN OLD;
    END
    $$"""
POSTGRES_TRIGGER = ("CREATE TRIGGER event_fleet_wide_link AFTER INSERT OR DELETE ON event_agent "
                    "FOR EACH ROW EXECUTE FUNCTION event_fleet_wide()")


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("event", "unplanned", BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")]),
                            allow_not_null=True),
        migrator.add_column("event", "fleet_wide", BooleanField(default=True, constraints=[SQL("DEFAULT TRUE")]),
                            allow_not_null=True),
    )
    db.execute_sql(_backfill_sql(db))
    db.execute_sql("UPDATE event SET fleet_wide = FALSE WHERE EXISTS (SELECT 1 FROM event_agent WHERE event_id = "
                   "event.id)")
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(POSTGRES_FUNCTION)
        db.execute_sql(POSTGRES_TRIGGER)
    else:
        for name, definition in SQLITE_TRIGGERS.items():
            db.execute_sql("CREATE TRIGGER %s %s" % (name, definition))
    migrator.migrate(
        migrator.add_index("event", ("occurred_at", "type", "severity", "ended_at", "unplanned"), False,
                           where=SQL("fleet_wide"), name="event_fleet_wide"),
        migrator.add_index("event", ("occurred_at",), False, where=SQL("unplanned"),
                           name="event_unplanned_occurred_at"),
        migrator.add_index("event", ("occurred_at", "ended_at"), False, where=SQL(INTERVALS), name="event_intervals"),
        migrator.add_index("event", ("occurred_at", "reverts_id"), False, where=SQL("reverts_id IS NOT NULL"),
                           name="event_rollbacks"),
    )


def down(migrator, db):
    for name in ("event_rollbacks", "event_intervals", "event_fleet_wide", "event_unplanned_occurred_at"):
        migrator.migrate(migrator.drop_index("event", name))
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("DROP TRIGGER IF EXISTS event_fleet_wide_link ON event_agent")
        db.execute_sql("DROP FUNCTION IF EXISTS event_fleet_wide()")
    else:
        for name in SQLITE_TRIGGERS:
            db.execute_sql("DROP TRIGGER IF EXISTS %s" % name)
    migrator.migrate(migrator.drop_column("event", "fleet_wide"))
    migrator.migrate(migrator.drop_column("event", "unplanned"))
