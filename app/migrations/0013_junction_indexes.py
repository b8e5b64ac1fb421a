"""Drop the link tables' single-column indexes that their other indexes already serve.

Each of event_agent, event_tool, event_toolchain and event_tag had, besides its primary key (event_id, <entity>_id)
and its (<entity>_id, occurred_at) index, an index on event_id alone and one on <entity>_id alone (peewee's default
for a foreign key). A lookup by event_id uses the primary key's leading column, one by <entity>_id (the timeline,
the catalogue pages, the foreign keys' RESTRICT check when an agent is deleted) the other index's, on SQLite and
PostgreSQL alike. The two extra indexes were written by every link and read by nothing: recording an event on 5
agents and 3 tools paid for 16 index entries more, each on its own page of the commit (bench.record row b.:
record_event ``wide`` 0.64 -> 0.46 ms). Never edit; add a new migration.
"""

# (table, index, column)
INDEXES = (
    ("event_agent", "eventagent_event_id", "event_id"),
    ("event_agent", "eventagent_agent_id", "agent_id"),
    ("event_tool", "eventtool_event_id", "event_id"),
    ("event_tool", "eventtool_tool_id", "tool_id"),
    ("event_toolchain", "eventtoolchain_event_id", "event_id"),
    ("event_toolchain", "eventtoolchain_toolchain_id", "toolchain_id"),
    ("event_tag", "eventtag_event_id", "event_id"),
    ("event_tag", "eventtag_tag_id", "tag_id"),
)


def up(migrator, db):
    for _, name, _ in INDEXES:
        db.execute_sql('DROP INDEX "%s"' % name)


def down(migrator, db):
    for table, name, column in INDEXES:
        db.execute_sql('CREATE INDEX "%s" ON "%s" ("%s")' % (name, table, column))
