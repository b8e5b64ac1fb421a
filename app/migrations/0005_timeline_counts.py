"""Per-day event counts for the timeline's buckets, kept by the database itself; an index on build_url.

timeline_count holds, per UTC day, lane and severity, how many events fall there. A lane is an agent's
id, or 0 for the fleet lane (events that name no agent); an event naming three agents counts once in
each of their lanes, as the timeline draws it. A 90-day timeline then reads ~80k ready counts instead
of grouping ~175k (event, agent) rows (bench/README.md).

Triggers keep it right whatever writes the events (the one ingest function, edits, deletes, catalogue
unlinks, retention, bulk loads), in the same transaction as the write (on PostgreSQL as deltas: see
POSTGRES_FUNCTIONS):
- a new event counts in the fleet lane; its first agent link moves it to that agent's lane, every
  further link adds a lane, and removing the last link puts it back in the fleet lane;
- changing an event's day or severity moves all its lanes;
- deleting an event first removes its links (so the link triggers see the event), then its fleet count.
Zero counts stay as rows (readers skip them): cheaper than deleting and re-inserting hot rows.

Never edit; add a new migration.
"""
from peewee import BigAutoField, CharField, CompositeKey, DateField, IntegerField, Model, PostgresqlDatabase

SQLITE_DAY = "substr({at}, 1, 10)"
SQLITE_WEEK = "date({at}, 'weekday 0', '-6 days')"  # the Monday of the week, as the live query groups


def _sqlite_bump(at, lane, severity, n, source="", where="true"):
    """One counter change as an upsert (INSERT ... SELECT needs its WHERE before ON CONFLICT in SQLite)."""
    day, week = SQLITE_DAY.format(at=at), SQLITE_WEEK.format(at=at)
    return ("INSERT INTO timeline_count (day, week, lane, severity, n) SELECT %s, %s, %s, %s, %d %s WHERE %s "
            "ON CONFLICT (day, lane, severity) DO UPDATE SET n = n + excluded.n;"
            % (day, week, lane, severity, n, source, where))


def _sqlite_link_added(link):
    return (
        # The event's first agent takes it out of the fleet lane.
        _sqlite_bump("e.occurred_at", "0", "e.severity", -1, "FROM event e",
                     "e.id = {0}.event_id AND NOT EXISTS (SELECT 1 FROM event_agent l "
                     "WHERE l.event_id = {0}.event_id AND l.agent_id <> {0}.agent_id)".format(link))
        + _sqlite_bump("e.occurred_at", "%s.agent_id" % link, "e.severity", 1, "FROM event e",
                       "e.id = %s.event_id" % link))


def _sqlite_link_removed(link):
    return (
        _sqlite_bump("e.occurred_at", "%s.agent_id" % link, "e.severity", -1, "FROM event e",
                     "e.id = %s.event_id" % link)
        # Its last agent gone, the event is fleet-wide again.
        + _sqlite_bump("e.occurred_at", "0", "e.severity", 1, "FROM event e",
                       "e.id = {0}.event_id AND NOT EXISTS (SELECT 1 FROM event_agent l "
                       "WHERE l.event_id = {0}.event_id)".format(link)))


def _sqlite_lanes_moved():
    lanes, none = "FROM event_agent l", "NOT EXISTS (SELECT 1 FROM event_agent l WHERE l.event_id = NEW.id)"
    return (_sqlite_bump("OLD.occurred_at", "l.agent_id", "OLD.severity", -1, lanes, "l.event_id = NEW.id")
            + _sqlite_bump("NEW.occurred_at", "l.agent_id", "NEW.severity", 1, lanes, "l.event_id = NEW.id")
            + _sqlite_bump("OLD.occurred_at", "0", "OLD.severity", -1, where=none)
            + _sqlite_bump("NEW.occurred_at", "0", "NEW.severity", 1, where=none))


