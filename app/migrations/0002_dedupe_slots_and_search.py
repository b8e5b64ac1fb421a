"""De-duplication slots (race-safe folding of repeats) and full-text search over events.

dedupe_slot: one row per dedupe key or machine fingerprint, locked while an ingest decides
whether to fold a repeat into the event it points at, so concurrent posts never make two events.

Search: SQLite gets an FTS5 table kept in step with `event` by triggers; PostgreSQL a GIN index
on the same to_tsvector('simple', ...) expression the query uses. Never edit; add a new migration.
"""
from peewee import CharField, DateTimeField, ForeignKeyField, Model, PostgresqlDatabase

# Punctuation becomes spaces first, so "linux-07" is the words linux and 07 (as in SQLite's FTS5),
# not PostgreSQL's 'linux' and the signed number '-07'.
PG_SEARCH_INDEX = (
    "CREATE INDEX event_search ON event USING GIN (to_tsvector('simple', regexp_replace("
    "coalesce(title, '') || ' ' || coalesce(description, '') || ' ' || coalesce(metadata, ''), "
    "'[^[:alnum:]_]+', ' ', 'g')))"
)
SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE event_fts USING fts5(title, description, metadata, content='event', content_rowid='id')",
    "INSERT INTO event_fts(rowid, title, description, metadata) SELECT id, title, description, metadata FROM event",
    """CREATE TRIGGER event_fts_insert AFTER INSERT ON event BEGIN
        INSERT INTO event_fts(rowid, title, description, metadata) VALUES (new.id, new.title, new.description, new.metadata);
    END""",
    """CREATE TRIGGER event_fts_delete AFTER DELETE ON event BEGIN
        INSERT INTO event_fts(event_fts, rowid, title, description, metadata)
        VALUES ('delete', old.id, old.title, old.description, old.metadata);
    END""",
    """CREATE TRIGGER event_fts_update AFTER UPDATE OF title, description, metadata ON event BEGIN
        INSERT INTO event_fts(event_fts, rowid, title, description, metadata)
        VALUES ('delete', old.id, old.title, old.description, old.metadata);
        INSERT INTO event_fts(rowid, title, description, metadata) VALUES (new.id, new.title, new.description, new.metadata);
    END""",
]


def up(migrator, db):
    class Event(Model):
        class Meta:
            database = db
            table_name = 'event'

    class DedupeSlot(Model):
        key = CharField(primary_key=True, max_length=300)
        event = ForeignKeyField(Event, null=True, on_delete='SET NULL')
        last_seen = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'dedupe_slot'
    db.create_tables([DedupeSlot])

    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(PG_SEARCH_INDEX)
    else:
        for statement in SQLITE_SEARCH:
            db.execute_sql(statement)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("DROP INDEX IF EXISTS event_search")
    else:
        for name in ("event_fts_insert", "event_fts_delete", "event_fts_update"):
            db.execute_sql("DROP TRIGGER IF EXISTS %s" % name)
        db.execute_sql("DROP TABLE IF EXISTS event_fts")
    migrator.migrate(migrator.drop_table('dedupe_slot'))
