"""The README's quick start and ten-minute walkthrough, run as a new user would: `make run`, the demo login, then
every shell block of "Ten minutes on the demo data", as printed, in one shell, against that server."""
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.parse

from pathlib import Path

import requests

from app import ROOT
from tests.conftest import free_port
from tests.docs import blocks, section
from tests.test_make_run import _make, _stop, _wait_for

DEFAULT_URL = "http://127.0.0.1:8000"  # what the README exports; the test's server listens elsewhere
MARK = "=== step %d"


def _script(steps, url):
    """One bash script running each block in turn, its output after a marker; the block that lists the webhook's
    event is retried until the worker has recorded it (the README says: within a few seconds)."""
    lines = ["set -euo pipefail"]
    for number, step in enumerate(steps):
        lines.append("echo %s" % shlex.quote(MARK % number))
        step = step.replace(DEFAULT_URL, url)
        if "source=webhook" in step:
            lines.append("for attempt in $(seq 120); do\n  out=$(%s)\n  case \"$out\" in *'Deploy payments'*) break;; "
                         "esac\n  sleep 0.5\ndone\necho \"$out\"" % step.strip())
        else:
            lines.append(step)
    return "\n".join(lines) + "\n"


def _outputs(stdout, count):
    parts = re.split(r"^=== step (\d+)$", stdout, flags=re.M)
    found = {int(parts[i]): parts[i + 1].strip() for i in range(1, len(parts), 2)}
    assert sorted(found) == list(range(count)), stdout
    return [found[i] for i in range(count)]


def _log_in(url, password):
    session = requests.Session()
    page = session.get(url + "/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = session.post(url + "/login", data={"username": "admin", "password": password, "csrf_token": csrf},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return session


def _json_values(text):
    """The JSON documents printed one after the other (curl adds no newline of its own)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def test_the_readme_from_make_run_through_the_walkthrough(tmp_path):
    steps = blocks(section(Path(ROOT) / "README.md", "## Ten minutes on the demo data"), "sh")
    assert len(steps) == 8
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGETRACKER_") and k != "VIRTUAL_ENV"}
    env["CHANGETRACKER_INSTANCE_PATH"] = str(tmp_path / "instance")
    # The user's folder: a checkout with its .venv (here: the virtualenv running the tests).
    home = tmp_path / "checkout"
    home.mkdir()
    (home / ".venv").symlink_to(sys.prefix)

    log = open(tmp_path / "make-run.log", "w", encoding="utf-8")
    server = _make("run", "BIND=127.0.0.1:%d" % port, env=env, log=log)
    try:
        _wait_for(url + "/healthz", server)
        walk = subprocess.run(["bash", "-c", _script(steps, url)], cwd=home, env=env, capture_output=True,
                              text=True, timeout=600)
        assert walk.returncode == 0, walk.stdout + walk.stderr
        # Quick start: the admin password make run printed logs in, and the pages the walkthrough names answer.
        printed = (tmp_path / "make-run.log").read_text(encoding="utf-8")
        browser = _log_in(url, re.search(r"created admin user 'admin' with password: (\S+)", printed).group(1))
        build = urllib.parse.quote("https://jenkins.example.com/job/app/job/main/42/", safe="")
        pages = {path: browser.get(url + path, timeout=30) for path in (
            "/", "/events?agent=linux-03", "/suspects?build_url=" + build, "/fleet", "/import", "/api/v1/docs")}
    finally:
        _stop(server, log)

    token, recorded, filtered, suspects, exchanged, webhook, listed, demo = _outputs(walk.stdout, len(steps))
    assert token == ""
    [event] = _json_values(recorded)
    assert (event["title"], event["agents"], event["source"]) == ("Docker 27.3 on linux-02", ["linux-02"], "pipeline")
    assert event["created_by"] == "admin (token walkthrough)"

    [page] = _json_values(filtered)
    assert page["items"] and all("linux-03" in e["agents"] and e["type"] == "agent_config" for e in page["items"])

    [answer] = _json_values(suspects)
    top = answer["items"][0]["event"]
    assert top["title"] == "linux-03: jdk-17 tool home /opt/jdk-17.0.9 → /opt/jdk-17.0.13"

    assert exchanged == "imported 1 events"
    assert (home / "linux-03.csv").read_text(encoding="utf-8").startswith("id,title,")

    created, delivered = _json_values(webhook)
    assert (created["name"], created["kind"]) == ("deployer", "generic") and "secret" not in created
    assert isinstance(delivered["id"], int)
    [deployed] = [e for e in _json_values(listed)[0]["items"] if e["title"] == "Deploy payments 1.4.2 to production"]
    assert (deployed["type"], deployed["agents"]) == ("deployment", ["linux-03"])

    assert "the demo changes linux-04: jdk-17 /opt/jdk-17.0.8 → /opt/jdk-17.0.13" in demo
    assert "second poll: ok, 10 observed, 1 changed, 1 event" in demo
    assert "see it on %s/fleet" % url in demo

    assert all(response.status_code == 200 for response in pages.values()), {
        path: response.status_code for path, response in pages.items()}
    assert "/opt/jdk-17.0.13" in pages["/suspects?build_url=" + build].text
    fleet = pages["/fleet"].text
    assert re.search(r'<tr data-row="linux-04">.*?>17\.0\.13<', fleet, re.S), "the demo's change is on /fleet"
    assert "/api/v1/openapi.json" in pages["/api/v1/docs"].text
