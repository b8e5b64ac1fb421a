"""The database has one owner: this proxy, bound from CHANGETRACKER_DATABASE_URL by ``init_app``."""
import json
from datetime import datetime, timezone

from flask import request
from peewee import DatabaseProxy, Model, SqliteDatabase, TextField
from playhouse.db_url import connect

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


def utcnow():
    """Naive UTC: every timestamp column holds UTC without an offset."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_db_time(value):
    """An aware datetime to the naive-UTC form the columns store."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def from_db_time(value):
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text for expressions such as MAX()
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)


def write_transaction():
    """A transaction that will write: on SQLite it takes the write lock up front (BEGIN IMMEDIATE),
    so read-then-write sequences never fail half-way with "database is locked"."""
    if isinstance(database.obj, SqliteDatabase):
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


def open_database(url, busy_timeout_ms=5000):
    """A peewee Database for ``url``: SQLite in WAL mode with foreign keys, or PostgreSQL."""
    if url.startswith("sqlite"):
        return connect(
            url,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": busy_timeout_ms,
                "synchronous": "normal",
            },
            timeout=busy_timeout_ms / 1000.0,
        )
    return connect(url)


def init_app(app):
    database.initialize(open_database(app.config["DATABASE_URL"], app.config["SQLITE_BUSY_TIMEOUT_MS"]))

    @app.before_request
    def _connect():
        if request.endpoint in app.config.get("NO_DATABASE_ENDPOINTS", ()):
            return
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()
