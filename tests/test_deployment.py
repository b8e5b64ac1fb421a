"""docker-compose.yml and the Dockerfile: every command they run exists in the package and parses, the health
probe answers for a live service, and Debian's docker-compose accepts the file (`docker-compose config`)."""
import os
import subprocess
import sys

import click
import pytest
import yaml

from app.cli import main
from app.ops import backups
from tests.conftest import connected, free_port
from tests.interop.programs import program
from tests.webhook_support import ROOT

COMPOSE = os.path.join(ROOT, "docker-compose.yml")
OUR_SERVICES = ("migrate", "web", "worker", "backup")


def compose():
    with open(COMPOSE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def dockerfile_instruction(name):
    """The JSON-form argument list of a Dockerfile instruction (continuation lines joined)."""
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as fh:
        text = fh.read().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return yaml.safe_load(line[line.index("["):])


def parse(command):
    """Parse ``changetracker ...`` arguments through the real click commands, without running them."""
    assert command[0] == "changetracker", command
    group, args = main, list(command[1:])
    while isinstance(group, click.Group):
        name, args = args[0], args[1:]
        group = group.commands.get(name)
        assert group is not None, "no command %r in %s" % (name, command)
    group.make_context(command[-1], args)  # raises on an unknown option or a bad value
    return group


def test_every_service_runs_a_command_of_the_package():
    services = compose()["services"]
    assert set(OUR_SERVICES) <= set(services)
    for name in OUR_SERVICES:
        assert services[name]["build"] == "." and services[name]["environment"]["CHANGETRACKER_SECRET_KEY"]
        parse(services[name]["command"])
    parse(dockerfile_instruction("CMD"))
    assert services["postgres"]["profiles"] == ["postgres"]


def test_migrations_run_once_before_the_rest_starts():
    services = compose()["services"]
    assert services["migrate"]["command"][1:3] == ["db", "upgrade"] and services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "backup"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert "upgrade" not in services[name]["command"]


def test_the_health_probe_is_the_images_and_answers_for_a_live_service(live_server):
    probe = dockerfile_instruction("HEALTHCHECK")
    assert probe == ["python", "-m", "app.http.probe", "http://127.0.0.1:8000/healthz"]
    assert compose()["services"]["web"]["healthcheck"]["test"] == ["CMD", *probe]
    run = [sys.executable, *probe[1:3]]
    assert subprocess.run(run + [live_server.url + "/healthz"], timeout=30).returncode == 0
    down = subprocess.run(run + ["http://127.0.0.1:%d/healthz" % free_port()], capture_output=True, text=True,
                          timeout=30)
    assert down.returncode == 1 and "unhealthy" in down.stderr


def test_scheduled_backups_keep_the_newest(app, tmp_path, monkeypatch):
    stamps = iter(["20261120T000000Z", "20261120T060000Z", "20261120T120000Z"])
    monkeypatch.setattr(backups, "stamp", lambda: next(stamps))
    written = []
    with connected(app):
        backups.backup_every(6, str(tmp_path / "b"), keep=2, log=written.append, sleep=lambda s: None, rounds=3)
    assert [os.path.basename(p) for p in written] == [
        "changetracker-%s.%s" % (s, "db" if app.config["DATABASE_URL"].startswith("sqlite") else "dump")
        for s in ("20261120T000000Z", "20261120T060000Z", "20261120T120000Z")]
    assert sorted(os.listdir(tmp_path / "b")) == sorted(os.path.basename(p) for p in written[1:])


@pytest.mark.interop
def test_docker_compose_accepts_the_file(tmp_path):
    binary = program("docker-compose")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CHANGETRACKER_SECRET_KEY": "k" * 64}
    done = subprocess.run([binary, "-f", COMPOSE, "config"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == {*OUR_SERVICES, "postgres"}
    assert resolved["services"]["postgres"]["profiles"] == ["postgres"]  # started only with --profile postgres
    assert resolved["services"]["web"]["environment"]["CHANGETRACKER_DATABASE_URL"].startswith("sqlite:////var/lib")
    with_pg = subprocess.run([binary, "-f", COMPOSE, "--profile", "postgres", "config", "--services"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert with_pg.returncode == 0 and "postgres" in with_pg.stdout.split()
    del env["CHANGETRACKER_SECRET_KEY"]
    refused = subprocess.run([binary, "-f", COMPOSE, "config"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "set CHANGETRACKER_SECRET_KEY" in refused.stderr


def test_upgrade_waits_for_a_database_that_is_not_up_yet():
    from peewee import OperationalError

    from app.db import open_database, wait_until_open

    db = open_database("postgresql://nobody@127.0.0.1:%d/none" % free_port())
    with pytest.raises(OperationalError):
        wait_until_open(db, 1)
