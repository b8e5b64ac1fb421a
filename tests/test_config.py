"""Configuration: environment first, a refusal without a secret key, and a real gunicorn start."""
import os
import sys

import pytest

from app import create_app
from app.config import ConfigError
from tests.conftest import free_port, server_process

VENV_BIN = os.path.dirname(sys.executable)


def test_refuses_to_start_without_secret_key_in_production(tmp_path, monkeypatch):
    monkeypatch.delenv("CHANGETRACKER_SECRET_KEY", raising=False)
    monkeypatch.setenv("CHANGETRACKER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CHANGETRACKER_DATABASE_URL", "sqlite:///%s" % (tmp_path / "x.db"))
    with pytest.raises(ConfigError, match="CHANGETRACKER_SECRET_KEY is not set"):
        create_app()


def test_secret_key_from_instance_file(tmp_path, monkeypatch):
    from app.config import write_instance_secret_key

    monkeypatch.delenv("CHANGETRACKER_SECRET_KEY", raising=False)
    monkeypatch.setenv("CHANGETRACKER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CHANGETRACKER_DATABASE_URL", "sqlite:///%s" % (tmp_path / "x.db"))
    path = write_instance_secret_key(str(tmp_path))
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path) as fh:
        assert create_app().config["SECRET_KEY"] == fh.read().strip()


def test_environment_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CHANGETRACKER_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("CHANGETRACKER_DATABASE_URL", "sqlite:///%s" % (tmp_path / "x.db"))
    monkeypatch.setenv("CHANGETRACKER_SESSION_COOKIE_SECURE", "false")
    monkeypatch.setenv("CHANGETRACKER_DEDUPE_WINDOW_MINUTES", "15")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["DEDUPE_WINDOW_MINUTES"] == 15
    assert app.config["DATABASE_URL"].endswith("x.db")


def test_gunicorn_serves_with_only_database_url_and_secret_key(tmp_path, database_url):
    from app import migrations
    from app.db import open_database

    db = open_database(database_url)
    migrations.upgrade(db)
    db.close()
    port = free_port()
    env = {"PATH": os.environ["PATH"], "CHANGETRACKER_DATABASE_URL": database_url,
           "CHANGETRACKER_SECRET_KEY": "s" * 64, "HOME": str(tmp_path)}
    command = [os.path.join(VENV_BIN, "gunicorn"), "--bind", "127.0.0.1:%d" % port, "--workers", "2", "app:create_app()"]
    with server_process(command, env, tmp_path, "http://127.0.0.1:%d/readyz" % port) as served:
        assert '"status":"ready"' in served.body.replace(" ", "")
