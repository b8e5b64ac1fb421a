"""Restores: a backup put back in place of the database.

SQLite: the file is copied aside, checked to be a Change Tracker database this code can run, the current database is
kept as a safety copy, and the file is swapped in with one rename. PostgreSQL: ``pg_restore`` piped into one
``psql --single-transaction``, after emptying the schema. Either way the caller applies the pending migrations.
"""
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from urllib.request import pathname2url

from playhouse.migrations import Migration
from playhouse.pool import PooledDatabase

from app import migrations
from app.db import database, utcnow
from app.dialect import engine
from app.models import Event, WorkerLease
from app.ops.backups import (
    BackupError,
    NotConfirmed,
    UnusableBackup,
    dump_postgres,
    free_path,
    pg_environment,
    private_file,
    remove,
    run,
    sync_directory,
    text,
    tool,
    write_sqlite_copy,
)

SQLITE_HEADER = b"SQLite format 3\x00"
PG_ARCHIVE_HEADER = b"PGDMP"
MIGRATION_TABLE = "schema_migration"
# A restore on PostgreSQL drops what is there first; waiting longer than this for a lock means the service is running.
PG_LOCK_TIMEOUT = "15s"


@dataclass(frozen=True)
class LedgerState:
    """What a database holds, for the confirmation question: where, its newest migration, how many events."""

    where: str
    migration: str | None
    events: int | None



def restore(file, safety_directory, confirm):
    """Replace the database with the backup ``file``.

    ``confirm(current, incoming)`` (two LedgerStates) is asked before anything is replaced, unless the database is
    missing or empty; False raises NotConfirmed. The current database is copied into ``safety_directory`` first.
    Returns {"safety_copy": path or None, "restored": LedgerState}; the caller applies pending migrations.
    """
    source = _existing_file(file)
    if engine() == "sqlite":
        return _restore_sqlite(source, safety_directory, confirm)
    return _restore_postgres(source, safety_directory, confirm)


def known_migrations():
    return [m.name for m in Migration.load_directory(migrations.MIGRATIONS_DIR)]


def check_migrations(applied, what):
    """Refuse ``applied`` (the migration names recorded in a backup) unless this code knows every one."""
    known = known_migrations()
    if not applied:
        raise UnusableBackup("%s is not a Change Tracker database: its %s table is empty." % (what, MIGRATION_TABLE))
    unknown = sorted(set(applied) - set(known))
    if len(unknown) == len(set(applied)):
        raise UnusableBackup("%s is not a Change Tracker database: none of its migrations (%s) is one of ours."
                             % (what, ", ".join(unknown[:5])))
    if unknown:
        raise UnusableBackup("%s was written by a newer Change Tracker (migrations this version does not have: %s); "
                             "upgrade Change Tracker first, then restore." % (what, ", ".join(unknown)))
    return max(applied, key=known.index)


def _restore_sqlite(source, safety_directory, confirm):
    live = database.obj.database
    if not live or live == ":memory:" or live.startswith("file:"):
        raise BackupError("Restore needs a SQLite database file; CHANGETRACKER_DATABASE_URL points at %r." % live)
    live = os.path.abspath(live)
    if os.path.exists(live) and os.path.samefile(source, live):
        raise UnusableBackup("%s is the current database itself." % source)
    _check_header(source, SQLITE_HEADER)
    staged = private_file(live)
    try:
        incoming = _stage_sqlite(source, staged)
        current = _current_state(live) if os.path.exists(live) else None
        safety = None
        if current is not None:
            _refuse_if_open(live)
            _refuse_running_worker()
            if not confirm(current, incoming):
                raise NotConfirmed("Not confirmed; nothing was restored.")
            safety = _sqlite_safety_copy(live, safety_directory)
        disconnect()
        _refuse_if_open(live)
        os.replace(staged, live)
        sync_directory(os.path.dirname(live))
    finally:
        remove(staged)
    database.connect(reuse_if_open=True)
    return {"safety_copy": safety, "restored": incoming}


