"""The INSERTs that store new events: their rows, the catalogue names they introduce, their agent/tool/toolchain/
tag links, as a few multi-row statements per batch (app.dialect writes them), whatever
the batch's size: one event of a group commit or a 100,000-row import.

Links are inserted by name: the statement looks each name up in its catalogue, so an id can never be stale.
``NAMES_SEEN`` remembers, per process, names that were in a catalogue, so that recording an event on a known
agent does not first try to add it; when a remembered name has gone since (renamed, deleted), the link
statement inserts fewer rows than asked, and the missing names are added and linked then.
"""
import threading

from app import dialect
from app.db import chunks, to_db_time
from app.ledger import unplanned
from app.models import Agent, Event, EventAgent, EventTag, EventTool, EventToolchain, Tag, Tool, Toolchain

# (junction, catalogue, junction field name, event dict key)
LINKS = (
    (EventAgent, Agent, "agent", "agents"),
    (EventTool, Tool, "tool", "tools"),
    (EventToolchain, Toolchain, "toolchain", "toolchains"),
    (EventTag, Tag, "tag", "tags"),
)
LINK_KEYS = tuple(key for _, _, _, key in LINKS)
EVENT_COLUMNS = ("title", "description", "type", "severity", "source", "occurred_at", "ended_at", "changes", "links",
                 "build_url", "metadata", "dedupe_key", "count", "first_seen", "last_seen", "reverts_id",
                 "created_by", "created_at", "updated_at", "fleet_wide", "unplanned")
OCCURRED_AT = EVENT_COLUMNS.index("occurred_at")
UNPLANNED = EVENT_COLUMNS.index("unplanned")  # the last column
# Rows per statement, under SQLite's and PostgreSQL's bound-parameter limits.
EVENT_CHUNK = 500
LINK_CHUNK = 1000
_to_json = Event.changes.db_value  # app.db.JSONField: compact UTF-8 JSON text


class NamesSeen:
    """Names known to have been in each catalogue, per process: a hint that spares recording an INSERT per
    name, never trusted for ids (see the module's docstring). Bounded: past ``limit`` names a kind starts
    again."""

    def __init__(self, limit=100_000):
        self.limit = limit
        self._names = {catalogue: set() for _, catalogue, _, _ in LINKS}
        self._lock = threading.Lock()

    def unknown(self, catalogue, names):
        known = self._names[catalogue]
        return [name for name in names if name not in known]

    def add(self, catalogue, names):
        with self._lock:
            known = self._names[catalogue]
            if len(known) + len(names) > self.limit:
                known.clear()
            known.update(names)

    def forget(self, catalogue):
        with self._lock:
            self._names[catalogue].clear()


NAMES_SEEN = NamesSeen()


def unique(names):
    """``names`` stripped, without blanks and repeats, in their first order."""
    seen = {}
    for name in names:
        name = name.strip()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def event_values(data, names, actor, now):
    """The database values of a new event's row (EVENT_COLUMNS) from validated ``data`` and its link ``names``
    (``unique`` of each of data's lists, as the links are inserted); not unplanned until
    ``with_unplanned`` says so, in the write transaction. ``fleet_wide`` is written as its links will leave it, so
    the event_agent trigger of migration 0006 finds nothing to change: on PostgreSQL, its UPDATE wrote a second
    version of each new event naming an agent, in every index of the table."""
    return (data["title"], data["description"], data["type"], data["severity"], data["source"],
            to_db_time(data["occurred_at"]) if data["occurred_at"] else now, to_db_time(data["ended_at"]),
            _to_json(data["changes"]), _to_json(data["links"]), data["build_url"], _to_json(data["metadata"]),
            data["dedupe_key"], 1, now, now, data["reverts"], actor.name, now, now, not names["agents"], False)


def with_unplanned(rows, datas, names):
    """``rows`` (``event_values``) with their unplanned flag decided (app.ledger.unplanned.flags), in the write
    transaction that inserts them, before the INSERT: by the intents recorded so far and those among them."""
    flags = unplanned.flags([dict(item, source=data["source"], type=data["type"], occurred_at=row[OCCURRED_AT])
                             for row, data, item in zip(rows, datas, names)])
    return [row[:UNPLANNED] + (True,) if flag else row for row, flag in zip(rows, flags)]


def insert_events(rows):
    """INSERT event rows (``event_values``); their new ids in order."""
    ids = []
    for chunk in chunks(rows, EVENT_CHUNK):
        ids.extend(dialect.insert_values("event", EVENT_COLUMNS, chunk, returning_id=True))
    return ids


def insert_links(ids, names, occurred):
    """Link each new event ``ids[i]`` to the agents, tools, toolchains and tags ``names[i]`` holds ({key: unique
    names}), ``occurred[i]`` being its stored occurred_at; names missing from a catalogue are added."""
    for junction, catalogue, field, key in LINKS:
        links = [(event_id, name, at) for event_id, item, at in zip(ids, names, occurred) for name in item.get(key, ())]
        if not links:
            continue
        wanted = unique(name for _, name, _ in links)
        new = NAMES_SEEN.unknown(catalogue, wanted)
        if new:
            add_names(catalogue, new)
        columns = ("event_id", junction._meta.fields[field].column_name, "occurred_at")
        table = catalogue._meta.table_name
        short = len(links) - _link(junction, columns, table, links)
        for _ in range(3):  # a remembered name was renamed or deleted since: add what is missing, link the rest
            if not short:
                break
            NAMES_SEEN.forget(catalogue)
            add_names(catalogue, wanted)
            short -= _link(junction, columns, table, links, only_missing=True)
        if short:  # deleted again each time by a concurrent writer (PostgreSQL): this batch fails, nothing written
            raise RuntimeError("%d %s links could not be written: their names keep disappearing" % (short, key))
        NAMES_SEEN.add(catalogue, wanted)


def _link(junction, columns, table, links, only_missing=False):
    return sum(dialect.link_by_name(junction._meta.table_name, columns, table, chunk, only_missing)
               for chunk in chunks(links, LINK_CHUNK))


def add_names(catalogue, names):
    """Add ``names`` that ``catalogue`` does not hold yet, with the model's defaults for the other columns."""
    defaults = [(field.column_name, field.db_value(field.default() if callable(field.default) else field.default))
                for field in catalogue._meta.sorted_fields
                if field.name not in ("id", "name") and field.default is not None]
    columns = ("name",) + tuple(column for column, _ in defaults)
    values = tuple(value for _, value in defaults)
    for chunk in chunks(names, EVENT_CHUNK):
        dialect.insert_missing(catalogue._meta.table_name, columns, [(name,) + values for name in chunk])
