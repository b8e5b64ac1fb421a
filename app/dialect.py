"""Everything that differs between SQLite and PostgreSQL, one function per operation, so no other module asks
which database it runs on. Hand-written SQL lives here too (bulk INSERTs, the inbox's INSERT, the timeline counts'
fold and recount); migrations keep frozen copies of what they need and are never imported at run time.
"""
import contextlib
import fcntl
import functools
import os
import threading
import time

from peewee import SQL, Expression, OperationalError, PostgresqlDatabase, Select, SqliteDatabase, fn
from playhouse.pool import MaxConnectionsExceeded

from app.db import database


def is_postgresql():
    return isinstance(database.obj, PostgresqlDatabase)


def engine():
    """``sqlite`` or ``postgresql``: the configured database's kind, as backups and messages name it."""
    return "sqlite" if isinstance(database.obj, SqliteDatabase) else "postgresql"


# --- transactions and locks ------------------------------------------------------------------------


def write_transaction():
    """A transaction that will write: on SQLite it takes the write lock up front (BEGIN IMMEDIATE),
    so read-then-write sequences never fail half-way with "database is locked"."""
    if isinstance(database.obj, SqliteDatabase):
        return _sqlite_write()
    return database.atomic()


@contextlib.contextmanager
def _sqlite_write():
    """BEGIN IMMEDIATE once this process's other writers, and those of the other processes, had their turn.

    SQLite's own wait for its write lock sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries whatever the holder
    does: two gunicorn workers recording in bursts spent much of their time asleep beside a free lock. A thread
    lock, then an flock(2) on ``<database>-writer``, hand the turn over as soon as the holder commits. They are a
    courtesy among Change Tracker's processes (the SQLite lock still decides); a writer whose turn does not come
    within the busy timeout gets SQLite's "database is locked", as it would have from BEGIN IMMEDIATE (a 503)."""
    turns = _turns(database.obj.database)
    if turns is None or getattr(_writing, "now", False):  # in memory, or nested in this thread's transaction
        with database.atomic(lock_type="IMMEDIATE"):
            yield
        return
    with turns.take(dict(database.obj._pragmas).get("busy_timeout", 5000) / 1000.0):  # app.db sets it
        _writing.now = True
        try:
            with database.atomic(lock_type="IMMEDIATE"):
                yield
        finally:
            _writing.now = False


class _Turns:
    """Writers of one SQLite file take turns: a lock among this process's threads, an flock among processes."""

    def __init__(self, path):
        self.path, self.threads, self.fd, self.pid = path + "-writer", threading.Lock(), None, None

    @contextlib.contextmanager
    def take(self, seconds):
        deadline = time.monotonic() + seconds
        if not self.threads.acquire(timeout=seconds):
            raise OperationalError("database is locked")
        try:
            if not self._flock(deadline):
                raise OperationalError("database is locked")
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.threads.release()

    def _flock(self, deadline):
        if self.pid != os.getpid():  # opened before a fork: the descriptor's lock would be shared
            self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600), os.getpid()
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.0002)


_writing = threading.local()
_turns_by_path = {}


def _turns(path):
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    turns = _turns_by_path.get(path)
    if turns is None:
        turns = _turns_by_path.setdefault(path, _Turns(path))
    return turns


# PostgreSQL's codes for a database too busy to answer now: lock_not_available, deadlock_detected,
# serialization_failure, too_many_connections, cannot_connect_now.
_BUSY_CODES = ("55P03", "40P01", "40001", "53300", "57P03")
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_busy(exc):
    """Whether ``exc`` says the database is too busy right now (another writer held the lock past the wait, a
    deadlock was broken, no connection was free), so the same request may well succeed a little later."""
    if isinstance(exc, MaxConnectionsExceeded):
        return True
    if not isinstance(exc, OperationalError):
        return False
    original = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    code = getattr(original, "pgcode", None)
    if code is not None:
        return code in _BUSY_CODES
    return str(original).startswith(_SQLITE_BUSY)


def locked(query, skip_locked=False):
    """``query`` with its rows locked until the transaction ends (PostgreSQL ``FOR UPDATE``, and ``SKIP LOCKED``
    to pass over rows another transaction holds). SQLite's write transaction already keeps every other writer
    out, so there the query is unchanged."""
    if not is_postgresql():
        return query
    return query.for_update("FOR UPDATE SKIP LOCKED" if skip_locked else True)


def serialise(key):
    """Within a write transaction, make concurrent transactions that name the same ``key`` take turns
    (PostgreSQL: an advisory lock released at commit; SQLite holds the only write lock already)."""
    if is_postgresql():
        database.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def serialise_all(keys):
    """``serialise`` for several keys in one round trip. The locks are taken in one order (their hashes'), so two
    transactions that share some keys cannot deadlock over them."""
    if keys and is_postgresql():
        database.execute_sql("SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h "
                             "FROM unnest(%s::text[]) AS k) AS locks ORDER BY h", (list(keys),))