SQLITE_TRIGGERS = {
    "timeline_count_event_insert": "AFTER INSERT ON event BEGIN %s END"
                                   % _sqlite_bump("NEW.occurred_at", "0", "NEW.severity", 1),
    "timeline_count_event_update": "AFTER UPDATE OF occurred_at, severity ON event WHEN "
                                   "substr(OLD.occurred_at, 1, 10) <> substr(NEW.occurred_at, 1, 10) "
                                   "OR OLD.severity <> NEW.severity BEGIN %s END" % _sqlite_lanes_moved(),
    "timeline_count_event_unlink": "BEFORE DELETE ON event BEGIN DELETE FROM event_agent WHERE event_id = OLD.id; END",
    "timeline_count_event_delete": "AFTER DELETE ON event BEGIN %s END"
                                   % _sqlite_bump("OLD.occurred_at", "0", "OLD.severity", -1),
    "timeline_count_link_insert": "AFTER INSERT ON event_agent BEGIN %s END" % _sqlite_link_added("NEW"),
    "timeline_count_link_delete": "AFTER DELETE ON event_agent BEGIN %s END" % _sqlite_link_removed("OLD"),
    # A link changing agent moves one lane; links never move between events (delete and insert instead).
    "timeline_count_link_update": "AFTER UPDATE OF event_id, agent_id ON event_agent BEGIN "
                                  "SELECT RAISE(ABORT, 'event_agent.event_id cannot change') "
                                  "WHERE OLD.event_id <> NEW.event_id; %s%s END"
                                  % (_sqlite_bump("e.occurred_at", "OLD.agent_id", "e.severity", -1, "FROM event e",
                                                  "e.id = OLD.event_id"),
                                     _sqlite_bump("e.occurred_at", "NEW.agent_id", "e.severity", 1, "FROM event e",
                                                  "e.id = NEW.event_id")),
}

# PostgreSQL: the same rules as plpgsql trigger functions, but a change is appended to timeline_count_delta
# instead of updating its counter in place. Writers run concurrently there, and every event of a day and
# severity would otherwise queue on one fleet-lane row until its transaction commits (and two inbox batches
# taking such rows in different orders would deadlock). Readers add the deltas; the worker folds them into
# timeline_count in one ordered statement (FOLD).
POSTGRES_FUNCTIONS = [
    """CREATE FUNCTION timeline_count_bump(at timestamp, lane integer, severity text, delta integer) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO timeline_count_delta (day, week, lane, severity, n)
        VALUES (at::date, date_trunc('week', at)::date, lane, severity, delta)
    $$""",
    """CREATE FUNCTION timeline_count_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM timeline_count_bump(NEW.occurred_at, 0, NEW.severity, 1);
        ELSIF TG_OP = 'UPDATE' THEN
            IF NEW.occurred_at::date <> OLD.occurred_at::date OR NEW.severity <> OLD.severity THEN
                IF EXISTS (SELECT 1 FROM event_agent WHERE event_id = NEW.id) THEN
                    PERFORM timeline_count_bump(OLD.occurred_at, l.agent_id, OLD.severity, -1),
                            timeline_count_bump(NEW.occurred_at, l.agent_id, NEW.severity, 1)
                    FROM (SELECT agent_id FROM event_agent WHERE event_id = NEW.id ORDER BY agent_id) l;
                ELSE
                    PERFORM timeline_count_bump(OLD.occurred_at, 0, OLD.severity, -1);
                    PERFORM timeline_count_bump(NEW.occurred_at, 0, NEW.severity, 1);
                END IF;
            END IF;
        ELSIF TG_WHEN = 'BEFORE' THEN
            DELETE FROM event_agent WHERE event_id = OLD.id;
            RETURN OLD;
        ELSE
            PERFORM timeline_count_bump(OLD.occurred_at, 0, OLD.severity, -1);
        END IF;
        RETURN NULL;
    END
    $$""",
    # BEFORE, not AFTER: PostgreSQL fires AFTER row triggers at the end of the statement, when every link
    # of a multi-row INSERT or DELETE is already in place or gone, so none could tell it was the first or
    # the last. A BEFORE trigger sees the rows the same statement handled before its own.
    """CREATE FUNCTION timeline_count_link() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        e record;
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            -- A link changing agent moves one lane; links never move between events.
            IF OLD.event_id <> NEW.event_id THEN
                RAISE EXCEPTION 'event_agent.event_id cannot change';
            END IF;
            SELECT occurred_at, severity INTO e FROM event WHERE id = NEW.event_id;
            PERFORM timeline_count_bump(e.occurred_at, OLD.agent_id, e.severity, -1);
            PERFORM timeline_count_bump(e.occurred_at, NEW.agent_id, e.severity, 1);
            RETURN NEW;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT occurred_at, severity INTO e FROM event WHERE id = OLD.event_id;
            IF FOUND THEN
                PERFORM timeline_count_bump(e.occurred_at, OLD.agent_id, e.severity, -1);
                IF NOT EXISTS (SELECT 1 FROM event_agent WHERE event_id = OLD.event_id AND agent_id <> OLD.agent_id) THEN
                    PERFORM timeline_count_bump(e.occurred_at, 0, e.severity, 1);
                END IF;
            END IF;
            RETURN OLD;
        END IF;
        SELECT occurred_at, severity INTO e FROM event WHERE id = NEW.event_id;
        IF NOT EXISTS (SELECT 1 FROM event_agent WHERE event_id = NEW.event_id) THEN
            PERFORM timeline_count_bump(e.occurred_at, 0, e.severity, -1);
        END IF;
        PERFORM timeline_count_bump(e.occurred_at, NEW.agent_id, e.severity, 1);
        RETURN NEW;
    END
    $$""",
]
POSTGRES_TRIGGERS = {
    "timeline_count_event_change": "AFTER INSERT OR UPDATE OF occurred_at, severity OR DELETE ON event "
                                   "FOR EACH ROW EXECUTE FUNCTION timeline_count_event()",
    "timeline_count_event_unlink": "BEFORE DELETE ON event FOR EACH ROW EXECUTE FUNCTION timeline_count_event()",
    "timeline_count_link_change": "BEFORE INSERT OR UPDATE OF event_id, agent_id OR DELETE ON event_agent "
                                  "FOR EACH ROW EXECUTE FUNCTION timeline_count_link()",
}
POSTGRES_TABLES = {"timeline_count_event_change": "event", "timeline_count_event_unlink": "event",
                   "timeline_count_link_change": "event_agent"}

