"""Scheduled backups of a SQLite ledger: a consistent copy (VACUUM INTO) per run, the newest N kept.

PostgreSQL deployments back up with their own tools (pg_dump, base backups); the worker skips them.
"""
import os
import re

from peewee import SqliteDatabase

from app.db import database, utcnow

NAME = re.compile(r"^changetracker-\d{8}T\d{6}Z\.db$")


def supported():
    return isinstance(database.obj, SqliteDatabase)


def backup_sqlite(directory, keep):
    """Write ``changetracker-<UTC time>.db`` into ``directory``, delete all but the newest ``keep``; its path."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "changetracker-%s.db" % utcnow().strftime("%Y%m%dT%H%M%SZ"))
    if os.path.exists(path):
        os.remove(path)
    database.execute_sql("VACUUM INTO ?", (path,))
    old = sorted(n for n in os.listdir(directory) if NAME.match(n))[:-keep] if keep > 0 else []
    for name in old:
        os.remove(os.path.join(directory, name))
    return path