# --- statements ------------------------------------------------------------------------------------


def statement(build, *shape):
    """The SQL text of the peewee query ``build(*shape)``, rendered once per database kind and ``shape`` (e.g. how
    many ids an IN list holds), for hot statements whose parameters change but whose text does not; run it with
    ``database.execute_sql(text, parameters)``, the parameters in the order the query binds them. Rendering a
    query through peewee's builder cost more than running it (bench/README.md, "Recording")."""
    return _rendered(build, engine(), shape)


@functools.lru_cache(maxsize=512)
def _rendered(build, engine, shape):
    return build(*shape).sql()[0]


# --- writes ----------------------------------------------------------------------------------------


def insert_rows(model, rows, returning_id=False):
    """INSERT ``rows`` (dicts with the same keys: ``model``'s field names) in one statement; their new ids, in
    row order, when ``returning_id``.

    What ``model.insert_many(rows)`` does, minus peewee building a query node per value: bulk ingest (CSV
    imports, inbox batches) spent more time there than in the database (bench/ingest.py). Values still go
    through each field's ``db_value``, as parameters. Relies on peewee 4's ``Database.param`` and
    ``Model._meta.fields`` (setup.cfg pins peewee 4).
    """
    if not rows:
        return []
    fields = [model._meta.fields[name] for name in rows[0]]
    converters = [f.db_value for f in fields]
    return insert_values(model._meta.table_name, [f.column_name for f in fields],
                         [[convert(value) for convert, value in zip(converters, row.values())] for row in rows],
                         returning_id)


def insert_values(table, columns, rows, returning_id=False):
    """INSERT ``rows`` (sequences of database values in ``columns`` order) into ``table`` in one statement; their
    new ids, in row order, when ``returning_id``. The statement's text depends only on the table, the columns
    and the number of rows, so each connection prepares it once (sqlite3's statement cache)."""
    if not rows:
        return []
    sql = _values_sql(database.obj.param, table, tuple(columns), len(rows), returning_id)
    cursor = database.execute_sql(sql, [value for row in rows for value in row])
    if not returning_id:
        return []
    # One INSERT numbers its rows in order on both databases (SQLite holds the write lock, a PostgreSQL
    # sequence only grows), so the sorted ids line up with the rows.
    return sorted(i for (i,) in cursor.fetchall())


@functools.lru_cache(maxsize=256)
def _values_sql(param, table, columns, count, returning_id):
    row = "(%s)" % ", ".join([param] * len(columns))
    return 'INSERT INTO "%s" (%s) VALUES %s%s' % (table, ", ".join('"%s"' % c for c in columns),
                                                  ", ".join([row] * count), ' RETURNING "id"' if returning_id else "")


def insert_missing(table, columns, rows):
    """INSERT those of ``rows`` whose first column (a unique key, e.g. a catalogue name) ``table`` does not hold
    yet, in key order; a concurrent writer adding the same key first is no error.

    Rows that exist are left out before the INSERT, not by ON CONFLICT alone: PostgreSQL would take a sequence
    number for each of them, and recording names an agent on every event. Key order makes two transactions
    that add the same new names wait for each other instead of deadlocking.
    """
    if not rows:
        return
    sql = _missing_sql(database.obj.param, table, tuple(columns), len(rows))
    database.execute_sql(sql, [value for row in sorted(rows) for value in row])


@functools.lru_cache(maxsize=256)
def _missing_sql(param, table, columns, count):
    row = "(%s)" % ", ".join([param] * len(columns))
    return ('INSERT INTO "%s" (%s) SELECT * FROM (VALUES %s) AS v WHERE NOT EXISTS (SELECT 1 FROM "%s" c WHERE '
            'c."%s" = v.column1) ORDER BY 1 ON CONFLICT DO NOTHING'
            % (table, ", ".join('"%s"' % c for c in columns), ", ".join([row] * count), table, columns[0]))


def link_by_name(junction, columns, catalogue, links, only_missing=False):
    """INSERT a ``junction`` row for each ``(owner id, name, extra)`` of ``links``, the name looked up in
    ``catalogue`` in the same statement; ``columns`` name the junction's owner, catalogue id and extra
    columns. Returns how many rows went in: fewer than ``links`` when a name is not (or no longer) in the
    catalogue. ``only_missing`` skips links that exist already (to complete an earlier, short INSERT)."""
    if not links:
        return 0
    sql = _link_sql(database.obj.param, junction, tuple(columns), catalogue, len(links), only_missing)
    return database.execute_sql(sql, [value for link in links for value in link]).rowcount