def _stage_sqlite(source, staged):
    """Copy ``source`` to ``staged`` with SQLite's backup API (it reads a WAL, if any, as well), then check the copy:
    integrity, our migration table, no migration newer than this code. Its LedgerState."""
    what = os.path.basename(source)
    try:
        reader = sqlite3.connect("file:%s?mode=ro" % pathname2url(source), uri=True)
        try:
            writer = sqlite3.connect(staged)
            try:
                reader.backup(writer)
            finally:
                writer.close()
        finally:
            reader.close()
        copy = sqlite3.connect(staged)
        try:
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check(5)")]
            if problems != ["ok"]:
                raise UnusableBackup("%s fails SQLite's integrity check: %s" % (what, "; ".join(problems)))
            tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if MIGRATION_TABLE not in tables:
                raise UnusableBackup("%s is a SQLite database but not a Change Tracker one: it has no %s table."
                                     % (what, MIGRATION_TABLE))
            applied = [row[0] for row in copy.execute("SELECT name FROM %s" % MIGRATION_TABLE)]
            newest = check_migrations(applied, what)
            events = copy.execute("SELECT count(*) FROM event").fetchone()[0] if "event" in tables else None
            copy.execute("PRAGMA journal_mode = DELETE")  # no -wal beside the file we rename into place
        finally:
            copy.close()
    except sqlite3.DatabaseError as exc:
        raise UnusableBackup("%s cannot be read as a SQLite database: %s." % (what, exc)) from None
    with open(staged, "rb+") as handle:
        os.fsync(handle.fileno())
    return LedgerState(source, newest, events)


def _current_state(where):
    """The LedgerState of the configured database, None when it has no tables at all (nothing to lose). Parts it
    cannot read are None: a damaged database is exactly what people restore over."""
    migration = events = None
    try:
        database.connect(reuse_if_open=True)
        tables = set(database.get_tables())
    except Exception:
        return LedgerState(where, None, None)
    if not tables:
        return None
    try:
        if MIGRATION_TABLE in tables:
            names = [row[0] for row in database.execute_sql("SELECT name FROM %s" % MIGRATION_TABLE)]
            known = known_migrations()
            migration = max(names, key=lambda n: (n in known, n)) if names else None
        if "event" in tables:
            events = Event.select().count()
    except Exception:
        pass
    return LedgerState(where, migration, events)


def _refuse_running_worker():
    try:
        held = WorkerLease.select().where(WorkerLease.expires_at > utcnow()).first()
    except Exception:
        return
    if held is not None:
        raise BackupError("A worker (%s) holds the %r lease: stop every worker and the web service first, then "
                          "restore." % (held.holder, held.name))


def _refuse_if_open(live):
    """Once this process has really closed its connections, a remaining -wal file means another process has the
    database open (the last connection to close removes it): renaming a file under it would mix two databases."""
    was_open = not database.is_closed()
    disconnect()
    try:
        if os.path.exists(live + "-wal"):
            raise BackupError("%s is open in another process (its -wal file is there): stop the web service and "
                              "every worker, then restore." % live)
    finally:
        if was_open:
            database.connect(reuse_if_open=True)


def disconnect():
    """Close this thread's connection and, with a pool, every idle one: closed for real, not kept for reuse."""
    if not database.is_closed():
        database.close()
    if isinstance(database.obj, PooledDatabase):
        database.obj.close_idle()


def _sqlite_safety_copy(live, directory):
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = free_path(directory, "changetracker-before-restore-%s.db")
    try:
        database.connect(reuse_if_open=True)
        return write_sqlite_copy(path)
    except Exception:  # too damaged for VACUUM: keep its bytes as they are
        disconnect()
        shutil.copyfile(live, path)
        os.chmod(path, 0o600)
        return path


