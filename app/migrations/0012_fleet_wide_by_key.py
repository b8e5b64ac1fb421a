"""PostgreSQL: the trigger that clears event.fleet_wide (0006) finds the event by its primary key.

Its ``UPDATE event SET fleet_wide = FALSE WHERE id = NEW.event_id AND fleet_wide`` let the planner pick the partial
index event_fleet_wide (``WHERE fleet_wide``) when the statistics say it is small, and read all of it filtering on
the id. A CSV import adds to that index every fleet-wide event it records, all in one transaction, so each of its
links read every fleet-wide event imported before it: a 100,000-row import into a ledger analysed with a few
thousand events spent 8 s per 1,000 links at the 45,000th event (bench.record). The flag is now read by the key and
the UPDATE names only the key. SQLite is unaffected (its triggers address rows by rowid). Never edit; add a new
migration.
"""
from peewee import PostgresqlDatabase

FUNCTION = """CREATE OR REPLACE FUNCTION event_fleet_wide() RETURNS trigger LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF (SELECT fleet_wide FROM event WHERE id = NEW.event_id) THEN
                UPDATE event SET fleet_wide = FALSE WHERE id = NEW.event_id;
            END IF;
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

# 0006's function, with 0011's setting.
PREVIOUS = """CREATE OR REPLACE FUNCTION event_fleet_wide() RETURNS trigger LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE event SET fleet_wide = FALSE WHERE id = NEW.event_id AND fleet_wide;
            RETURN NEW;
        END IF;
        IF pg_trigger_depth() = 1 THEN
            UPDATE event SET fleet_wide = TRUE WHERE id = OLD.event_id AND NOT fleet_wide
                AND NOT EXISTS (SELECT 1 FROM event_agent WHERE event_id = OLD.event_id);
        END IF;
        RETURN OLD;
    END
    $$"""


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(FUNCTION)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(PREVIOUS)
