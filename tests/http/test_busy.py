"""A database too busy to answer in time: every write is answered 503 with Retry-After (never 500), writes
nothing, and is counted on /metrics; the same request succeeds once the database is free."""
import os
import sqlite3
import subprocess
import sys
import threading

import pytest

from app import create_app
from app.db import database
from app.http.extensions import limiter
from app.models import Event, InboxItem
from tests.conftest import PG_URL, AuthActions, connected
from tests.http.test_metrics import scrape, value
from tests.webhook_support import ROOT, deliver, fixture_bytes, make_source

EVENT = {"title": "Upgrade JDK on linux-07", "agents": ["linux-07"]}


@pytest.fixture
def busy_app(database_url, tmp_path):
    """The app with one pooled connection and a one-second wait, for lock and pool exhaustion alike."""
    app = create_app({"TESTING": True, "ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
                      "DATABASE_POOL_SIZE": 1, "SQLITE_BUSY_TIMEOUT_MS": 1000})
    app.instance_path = str(tmp_path / "instance")
    limiter.reset()
    yield app
    if not database.is_closed():
        database.close()


def _refused(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    assert response.json["code"] == 503 and "busy" in response.json["message"]


def _unchanged(app):
    with connected(app):
        return Event.select().count(), InboxItem.select().count()


def test_no_free_connection_answers_503_and_the_retry_succeeds(busy_app):
    client = busy_app.test_client()
    auth = AuthActions(busy_app, client)
    writer, reader = auth.headers("editor", "write"), auth.headers("viewer", "read")
    make_source(busy_app, "ci", "jenkins")
    body = fixture_bytes("notification-plugin-completed.json")
    before = scrape(client, reader)
    taken, done = threading.Event(), threading.Event()

    def hold_the_only_connection():
        database.connect()
        taken.set()
        done.wait(30)
        database.close()

    holder = threading.Thread(target=hold_the_only_connection)
    holder.start()
    taken.wait(10)
    try:
        _refused(client.post("/api/v1/events", json=EVENT, headers=writer))
        _refused(deliver(client, "jenkins", "ci", body))
    finally:
        done.set()
        holder.join(10)
    assert _unchanged(busy_app) == (0, 0)
    assert client.post("/api/v1/events", json=EVENT, headers=writer).status_code == 201
    assert deliver(client, "jenkins", "ci", body).status_code == 202
    after = scrape(client, reader)
    for endpoint in ("api.events.create_event", "hooks.receive"):
        counted = [value(samples, "changetracker_database_busy_refusals_total", endpoint=endpoint) or 0
                   for samples in (before, after)]
        assert counted[1] - counted[0] == 1


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's one write lock; PostgreSQL writers lock rows, not the database")
def test_a_write_lock_held_past_the_wait_answers_503_and_writes_nothing(busy_app, database_url):
    client = busy_app.test_client()
    auth = AuthActions(busy_app, client)
    writer = auth.headers("editor", "write")
    assert client.get("/api/v1/events", headers=writer).status_code == 200  # the token's last use is noted now
    make_source(busy_app, "ci", "jenkins")
    other = sqlite3.connect(database_url[len("sqlite:///"):], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    try:
        _refused(client.post("/api/v1/events", json=EVENT, headers=writer))
        _refused(deliver(client, "jenkins", "ci", fixture_bytes("notification-plugin-completed.json")))
        _refused(client.post("/api/v1/events/import", data=b"title\nfrom a file\n", headers=writer,
                             content_type="text/csv"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _unchanged(busy_app) == (0, 0)
    assert client.post("/api/v1/events", json=EVENT, headers=writer).status_code == 201


HOLD_A_WRITE = """
import sys
from app import dialect
from app.db import database, open_database
database.initialize(open_database(sys.argv[1]))
with dialect.write_transaction():
    print("writing", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's one write lock; PostgreSQL writers lock rows, not the database")
def test_writers_wait_their_turn_behind_another_service_process_then_get_503(busy_app, database_url, tmp_path):
    """Change Tracker's processes take turns to write (app.dialect: an flock beside the file, so the next writer
    starts as soon as one commits): one writing past the wait leaves the others a 503, not a hang."""
    client = busy_app.test_client()
    writer = AuthActions(busy_app, client).headers("editor", "write")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_WRITE, database_url], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "writing\n"
        _refused(client.post("/api/v1/events", json=EVENT, headers=writer))
        _refused(client.post("/api/v1/events/import", data=b"title\nfrom a file\n", headers=writer,
                             content_type="text/csv"))
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    assert _unchanged(busy_app) == (0, 0)
    assert client.post("/api/v1/events", json=EVENT, headers=writer).status_code == 201
    assert os.path.exists(database_url[len("sqlite:///"):] + "-writer")
