"""app.db: one pooled database per process; every request, CLI command and worker unit hands its connection back."""
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import requests
from peewee import PostgresqlDatabase, SqliteDatabase
from playhouse.pool import PooledDatabase

from app import create_app
from app.cli import main
from app.db import chunks, database, from_db_time, open_database
from app.models import User
from tests.conftest import PG_URL, connected


def in_use():
    return len(database.obj._in_use)


def idle():
    return len(database.obj._connections)


def server_connections(app):
    """PostgreSQL only: this test database's connections the server sees."""
    with connected(app):
        name = database.execute_sql("SELECT current_database()").fetchone()[0]
        return database.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]


def test_the_app_binds_a_pooled_database_of_the_configured_kind(app):
    assert isinstance(database.obj, PooledDatabase)
    assert isinstance(database.obj, PostgresqlDatabase if PG_URL else SqliteDatabase)


def test_requests_hand_their_connection_back_and_reuse_it(app, client, auth):
    headers = auth.headers(role="viewer", scope="read")
    for _ in range(20):
        assert client.get("/api/v1/events", headers=headers).status_code == 200
        assert client.get("/readyz").status_code == 200
    assert (in_use(), idle()) == (0, 1)  # one connection, checked out and back forty times
    if PG_URL:
        assert server_connections(app) <= 2  # the pooled one (+ the one asking, unless it is the same)


def test_concurrent_requests_each_get_a_connection_and_return_it(app, live_server, auth):
    """Threads take turns with pooled connections (on SQLite too: check_same_thread is off for the pool)."""
    headers = auth.headers(role="viewer", scope="read")
    with requests.Session() as http:
        def fetch(_):
            return http.get(live_server.url + "/api/v1/events", headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(fetch, range(80)))
    assert statuses == [200] * 80
    assert in_use() == 0 and 1 <= idle() <= 8


def test_a_connection_handed_back_inside_a_transaction_is_rolled_back(app):
    with connected(app):  # as a unit of work that died half-way, outside any peewee transaction
        database.execute_sql("BEGIN")
        User.create(username="half-way", role="viewer", password_hash="x")
    with connected(app):
        assert idle() == 0  # the same connection again, rolled back when it was handed back:
        assert not User.select().where(User.username == "half-way").exists()
    assert in_use() == 0


def test_the_cli_hands_its_connection_back(app, runner):
    result = runner.invoke(main, ["users", "create", "cli-user", "--role", "viewer", "--password", "correct horse"])
    assert result.exit_code == 0, result.output
    assert in_use() == 0


def test_the_worker_hands_its_connections_back(app):
    from app.ops.worker import Worker

    worker = Worker(app, schedule=False)
    worker.run(once=True)
    assert in_use() == 0


def test_a_new_app_closes_the_idle_connections_of_the_pool_it_replaces(app, client, database_url):
    client.get("/readyz")
    old = database.obj
    assert len(old._connections) == 1
    create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x"})
    assert old._connections == [] and database.obj is not old


def test_pool_size_zero_opens_a_connection_per_request(database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x", "DATABASE_POOL_SIZE": 0})
    assert not isinstance(database.obj, PooledDatabase)
    assert app.test_client().get("/readyz").status_code == 200
    assert database.is_closed()


def test_open_database_keeps_an_explicit_pool_scheme(database_url):
    scheme, rest = database_url.split("://", 1)
    db = open_database("%s+pool://%s" % (scheme, rest), pool_size=3)
    assert isinstance(db, PooledDatabase) and db._max_connections == 3


def test_chunks_slices_a_sequence_or_an_iterable():
    assert chunks(list(range(1001))) == [list(range(500)), list(range(500, 1000)), [1000]]
    assert chunks((n for n in "abc"), 2) == [["a", "b"], ["c"]]
    assert chunks([]) == []


def test_from_db_time_reads_the_stored_text_and_the_drivers_datetimes_as_utc():
    utc = timezone.utc
    assert from_db_time("2026-03-04 05:06:07.089000") == datetime(2026, 3, 4, 5, 6, 7, 89000, tzinfo=utc)
    assert from_db_time("2026-03-04 05:06:07") == datetime(2026, 3, 4, 5, 6, 7, tzinfo=utc)
    assert from_db_time("2026-03-04") == datetime(2026, 3, 4, tzinfo=utc)  # SQLite's date(): no time to append to
    assert from_db_time(datetime(2026, 3, 4, 5, 6)) == datetime(2026, 3, 4, 5, 6, tzinfo=utc)  # PostgreSQL's driver
    assert from_db_time(None) is None
    assert from_db_time("2026-03-04 05:06:07").utcoffset().total_seconds() == 0