def _restore_postgres(source, safety_directory, confirm):
    pg_restore = tool("pg_restore", "to restore PostgreSQL")
    psql = tool("psql", "to restore PostgreSQL")
    tool("pg_dump", "to keep a copy of the current database before restoring")  # before anything is dropped
    what = os.path.basename(source)
    _check_header(source, PG_ARCHIVE_HEADER)
    listing = run([pg_restore, "--list", source], "pg_restore --list", what=what)
    if not re.search(r"\bTABLE \S+ %s\b" % MIGRATION_TABLE, listing):
        raise UnusableBackup("%s is a PostgreSQL dump but not of a Change Tracker database: it has no %s table."
                             % (what, MIGRATION_TABLE))
    data = run([pg_restore, "--data-only", "--table", MIGRATION_TABLE, "--file", "-", source], "pg_restore",
                what=what)
    newest = check_migrations(_copied_names(data), what)
    incoming = LedgerState(source, newest, None)
    current = _current_state("PostgreSQL database %s" % database.obj.database)
    if current is not None:
        _refuse_running_worker()
        if not confirm(current, incoming):
            raise NotConfirmed("Not confirmed; nothing was restored.")
        os.makedirs(safety_directory, mode=0o700, exist_ok=True)
        safety = free_path(safety_directory, "changetracker-before-restore-%s.dump")
        dump_postgres(safety)
    else:
        safety = None
    disconnect()  # no connection of ours may hold a lock the DROPs wait for
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="changetracker-restore-") as prelude, \
                tempfile.TemporaryFile() as script_errors:
            prelude.write(PG_EMPTY_SCHEMA)
            prelude.flush()
            script = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file", "-", source],
                                      stdout=subprocess.PIPE, stderr=script_errors, env=pg_environment())
            with script:
                loaded = subprocess.run([psql, "--no-psqlrc", "--quiet", "--no-password", "--set", "ON_ERROR_STOP=1",
                                         "--single-transaction", "--file", prelude.name, "--file", "-"],
                                        stdin=script.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=pg_environment())
            script_errors.seek(0)
            script_message = script_errors.read()
    finally:
        database.connect(reuse_if_open=True)
    if loaded.returncode != 0:  # checked first: when psql stops, pg_restore fails writing to it
        message = text(loaded.stderr)
        if "lock timeout" in message:
            message += " (the database is in use: stop the web service and every worker, then restore)"
        raise BackupError("psql failed; the restore was rolled back: %s" % message)
    if script.returncode != 0:
        raise BackupError("pg_restore failed; the restore was rolled back: %s" % text(script_message))
    return {"safety_copy": safety, "restored": incoming}


# Empties the connection's schema (tables, views, sequences, functions; not what extensions own) inside the restore's
# transaction, so objects of a newer schema than the backup's cannot linger and trip the migrations run afterwards.
PG_EMPTY_SCHEMA = """
SET lock_timeout = '%s';
SET client_min_messages = warning;
DO $$
DECLARE
  relations text[];
  routines text[];
  item text;
BEGIN
  SELECT array_agg(format('DROP %%s IF EXISTS %%I.%%I CASCADE',
                          CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                         WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                          n.nspname, c.relname))
    INTO relations
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
  SELECT array_agg(format('DROP ROUTINE IF EXISTS %%I.%%I(%%s) CASCADE', n.nspname, p.proname,
                          pg_get_function_identity_arguments(p.oid)))
    INTO routines
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');
  FOREACH item IN ARRAY coalesce(relations, '{}') || coalesce(routines, '{}') LOOP
    EXECUTE item;
  END LOOP;
END
$$;
""" % PG_LOCK_TIMEOUT


def _copied_names(data):
    """The ``name`` column of the COPY block pg_restore prints for the migration table."""
    names, columns = [], None
    for line in data.splitlines():
        if columns is None:
            match = re.match(r"COPY \S*%s \(([^)]*)\) FROM stdin;" % MIGRATION_TABLE, line)
            if match:
                columns = [c.strip().strip('"') for c in match.group(1).split(",")]
        elif line == "\\.":
            break
        else:
            names.append(line.split("\t")[columns.index("name")])
    return names


# --- helpers --------------------------------------------------------------------------------------


def _existing_file(file):
    path = os.path.abspath(file)
    if not os.path.exists(path):
        raise UnusableBackup("No such file: %s" % file)
    if not os.path.isfile(path):
        raise UnusableBackup("%s is not a file." % file)
    return path


def _check_header(path, expected):
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if head.startswith(expected):
        return
    what = os.path.basename(path)
    if head.startswith(SQLITE_HEADER):
        raise UnusableBackup("%s is a SQLite database; restore it where CHANGETRACKER_DATABASE_URL is SQLite." % what)
    if head.startswith(PG_ARCHIVE_HEADER):
        raise UnusableBackup("%s is a PostgreSQL dump; restore it where CHANGETRACKER_DATABASE_URL is PostgreSQL."
                             % what)
    if expected == SQLITE_HEADER:
        raise UnusableBackup("%s is not a SQLite database (a backup from `changetracker backup` is one)." % what)
    raise UnusableBackup("%s is not a pg_dump custom-format archive (what `changetracker backup` writes on "
                         "PostgreSQL); restore plain SQL dumps with psql." % what)
