"""Fixtures in the Flask tutorial's style: app, client, runner, auth, plus a live server.

Every test gets a fresh database. SQLite (the default) copies a migrated template file per test;
with CHANGETRACKER_TEST_DATABASE_URL=postgresql://... the suite migrates one throw-away database
for the session and truncates every table before each test.
"""
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import namedtuple
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from app import create_app, migrations
from app.accounts import tokens, users
from app.db import database, open_database
from app.http.extensions import limiter
from app.models import MODELS, User

PG_URL = os.environ.get("CHANGETRACKER_TEST_DATABASE_URL", "")
PASSWORD = "correct horse battery"


def pytest_report_header(config):
    return "database: %s" % ("PostgreSQL (%s)" % PG_URL if PG_URL else "SQLite")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Served = namedtuple("Served", "body process")


@contextmanager
def server_process(command, env, cwd, probe_url, timeout=30):
    """Run the server ``command`` (its output in <cwd>/server.log) until ``probe_url`` answers; yields that
    answer's body and the process (the leader of its own process group, so a test can kill it with all its
    workers); stops the server afterwards. Fails the test with the log when it never answers."""
    log_path = os.path.join(cwd, "server.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(probe_url, timeout=2) as response:
                        body = response.read().decode()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        with open(log_path) as text:
                            pytest.fail("the server did not answer %s: %s" % (probe_url, text.read()))
                    time.sleep(0.2)
            yield Served(body, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Yields a callable giving a fresh, migrated database URL for one test."""
    if PG_URL:
        yield from _postgres_template()
    else:
        template = tmp_path_factory.mktemp("template") / "template.db"
        db = open_database("sqlite:///%s" % template)
        migrations.upgrade(db)
        db.close()

        def fresh(tmp_path):
            target = tmp_path / "changetracker.db"
            shutil.copy(template, target)
            return "sqlite:///%s" % target

        yield fresh


def _postgres_template():
    import psycopg2
    from psycopg2 import sql

    name = "changetracker_test_%s" % uuid.uuid4().hex[:8]
    admin = psycopg2.connect(_pg_url_for("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _pg_url_for(name)
    db = open_database(url)
    migrations.upgrade(db)
    db.close()
    tables = [m._meta.table_name for m in MODELS]

    def fresh(tmp_path):
        db = open_database(url)
        db.execute_sql("TRUNCATE %s RESTART IDENTITY CASCADE" % ", ".join('"%s"' % t for t in tables))
        db.close()
        return url

    try:
        yield fresh
    finally:
        if database.obj is not None and not database.is_closed():  # None when no test here opened the app
            database.close()
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def _pg_url_for(dbname):
    """PG_URL with its database name replaced, e.g. postgresql:///postgres -> postgresql:///<dbname>."""
    head, sep, query = PG_URL.partition("?")
    scheme, rest = head.split("://", 1)
    hostpart = rest.split("/", 1)[0]
    return "%s://%s/%s%s%s" % (scheme, hostpart, dbname, sep, query)


@pytest.fixture
def database_url(database_template, tmp_path):
    return database_template(tmp_path)


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({
        "TESTING": True,
        "ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "LOGIN_RATE_LIMIT": "1000 per minute",
    })
    app.instance_path = str(tmp_path / "instance")
    limiter.reset()
    yield app
    if not database.is_closed():
        database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@contextmanager
def connected(app):
    """Domain calls from a test, outside any request."""
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            yield
        finally:
            database.close()


def concurrently(calls):
    """Each ``(function, args)`` of ``calls`` on a thread of its own, with a database connection of its own, all
    released at once: [its result or the exception it raised] in call order."""
    outcomes, barrier = [None] * len(calls), threading.Barrier(len(calls))

    def run(index, function, args):
        database.connect(reuse_if_open=True)
        try:
            barrier.wait(10)
            outcomes[index] = function(*args)
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc
        finally:
            database.close()

    threads = [threading.Thread(target=run, args=(index, *call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


class AuthActions:
    """Create users and tokens directly, and log in through the real form."""

    def __init__(self, app, client):
        self.app = app
        self.client = client

    def user(self, username="editor", role="editor", password=PASSWORD):
        with connected(self.app):
            existing = User.get_or_none(User.username == username)
            return existing or users.create_user({"username": username, "role": role, "password": password})

    def token(self, role="editor", scope="write", username=None, **extra):
        """A bearer token secret for a (new or existing) user with ``role``."""
        user = self.user(username or role, role)
        with connected(self.app):
            _, secret = tokens.create_token(user, {"name": "test", "scopes": [scope], **extra})
        return secret

    def headers(self, role="editor", scope="write"):
        return {"Authorization": "Bearer " + self.token(role, scope)}

    def csrf_token(self, path="/login"):
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def login(self, username="editor", password=PASSWORD, role="editor"):
        self.user(username, role, password)
        return self.client.post("/login", data={
            "username": username, "password": password, "csrf_token": self.csrf_token()})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token("/")})


@pytest.fixture
def auth(app, client):
    return AuthActions(app, client)


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = "http://127.0.0.1:%d" % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free loopback port, for Groovy and the browser."""
    app.config["SESSION_COOKIE_SECURE"] = False  # plain http on 127.0.0.1
    server = LiveServer(app).start()
    yield server
    server.stop()


CHROMIUM = os.environ.get("CHANGETRACKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context whose requests may only go to the live server."""
    context = browser.new_context(base_url=live_server.url)
    outside = []

    def guard(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.outside_requests = outside
    yield page
    context.close()
    assert not outside, "the page tried to fetch from outside the service: %s" % outside