# The counts of the events already there: the same rules, in one statement.
REBUILD = """INSERT INTO timeline_count (day, week, lane, severity, n)
    SELECT {day}, {week}, coalesce(l.agent_id, 0), e.severity, count(*)
    FROM event e LEFT JOIN event_agent l ON l.event_id = e.id
    GROUP BY 1, 2, 3, 4"""


# PostgreSQL: committed deltas into the counters. Locks are taken in key order, so two folds never deadlock;
# deltas a running transaction has not committed yet stay for the next fold.
FOLD = """WITH moved AS (DELETE FROM timeline_count_delta RETURNING day, week, lane, severity, n)
    INSERT INTO timeline_count (day, week, lane, severity, n)
    SELECT day, week, lane, severity, sum(n) FROM moved GROUP BY day, week, lane, severity ORDER BY day, lane, severity
    ON CONFLICT (day, lane, severity) DO UPDATE SET n = timeline_count.n + excluded.n"""


def rebuild_sql(db):
    if isinstance(db, PostgresqlDatabase):
        return REBUILD.format(day="e.occurred_at::date", week="date_trunc('week', e.occurred_at)::date")
    return REBUILD.format(day=SQLITE_DAY.format(at="e.occurred_at"), week=SQLITE_WEEK.format(at="e.occurred_at"))


def up(migrator, db):
    class TimelineCount(Model):
        day = DateField()
        week = DateField()
        lane = IntegerField()
        severity = CharField(max_length=16)
        n = IntegerField()

        class Meta:
            database = db
            table_name = 'timeline_count'
            primary_key = CompositeKey('day', 'lane', 'severity')
            indexes = ((('week', 'lane', 'severity'), False),)
            # SQLite: the rows live in the primary key's b-tree, so a range of days is one ordered scan.
            without_rowid = not isinstance(db, PostgresqlDatabase)

    class TimelineCountDelta(Model):  # written on PostgreSQL only
        id = BigAutoField()
        day = DateField()
        week = DateField()
        lane = IntegerField()
        severity = CharField(max_length=16)
        n = IntegerField()

        class Meta:
            database = db
            table_name = 'timeline_count_delta'
            indexes = ((('day', 'lane', 'severity'), False),)
    db.create_tables([TimelineCount, TimelineCountDelta])

    if isinstance(db, PostgresqlDatabase):
        for statement in POSTGRES_FUNCTIONS:
            db.execute_sql(statement)
        for name, definition in POSTGRES_TRIGGERS.items():
            db.execute_sql("CREATE TRIGGER %s %s" % (name, definition))
    else:
        for name, definition in SQLITE_TRIGGERS.items():
            db.execute_sql("CREATE TRIGGER %s %s" % (name, definition))
    db.execute_sql(rebuild_sql(db))

    migrator.migrate(migrator.add_index('event', ('build_url',), False))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('event', 'event_build_url'))
    if isinstance(db, PostgresqlDatabase):
        for name, table in POSTGRES_TABLES.items():
            db.execute_sql("DROP TRIGGER IF EXISTS %s ON %s" % (name, table))
        for function in ("timeline_count_event()", "timeline_count_link()",
                         "timeline_count_bump(timestamp, integer, text, integer)"):
            db.execute_sql("DROP FUNCTION IF EXISTS %s" % function)
    else:
        for name in SQLITE_TRIGGERS:
            db.execute_sql("DROP TRIGGER IF EXISTS %s" % name)
    db.execute_sql("DROP TABLE timeline_count_delta")
    db.execute_sql("DROP TABLE timeline_count")
