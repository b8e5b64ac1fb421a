"""`changetracker backup` and `changetracker restore`, through Flask's CliRunner, on SQLite and on PostgreSQL."""
import os
import sqlite3
import subprocess

import pytest

from app import migrations
from app.accounts.audit import Actor
from app.cli import main
from app.db import database
from app.ledger.events import delete_event, record_event
from app.models import Event
from app.ops import leases
from app.ops.restore import disconnect
from tests.conftest import PG_URL, connected

SEED = Actor("seed")
sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="SQLite deployments only")
postgres_only = pytest.mark.skipif(not PG_URL, reason="PostgreSQL deployments only")


def record(app, title):
    with connected(app):
        event, _ = record_event({"title": title, "agents": ["linux-01"], "occurred_at": "2026-11-20T10:00:00Z"}, SEED)
    return event["id"]


def titles(app):
    with connected(app):
        return sorted(e.title for e in Event.select())


def backup(runner, *args):
    result = runner.invoke(main, ["backup", *args])
    assert result.exit_code == 0, result.output
    path = result.stdout.strip()
    assert os.path.isfile(path) and oct(os.stat(path).st_mode & 0o777) == "0o600"
    return path


def newest_migration(app):
    with connected(app):
        return [name for _, name, _ in migrations.status(database.obj)][-1]


def test_backup_writes_a_consistent_copy_into_the_backup_directory_and_prints_its_path(app, runner, tmp_path):
    record(app, "JDK 17 on linux-01")
    path = backup(runner)
    assert os.path.dirname(path) == os.path.join(app.instance_path, "backups")
    assert os.path.basename(path).startswith("changetracker-")
    if PG_URL:
        assert path.endswith(".dump")
        listing = subprocess.run(["pg_restore", "--list", path], capture_output=True, text=True, check=True).stdout
        assert "TABLE public event " in listing and "TABLE public schema_migration " in listing
    else:
        assert path.endswith(".db")
        copy = sqlite3.connect(path)
        assert copy.execute("SELECT title FROM event").fetchall() == [("JDK 17 on linux-01",)]
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copy.close()

    target = tmp_path / "elsewhere" / "ledger.copy"
    target.parent.mkdir()
    assert backup(runner, "--output", str(target)) == str(target)
    in_dir = backup(runner, "--dir", str(tmp_path / "new-dir"))
    assert os.path.dirname(in_dir) == str(tmp_path / "new-dir")


