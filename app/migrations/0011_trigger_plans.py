"""PostgreSQL: the triggers that keep the timeline's counts (0005) and event.fleet_wide (0006) plan their look-ups
on every call.

PL/pgSQL keeps a generic plan of each statement of a function for the session after a few calls. The first links of
a transaction were planned while event and event_agent were small, as a scan of the whole table, and that plan
stayed while a big import grew them inside the same transaction: each link read every link inserted before it. A
20,000-row CSV import spent 29 s in its event_agent INSERTs, and a 50,000-row one more than 5 minutes (CI's test of
an import beside writers timed out). With plan_cache_mode = force_custom_plan the look-ups are planned for the
table as it is at each call, by its index: 4.5 s for the same 20,000 rows, 1.4 s without the trigger at all.
SQLite is unaffected (its triggers address rows by rowid). Never edit; add a new migration.
"""
from peewee import PostgresqlDatabase

FUNCTIONS = ("timeline_count_event()", "timeline_count_link()", "event_fleet_wide()")


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        for function in FUNCTIONS:
            db.execute_sql("ALTER FUNCTION %s SET plan_cache_mode = force_custom_plan" % function)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        for function in FUNCTIONS:
            db.execute_sql("ALTER FUNCTION %s RESET plan_cache_mode" % function)
