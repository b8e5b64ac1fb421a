"""The database has one owner: this proxy, bound from CHANGETRACKER_DATABASE_URL by ``bind``, with the base model,
the JSON column and the naive-UTC time conventions every table follows."""
import json
import time
from datetime import datetime, timezone

from peewee import DatabaseProxy, Model, OperationalError, TextField
from playhouse.db_url import connect
from playhouse.pool import PooledDatabase

database = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class JSONField(TextField):
    """JSON stored as text, so SQLite and PostgreSQL share one schema."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


def chunks(items, size=500):
    """``items`` in lists of ``size`` at most (e.g. for IN lists), by slicing. peewee's ``chunked`` pads every chunk
    to ``size`` before trimming it, about 0.1 ms per call even for a short list, which recording paid several
    times per event."""
    items = items if isinstance(items, (list, tuple)) else list(items)
    return [items[start:start + size] for start in range(0, len(items), size)]


def utcnow():
    """Naive UTC: every timestamp column holds UTC without an offset."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_db_time(value):
    """An aware datetime to the naive-UTC form the columns store."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def from_db_time(value):
    """A column's naive-UTC time as an aware datetime. SQLite's driver hands back the stored text (for the raw
    statements of app.ledger, and for expressions such as MAX()): read with "+00:00" appended, in one call instead
    of reading it and then setting the zone (a page of 50 events reads 300 of them)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value + "+00:00")
        except ValueError:  # not the naive text the columns hold (e.g. it has an offset)
            moment = None
        if moment is not None and moment.tzinfo is not None:  # a date alone reads as naive
            return moment
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)


def open_database(url, busy_timeout_ms=30000, pool_size=0, pool_recycle_seconds=None):
    """A peewee Database for ``url``: SQLite in WAL mode with foreign keys, or PostgreSQL.

    With ``pool_size`` > 0, a pooled one (playhouse.pool): ``close()`` hands the connection back for the next
    request instead of closing it, a new one is opened only when all ``pool_size`` are busy (or the last one
    has lived ``pool_recycle_seconds``), and a connection handed back with a transaction open is rolled back.
    """
    options = {}
    if pool_size > 0:
        scheme, sep, rest = url.partition("://")
        url = "%s+pool%s%s" % (scheme, sep, rest) if "+" not in scheme else url
        # Wait for a connection to come back rather than fail when the pool is momentarily exhausted.
        options = {"max_connections": pool_size, "stale_timeout": pool_recycle_seconds or None,
                   "timeout": max(busy_timeout_ms / 1000.0, 1.0)}
    if url.startswith("sqlite"):
        pragmas = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": busy_timeout_ms, "synchronous": "normal"}
        if pool_size > 0:
            # A pooled connection moves between threads, one thread at a time (checked out, then handed back).
            # The pool takes "timeout" for itself; the busy_timeout pragma sets SQLite's.
            return connect(url, pragmas=pragmas, check_same_thread=False, **options)
        return connect(url, pragmas=pragmas, timeout=busy_timeout_ms / 1000.0)
    return connect(url, **options)


def bind(config):
    """Bind the proxy to a pooled database for this process (``config``: the app's configuration).

    Pooled because opening a connection costs more than most requests (on SQLite: connect, four pragmas; on
    PostgreSQL: a TCP or socket handshake and authentication), and because SQLite checkpoints and deletes
    the WAL whenever the last connection to a database closes, then recreates it on the next write: per-request
    connections made every webhook pay for that (bench/ingest.py). Idle pooled connections hold no lock.
    The CLI and the worker build the app too and share the same pool; their close() hands connections back.
    """
    replaced = database.obj
    database.initialize(open_database(config["DATABASE_URL"], config["SQLITE_BUSY_TIMEOUT_MS"],
                                      config.get("DATABASE_POOL_SIZE", 0), config.get("DATABASE_POOL_RECYCLE_SECONDS")))
    if isinstance(replaced, PooledDatabase):  # another app in this process (tests): its idle connections go now
        replaced.close_idle()


def wait_until_open(db, seconds):
    """Connect, retrying for up to ``seconds`` while the server is not up yet (a database container starting
    beside the service); the last error when it never answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.connect(reuse_if_open=True)
            return
        except OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1)
