"""Everything that differs between SQLite and PostgreSQL, one function per operation, so no other module asks
which database it runs on. Hand-written SQL lives here too (bulk INSERTs, the inbox's INSERT, the timeline counts'
fold and recount); migrations keep frozen copies of what they need and are never imported at run time.
"""
import functools

from peewee import SQL, Expression, PostgresqlDatabase, SqliteDatabase, fn

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
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


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
    param = database.obj.param
    sql = 'INSERT INTO "%s" (%s) VALUES %s' % (
        model._meta.table_name, ", ".join('"%s"' % f.column_name for f in fields),
        ", ".join(["(%s)" % ", ".join([param] * len(fields))] * len(rows)))
    converters = [f.db_value for f in fields]
    params = [convert(value) for row in rows for convert, value in zip(converters, row.values())]
    if not returning_id:
        database.execute_sql(sql, params)
        return []
    # One INSERT numbers its rows in order on both databases (SQLite holds the write lock, a PostgreSQL
    # sequence only grows), so the sorted ids line up with the rows.
    return sorted(i for (i,) in database.execute_sql(sql + ' RETURNING "%s"' % model._meta.primary_key.column_name,
                                                     params).fetchall())


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