@functools.lru_cache(maxsize=256)
def _link_sql(param, junction, columns, catalogue, count, only_missing):
    owner, entity, extra = columns
    sql = ('INSERT INTO "%s" ("%s", "%s", "%s") SELECT v.column1, c."id", v.column3 FROM (VALUES %s) AS v '
           'JOIN "%s" c ON c."name" = v.column2' % (junction, owner, entity, extra,
                                                   ", ".join(["(%s, %s, %s)" % (param, param, param)] * count),
                                                   catalogue))
    if only_missing:
        sql += ' WHERE NOT EXISTS (SELECT 1 FROM "%s" x WHERE x."%s" = v.column1 AND x."%s" = c."id")' % (
            junction, owner, entity)
    return sql


def restart_ids(db, models):
    """After rows were inserted with their ids (``changetracker db copy``), make ``db`` number new rows after them:
    PostgreSQL's sequences do not move by themselves; SQLite takes the next id after the largest."""
    if not isinstance(db, PostgresqlDatabase):
        return
    for model in models:
        key = model._meta.primary_key
        if getattr(key, "field_type", None) != "AUTO":
            continue
        table, column = model._meta.table_name, key.column_name
        db.execute_sql('SELECT setval(pg_get_serial_sequence(%%s, %%s), COALESCE(MAX("%s"), 1), MAX("%s") IS NOT NULL) '
                       'FROM "%s"' % (column, column, table), ('"%s"' % table, column))


def insert_row(table, columns, values):
    """INSERT one row into ``table``; its new ``id``.

    Written out rather than built by peewee per call (the webhook receivers' hot path). On SQLite the id comes
    from ``lastrowid``, not RETURNING: a RETURNING statement keeps its write transaction (SQLite's single write
    lock) open until the row has been fetched, i.e. across a GIL switch, and concurrent writers then wait."""
    if is_postgresql():
        return database.execute_sql(_insert_sql(database.obj.param, table, columns, True), values).fetchone()[0]
    return database.execute_sql(_insert_sql(database.obj.param, table, columns, False), values).lastrowid


@functools.lru_cache(maxsize=16)
def _insert_sql(param, table, columns, returning):
    return 'INSERT INTO "%s" (%s) VALUES (%s)%s' % (
        table, ", ".join('"%s"' % c for c in columns), ", ".join([param] * len(columns)),
        ' RETURNING "id"' if returning else "")


# --- reads -----------------------------------------------------------------------------------------


def text_match(title, description, metadata, rowid, words):
    """Every word in the event's text, the last one as a prefix (search as you type): PostgreSQL's GIN index over
    ``to_tsvector`` (migration 0002), SQLite's FTS5 table ``event_fts``."""
    if is_postgresql():
        # The same expression as the GIN index of migration 0002, so the index serves it.
        text = (fn.coalesce(title, "").concat(" ").concat(fn.coalesce(description, "")).concat(" ")
                .concat(fn.coalesce(metadata, "")))
        document = fn.to_tsvector(SQL("'simple'"), fn.regexp_replace(text, SQL("'[^[:alnum:]_]+'"), SQL("' '"),
                                                                     SQL("'g'")))
        tsquery = " & ".join(words[:-1] + [words[-1] + ":*"])
        return Expression(document, "@@", fn.to_tsquery(SQL("'simple'"), tsquery))
    match = " ".join('"%s"' % w for w in words[:-1]) + ' "%s"*' % words[-1]
    return Expression(rowid, "IN", SQL("(SELECT rowid FROM event_fts WHERE event_fts MATCH ?)", [match.strip()]))


def sorted_names(lists):
    """One JSON object holding, per key of ``lists`` ({key: (links, name)}: a SELECT of catalogue rows correlated
    with the outer query, and their name column; keys are identifiers, written into the SQL), the names sorted
    as ORDER BY sorts them: one column, decoded once, instead of a query per kind of link."""
    if is_postgresql():
        arrays = [fn.coalesce(links.select(fn.json_agg(name).order_by(name)), SQL("'[]'::json"))
                  for links, name in lists.values()]
        return fn.json_build_object(*[item for key, array in zip(lists, arrays) for item in (SQL("'%s'" % key), array)])
    # SQLite keeps a subquery's order for an aggregate over it (it never flattens such a subquery).
    arrays = []
    for links, name in lists.values():
        ordered = links.select(name).order_by(name).alias("n")
        arrays.append(fn.json(Select((ordered,), (fn.json_group_array(ordered.c.name),))))
    return fn.json_object(*[item for key, array in zip(lists, arrays) for item in (SQL("'%s'" % key), array)])


def contains(text, part):
    """Whether ``part`` occurs in ``text`` (case-sensitive), as an SQL expression."""
    return (fn.strpos if is_postgresql() else fn.instr)(text, part) > 0