@pytest.mark.parametrize("args, code, message", [
    (["--output", "{tmp}/taken"], 1, "exists; choose another path"),
    (["--output", "{tmp}/no/such/dir/copy"], 1, "No directory"),
    (["--output", "{tmp}/a", "--dir", "{tmp}"], 2, "--output and --dir exclude each other"),
])
def test_backup_refuses_bad_targets(app, runner, tmp_path, args, code, message):
    (tmp_path / "taken").write_text("keep me")
    result = runner.invoke(main, ["backup", *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == code
    assert message in result.output
    assert (tmp_path / "taken").read_text() == "keep me"


@postgres_only
def test_backup_on_postgresql_without_pg_dump_says_what_to_do(app, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(main, ["backup"])
    assert result.exit_code == 1
    assert "pg_dump is not on PATH" in result.output and "postgresql-client" in result.output


def test_restore_brings_the_backup_back_and_keeps_a_copy_of_what_it_replaced(app, runner):
    first = record(app, "before the backup")
    path = backup(runner)
    record(app, "after the backup")
    with connected(app):
        delete_event(first, SEED)
    assert titles(app) == ["after the backup"]

    result = runner.invoke(main, ["restore", path, "--yes"])
    assert result.exit_code == 0, result.output
    assert titles(app) == ["before the backup"]
    assert "restored %s" % path in result.output
    assert "database is up to date" in result.output
    safety = result.output.split("kept a copy of the previous database: ")[1].split()[0]
    assert os.path.basename(safety).startswith("changetracker-before-restore-")

    # The safety copy is itself a backup: restoring it undoes the restore.
    assert runner.invoke(main, ["restore", safety, "--yes"]).exit_code == 0
    assert titles(app) == ["after the backup"]
    with connected(app):  # the ledger works as before: ids go on, writes land
        assert record_event({"title": "later"}, SEED)[0]["id"] > first


def test_restore_asks_first_and_changes_nothing_unless_confirmed(app, runner):
    record(app, "old")
    path = backup(runner)
    record(app, "new")

    result = runner.invoke(main, ["restore", path])  # no terminal, no answer
    assert result.exit_code == 1
    assert "Replace the current database with the backup?" in result.output
    assert "(2 events, schema at " in result.output
    assert ("(1 event, schema at " if not PG_URL else "(schema at ") in result.output  # a dump is not counted
    assert "Not confirmed; nothing was restored" in result.output and "--yes" in result.output
    assert titles(app) == ["new", "old"]
    assert [n for n in os.listdir(os.path.dirname(path)) if "before-restore" in n] == []

    assert runner.invoke(main, ["restore", path], input="n\n").exit_code == 1
    assert titles(app) == ["new", "old"]

    result = runner.invoke(main, ["restore", path], input="y\n")
    assert result.exit_code == 0, result.output
    assert titles(app) == ["old"]


def test_restoring_an_older_backup_applies_the_pending_migrations(app, runner):
    newest = newest_migration(app)
    record(app, "kept across the upgrade")
    assert runner.invoke(main, ["db", "downgrade"]).exit_code == 0
    path = backup(runner)
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0

    result = runner.invoke(main, ["restore", path, "--yes"])
    assert result.exit_code == 0, result.output
    assert "applied: %s" % newest in result.output
    assert runner.invoke(main, ["db", "status"]).exit_code == 0  # nothing pending
    assert titles(app) == ["kept across the upgrade"]


def test_restore_refuses_a_backup_from_newer_code(app, runner):
    record(app, "current")
    with connected(app):
        database.execute_sql("INSERT INTO schema_migration (name, applied) VALUES ('9999_from_the_future', %s)"
                             % ("now()" if PG_URL else "CURRENT_TIMESTAMP"))
    path = backup(runner)
    with connected(app):
        database.execute_sql("DELETE FROM schema_migration WHERE name = '9999_from_the_future'")

    result = runner.invoke(main, ["restore", path, "--yes"])
    assert result.exit_code == 2
    assert "written by a newer Change Tracker" in result.output and "9999_from_the_future" in result.output
    assert titles(app) == ["current"]


def test_restore_refuses_while_a_worker_holds_the_schedule(app, runner):
    record(app, "current")
    path = backup(runner)
    with connected(app):
        leases.hold(leases.SCHEDULER, "worker-on-ci-01", 60)
    result = runner.invoke(main, ["restore", path, "--yes"])
    assert result.exit_code == 1
    assert "worker-on-ci-01" in result.output and "stop every worker" in result.output


def _sqlite(path, *statements):
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()
    return path


def _missing(tmp_path):
    return tmp_path / "missing.db"


def _text_file(tmp_path):
    (tmp_path / "notes.txt").write_text("just some notes\n" * 10)
    return tmp_path / "notes.txt"


def _empty_file(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    return tmp_path / "empty.db"


def _other_engine_file(tmp_path):
    """A backup of the other database engine: a SQLite file on PostgreSQL, a pg_dump archive header on SQLite."""
    if PG_URL:
        return _sqlite(str(tmp_path / "other-engine.backup"), "CREATE TABLE t (x)")
    (tmp_path / "other-engine.backup").write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    return tmp_path / "other-engine.backup"


NOT_OURS = "not a SQLite database" if not PG_URL else "not a pg_dump custom-format archive"


@pytest.mark.parametrize("make, message", [
    (_missing, "No such file"),
    (_text_file, NOT_OURS),
    (_empty_file, NOT_OURS),
    (_other_engine_file, "is a SQLite database; restore it where" if PG_URL else "is a PostgreSQL dump; restore it"),
])
def test_restore_refuses_files_that_are_not_our_backups(app, runner, tmp_path, make, message):
    record(app, "current")
    result = runner.invoke(main, ["restore", str(make(tmp_path)), "--yes"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert titles(app) == ["current"]


def test_restore_of_a_directory_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(main, ["restore", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output


# --- SQLite: the file itself -----------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("statements, message", [
    (["CREATE TABLE notes (body TEXT)"], "not a Change Tracker one: it has no schema_migration table"),
    (["CREATE TABLE schema_migration (id INTEGER PRIMARY KEY, name TEXT, applied TEXT)"],
     "not a Change Tracker database: its schema_migration table is empty"),
    (["CREATE TABLE schema_migration (id INTEGER PRIMARY KEY, name TEXT, applied TEXT)",
      "INSERT INTO schema_migration (name) VALUES ('001_create_blog')"],
     "not a Change Tracker database: none of its migrations (001_create_blog)"),
])
def test_sqlite_restore_refuses_other_applications_databases(app, runner, tmp_path, statements, message):
    record(app, "current")
    path = _sqlite(str(tmp_path / "other.db"), *statements)
    result = runner.invoke(main, ["restore", path, "--yes"])
    assert result.exit_code == 2
    assert message in result.output
    assert titles(app) == ["current"]
    assert [n for n in os.listdir(os.path.dirname(database_file(app))) if ".partial-" in n] == []


@sqlite_only
def test_sqlite_restore_refuses_a_damaged_backup(app, runner, tmp_path):
    with connected(app):
        for i in range(200):
            record_event({"title": "event %d" % i, "description": "text to fill pages " * 20}, SEED)
    path = backup(runner)
    damaged = tmp_path / "damaged.db"
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    page = 4096
    for offset in range(2 * page, len(data) - page, 3 * page):  # scribble over every third page after the first two
        data[offset + 8:offset + 400] = b"\xa5" * 392
    damaged.write_bytes(bytes(data))

    result = runner.invoke(main, ["restore", str(damaged), "--yes"])
    assert result.exit_code == 2
    assert "integrity check" in result.output or "cannot be read as a SQLite database" in result.output
    assert len(titles(app)) == 200


def database_file(app):
    return app.config["DATABASE_URL"][len("sqlite:///"):]


@sqlite_only
def test_sqlite_restore_refuses_the_live_database_and_one_another_process_has_open(app, runner):
    record(app, "current")
    path = backup(runner)
    result = runner.invoke(main, ["restore", database_file(app), "--yes"])
    assert result.exit_code == 2 and "is the current database itself" in result.output

    other = sqlite3.connect(database_file(app))  # another process (the web service) reading the ledger
    try:
        other.execute("SELECT count(*) FROM event").fetchone()
        result = runner.invoke(main, ["restore", path, "--yes"])
        assert result.exit_code == 1
        assert "open in another process" in result.output and "stop the web service" in result.output
    finally:
        other.close()
    assert runner.invoke(main, ["restore", path, "--yes"]).exit_code == 0


@sqlite_only
def test_sqlite_restore_into_a_missing_database_needs_no_confirmation(app, runner, tmp_path):
    record(app, "from the backup")
    path = backup(runner)
    with app.app_context():
        disconnect()
    os.remove(database_file(app))
    result = runner.invoke(main, ["restore", path])
    assert result.exit_code == 0, result.output
    assert "kept a copy" not in result.output
    assert titles(app) == ["from the backup"]


# --- PostgreSQL: pg_dump archives ------------------------------------------------------------------


@postgres_only
def test_postgres_restore_refuses_a_dump_of_another_database(app, runner, tmp_path):
    record(app, "current")
    other = tmp_path / "postgres.dump"
    subprocess.run(["pg_dump", "--format=custom", "--schema-only", "--file", str(other), "--dbname", PG_URL],
                   check=True)
    result = runner.invoke(main, ["restore", str(other), "--yes"])
    assert result.exit_code == 2
    assert "not of a Change Tracker database: it has no schema_migration table" in result.output
    assert titles(app) == ["current"]


@postgres_only
def test_postgres_restore_without_the_client_tools_says_what_to_do(app, runner, tmp_path, monkeypatch):
    record(app, "current")
    path = backup(runner)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(main, ["restore", path, "--yes"])
    assert result.exit_code == 1
    assert "pg_restore is not on PATH" in result.output
    assert titles(app) == ["current"]


@postgres_only
def test_postgres_restore_drops_objects_newer_than_the_backup(app, runner):
    record(app, "current")
    path = backup(runner)
    with connected(app):
        database.execute_sql("CREATE TABLE left_behind (x integer)")
        database.execute_sql("CREATE FUNCTION left_behind_fn() RETURNS integer LANGUAGE sql AS 'SELECT 1'")
    assert runner.invoke(main, ["restore", path, "--yes"]).exit_code == 0
    with connected(app):
        assert not database.table_exists("left_behind")
        assert database.execute_sql("SELECT count(*) FROM pg_proc WHERE proname = 'left_behind_fn'").fetchone() == (0,)
    assert titles(app) == ["current"]


def test_safety_copies_made_within_one_second_get_distinct_names(tmp_path, monkeypatch):
    from app.ops import backups

    monkeypatch.setattr(backups, "stamp", lambda: "20261126T035900Z")
    first = backups.free_path(str(tmp_path), "changetracker-before-restore-%s.db")
    open(first, "w").close()
    second = backups.free_path(str(tmp_path), "changetracker-before-restore-%s.db")
    assert os.path.basename(first) == "changetracker-before-restore-20261126T035900Z.db"
    assert os.path.basename(second) == "changetracker-before-restore-20261126T035900Z-2.db"
