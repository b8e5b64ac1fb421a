"""Backups of the ledger (app.ops.restore puts one back).

SQLite: a consistent copy with VACUUM INTO (safe while the service runs); the worker's scheduled backups keep the
newest N. PostgreSQL: ``pg_dump --format=custom`` when the client tools are installed, with the connection settings
of CHANGETRACKER_DATABASE_URL passed through the environment (never the command line, where ``ps`` shows them).
"""
import logging
import os
import re
import shutil
import subprocess
import time
import uuid

from app.db import database, utcnow
from app.dialect import engine

NAME = re.compile(r"^changetracker-\d{8}T\d{6}Z\.db$")
ANY_NAME = re.compile(r"^changetracker-\d{8}T\d{6}Z\.(db|dump)$")
PG_TOOLS_HINT = "install the PostgreSQL client tools (Debian: postgresql-client), the server's major version or newer"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


class UnusableBackup(BackupError):
    """The file to restore is missing, not a database, damaged, not Change Tracker's, or newer than this code."""


class NotConfirmed(BackupError):
    pass


def supported():
    """Whether the worker's scheduled backups cover this database (SQLite only)."""
    return engine() == "sqlite"


def directory(config, instance_path):
    """Where backups and restore's safety copies go: BACKUP_DIR of ``config``, else <instance>/backups."""
    return config.get("BACKUP_DIR") or os.path.join(instance_path, "backups")


def stamp():
    return utcnow().strftime("%Y%m%dT%H%M%SZ")


def free_path(directory, name_format):
    """``name_format`` % stamp() in ``directory``, with -2, -3, ... added while that name is taken: a restore of
    the safety copy made a moment ago must not write its own safety copy over the file it is restoring."""
    root, ext = os.path.splitext(name_format % stamp())
    path, number = os.path.join(directory, root + ext), 1
    while os.path.exists(path):
        number += 1
        path = os.path.join(directory, "%s-%d%s" % (root, number, ext))
    return path


def backup(output=None, directory=None):
    """Write a consistent copy of the database to ``output`` (which must not exist) or to a time-stamped file in
    ``directory``; returns its path. Raises BackupError."""
    if output is None:  # a second backup within the same second replaces the first: same content, one file
        os.makedirs(directory, mode=0o700, exist_ok=True)
        output = os.path.join(directory, "changetracker-%s%s" % (stamp(), ".db" if engine() == "sqlite" else ".dump"))
    elif os.path.exists(output):
        raise BackupError("%s exists; choose another path or remove it first." % output)
    output = os.path.abspath(output)
    parent = os.path.dirname(output)
    if not os.path.isdir(parent):
        raise BackupError("No directory %s to write the backup into." % parent)
    if engine() == "sqlite":
        write_sqlite_copy(output)
    else:
        dump_postgres(output)
    return output


def backup_sqlite(directory, keep):
    """Write ``changetracker-<UTC time>.db`` into ``directory``, delete all but the newest ``keep``; its path."""
    path = backup(directory=directory)
    old = sorted(n for n in os.listdir(directory) if NAME.match(n))[:-keep] if keep > 0 else []
    for name in old:
        os.remove(os.path.join(directory, name))
    return path


def backup_every(hours, directory, keep, log=None, sleep=time.sleep, rounds=None):
    """A backup into ``directory`` now and every ``hours`` (the compose file's backup service), keeping the newest
    ``keep``; a failed one is logged and tried again at the next round. ``rounds`` bounds the loop (tests)."""
    done = 0
    while rounds is None or done < rounds:
        try:
            path = backup(directory=directory)
            for name in (sorted(n for n in os.listdir(directory) if ANY_NAME.match(n))[:-keep] if keep > 0 else []):
                os.remove(os.path.join(directory, name))
            (log or logging.getLogger(__name__).info)(path)
        except BackupError as exc:
            logging.getLogger(__name__).error("backup failed, next try in %s h: %s", hours, exc)
        done += 1
        if rounds is None or done < rounds:
            sleep(hours * 3600)


def write_sqlite_copy(path):
    """VACUUM INTO a temporary name beside ``path``, then rename: a half-written copy never carries the final name.
    Replaces ``path`` if it exists. The copy is readable by its owner only (it holds password hashes)."""
    partial = private_file(path)
    try:
        database.execute_sql("VACUUM INTO ?", (partial,))  # into an empty file is allowed, and it keeps its mode
        os.replace(partial, path)
    finally:
        remove(partial)
    return path


def dump_postgres(path):
    """``pg_dump --format=custom`` of the configured database into ``path``; BackupError when it cannot."""
    pg_dump = tool("pg_dump", "to back up PostgreSQL")
    partial = private_file(path)
    try:
        run([pg_dump, "--format=custom", "--no-password", "--file", partial], "pg_dump")
        os.replace(partial, path)
    finally:
        remove(partial)
    return path


def tool(name, purpose):
    path = shutil.which(name)
    if path is None:
        raise BackupError("%s is not on PATH; it is needed %s: %s, or use your own backup tools."
                          % (name, purpose, PG_TOOLS_HINT))
    return path


# libpq reads these from the environment; peewee's connect_params use the keyword names.
_PG_ENVIRONMENT = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
                   "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
                   "connect_timeout": "PGCONNECT_TIMEOUT", "passfile": "PGPASSFILE", "service": "PGSERVICE",
                   "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS"}


def pg_environment():
    if engine() != "postgresql":
        raise BackupError("The configured database is not PostgreSQL.")
    env = dict(os.environ, PGDATABASE=database.obj.database, PGAPPNAME="changetracker")
    for keyword, value in database.obj.connect_params.items():
        if keyword in _PG_ENVIRONMENT and value is not None:
            env[_PG_ENVIRONMENT[keyword]] = str(value)
    return env


def run(command, name, what=None):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pg_environment())
    if result.returncode != 0:
        message = text(result.stderr)
        if what is not None and name.startswith("pg_restore"):
            raise UnusableBackup("%s is not a readable pg_dump archive: %s" % (what, message))
        raise BackupError("%s failed: %s" % (name, message))
    return result.stdout.decode("utf-8", "replace")


def text(stderr):
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return " ".join(lines[-5:]) or "no message"


def partial_name(path):
    return os.path.join(os.path.dirname(os.path.abspath(path)),
                        ".%s.partial-%s" % (os.path.basename(path), uuid.uuid4().hex[:8]))


def private_file(path):
    """A new empty file beside ``path`` that only its owner may read: backups hold password hashes and secrets."""
    partial = partial_name(path)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return partial


def remove(path):
    for name in (path, path + "-journal", path + "-wal", path + "-shm"):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def sync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