def joined_text(column, separator=","):
    """The aggregate joining ``column``'s values as text ("3,17"; NULL for none)."""
    if is_postgresql():
        return fn.string_agg(column.cast("text"), separator)
    return fn.group_concat(column, separator)


def hour_day_or_week(size, column):
    """The start of the hour, day or week (Monday) ``column`` falls in, naive UTC, for GROUP BY."""
    if is_postgresql():
        return fn.date_trunc(size, column)
    # SQLite holds timestamps as peewee writes naive UTC: "YYYY-MM-DD HH:MM:SS[.ffffff]" (app.db.to_db_time).
    # Cutting that text gives the same hour and day starts as strftime() at a fraction of its cost per row.
    # Constants are literals, not parameters, so SQLite sees GROUP BY and ORDER BY name the same
    # expression and sorts once.
    return {
        "hour": fn.substr(column, SQL("1"), SQL("13")).concat(SQL("':00:00'")),
        "day": fn.substr(column, SQL("1"), SQL("10")).concat(SQL("' 00:00:00'")),
        # Monday of the week: forward to Sunday (or stay), then back six days.
        "week": fn.strftime(SQL("'%Y-%m-%d 00:00:00'"), column, SQL("'weekday 0'"), SQL("'-6 days'")),
    }[size]


def open_interval_ids(before, types, limit):
    """Ids of the events of ``types`` without an end that began before ``before`` (naive UTC), oldest first, read
    from the partial index event_open_interval (migration 0010). SQLite is told to use it: with no row in it yet
    it has no statistics, and the planner would scan the much larger type index instead."""
    hint = "" if is_postgresql() else ' INDEXED BY "event_open_interval"'
    sql = ('SELECT "id" FROM "event"%s WHERE "ended_at" IS NULL AND "type" IN (%s) AND "occurred_at" < %s '
           'ORDER BY "occurred_at", "id" LIMIT %d' % (hint, ", ".join("'%s'" % t for t in types), database.obj.param,
                                                    limit))
    return [row[0] for row in database.execute_sql(sql, (before,)).fetchall()]


def lasts_at_least(start, end, seconds):
    """The condition that [``start``, ``end``] (two timestamp columns) spans at least ``seconds``."""
    if is_postgresql():
        return fn.date_part("epoch", end) - fn.date_part("epoch", start) >= seconds
    return (fn.julianday(end) - fn.julianday(start)) * 86400 >= seconds


def narrows_links_by_time():
    """Whether the timeline should narrow an event's agent links by their own copy of occurred_at before joining:
    PostgreSQL hash-joins the links, so narrowing them first saves it reading every link; SQLite looks each
    event's links up on the (event, agent) key, which the extra condition would only slow down."""
    return is_postgresql()


# --- the timeline's per-day counts (migration 0005 keeps them by triggers) -----------------------------

# SQLite updates the counts in place; PostgreSQL's triggers append deltas that fold_counts moves in.
COUNTS_ARE_DELTAS = "postgresql"

_RECOUNT = """INSERT INTO timeline_count (day, week, lane, severity, n)
    SELECT {day}, {week}, coalesce(l.agent_id, 0), e.severity, count(*)
    FROM event e LEFT JOIN event_agent l ON l.event_id = e.id
    GROUP BY 1, 2, 3, 4"""

# Committed deltas into the counters. Locks are taken in key order, so two folds never deadlock; deltas a running
# transaction has not committed yet stay for the next fold.
_FOLD = """WITH moved AS (DELETE FROM timeline_count_delta RETURNING day, week, lane, severity, n)
    INSERT INTO timeline_count (day, week, lane, severity, n)
    SELECT day, week, lane, severity, sum(n) FROM moved GROUP BY day, week, lane, severity ORDER BY day, lane, severity
    ON CONFLICT (day, lane, severity) DO UPDATE SET n = timeline_count.n + excluded.n"""


def counts_are_deltas():
    """Whether the triggers write deltas that ``fold_counts`` must move into the counts."""
    return engine() == COUNTS_ARE_DELTAS


def fold_counts():
    """Move the committed deltas into the counts (PostgreSQL); how many counters changed. 0 on SQLite."""
    if not counts_are_deltas():
        return 0
    return database.execute_sql(_FOLD).rowcount


def recount():
    """Refill the (emptied) counts from the events, as migration 0005 filled them."""
    if is_postgresql():
        sql = _RECOUNT.format(day="e.occurred_at::date", week="date_trunc('week', e.occurred_at)::date")
    else:
        sql = _RECOUNT.format(day="substr(e.occurred_at, 1, 10)", week="date(e.occurred_at, 'weekday 0', '-6 days')")
    database.execute_sql(sql)
