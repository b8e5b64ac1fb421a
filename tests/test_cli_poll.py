"""`changetracker poll` end to end: a fake Jenkins (python-jenkins as the real client), registry and index."""
import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from app.cli import main
from app.models import Event, PollRun, Snapshot
from tests.conftest import connected
from tests.fakes.jenkins import FakeJenkins
from tests.fakes.packages import FakeIndex
from tests.fakes.registry import FakeRegistry, manifest
from tests.webhook_support import ROOT

USER, TOKEN = "change-tracker", "11aa22bb33cc"


@pytest.fixture
def jenkins():
    with FakeJenkins.from_fixtures(user=USER, token=TOKEN) as fake:
        yield fake


@pytest.fixture
def pollers_file(tmp_path, monkeypatch):
    """An empty pollers file; tests append sections. The CLI reads it in both modes."""
    path = tmp_path / "pollers.toml"
    path.write_text("[defaults]\ntimeout = 2.0\nretries = 0\nconcurrency = 4\n")
    monkeypatch.setenv("CHANGETRACKER_POLLERS_FILE", str(path))
    for name in ("URL", "USER", "TOKEN"):
        monkeypatch.delenv("CHANGETRACKER_JENKINS_" + name, raising=False)
    return path


@pytest.fixture
def one_controller(app, jenkins, pollers_file, monkeypatch):
    """The controller from CHANGETRACKER_JENKINS_URL/USER/TOKEN, as a deployment without a file sets it."""
    monkeypatch.setenv("CHANGETRACKER_JENKINS_URL", jenkins.url)
    monkeypatch.setenv("CHANGETRACKER_JENKINS_USER", USER)
    monkeypatch.setenv("CHANGETRACKER_JENKINS_TOKEN", TOKEN)
    return jenkins


def poll(runner, *args):
    result = runner.invoke(main, ["poll", *args])
    summary = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, summary


def test_config_change_on_jenkins_becomes_exactly_one_event(app, runner, one_controller):
    result, summary = poll(runner, "jenkins")
    assert result.exit_code == 0, result.output
    [report] = summary["pollers"]
    assert (summary["status"], report["status"]) == ("ok", "ok")
    assert report["observed"] == 11 and report["baselines"] == 11 and report["events"] == 0  # 9 agents, nodes, plugins
    assert report["seen"] == {"controllers": 1, "agents": 9}

    one_controller.configs["thomas-mips"] = one_controller.configs["thomas-mips"].replace(
        "<string>develop</string>", "<string>production</string>").replace("<label>hello</label>",
                                                                           "<label>hello docker</label>")
    result, summary = poll(runner, "jenkins")
    assert result.exit_code == 0, result.output
    report = summary["pollers"][0]
    assert (report["changed"], report["events"]) == (1, 1)
    assert report["changes"] == [{"collector": "jenkins_agent", "key": "127.0.0.1:%s/thomas-mips" % one_controller.url.split(":")[2].rstrip("/"),
                                  "event_ids": report["changes"][0]["event_ids"], "paths": ["env.ENVIRONMENT", "labels"]}]
    with connected(app):
        [event] = Event.select()
        assert event.title == "thomas-mips: label docker added; env ENVIRONMENT changed"
        assert event.changes == [{"path": "env.ENVIRONMENT", "before": "develop", "after": "production"},
                                 {"path": "labels", "before": ["hello"], "after": ["docker", "hello"]}]
        assert (event.type, event.source) == ("agent_config", "poller")

    result, summary = poll(runner, "jenkins")  # unchanged fleet
    assert result.exit_code == 0 and summary["pollers"][0]["events"] == 0
    with connected(app):
        assert Event.select().count() == 1
        runs = list(PollRun.select().order_by(PollRun.id))
        assert [(r.poller, r.status, r.observed, r.events) for r in runs] == [
            ("jenkins", "ok", 11, 0), ("jenkins", "ok", 11, 1), ("jenkins", "ok", 11, 0)]
        assert all(r.finished_at >= r.started_at for r in runs)


def test_push_to_a_live_tracker(app, runner, auth, live_server, one_controller, tmp_path):
    token = auth.token(role="editor", scope="record", username="nightly")
    output = tmp_path / "summary.json"
    result, _ = poll(runner, "all", "--push", live_server.url, "--token", token, "--output", str(output))
    assert result.exit_code == 0, result.output
    summary = json.loads(output.read_text())
    assert summary["mode"] == "push" and summary["status"] == "ok"
    statuses = {r["poller"]: r["status"] for r in summary["pollers"]}
    assert statuses == {"jenkins": "ok", "registry": "skipped", "packages": "skipped"}
    assert summary["pollers"][0]["run_id"] is None  # pushing touches no local database...
    with connected(app):
        assert Snapshot.select().count() == 11 and Event.select().count() == 0
        [run] = PollRun.select()  # ...but the tracker pushed to records the run (skipped pollers have none)
        assert (run.poller, run.status, run.observed, run.events, run.errors) == ("jenkins", "ok", 11, 0, [])
        assert run.finished_at >= run.started_at
    assert summary["pollers"][0]["remote_run_id"] == run.id and "remote_run_error" not in summary["pollers"][0]

    one_controller.configs["arm-greg"] = one_controller.configs["arm-greg"].replace("<numExecutors>5</numExecutors>",
                                                                                  "<numExecutors>8</numExecutors>")
    result = runner.invoke(main, ["poll", "jenkins", "--push", live_server.url], env={"CHANGETRACKER_TOKEN": token})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pollers"][0]["events"] == 1
    with connected(app):
        [event] = Event.select()
        assert event.title == "arm-greg: executors 5 → 8" and event.created_by == "nightly (token test)"
        runs = list(PollRun.select().order_by(PollRun.id))
        assert [(r.poller, r.status, r.observed, r.changed, r.events) for r in runs] == [
            ("jenkins", "ok", 11, 0, 0), ("jenkins", "ok", 11, 1, 1)]


def test_push_with_a_bad_token_fails_fast(app, runner, live_server, one_controller):
    result, summary = poll(runner, "jenkins", "--push", live_server.url, "--token", "ct_wrong")
    assert result.exit_code == 1
    report = summary["pollers"][0]
    assert report["status"] == "failed" and "401" in report["errors"][-1]["message"]
    assert len(report["errors"]) == 1  # one refusal, not one error per snapshot
    assert "error: jenkins: %s/api/v1/snapshots: " % live_server.url in result.stderr
    assert report["remote_run_id"] is None and report["remote_run_error"] == "not sent: the tracker refused the push"
    with connected(app):
        assert PollRun.select().count() == 0


def test_a_pushed_poll_that_could_observe_nothing_is_recorded_as_failed(app, runner, auth, live_server, jenkins,
                                                                         pollers_file, monkeypatch):
    token = auth.token(role="editor", scope="record", username="nightly")
    monkeypatch.setenv("CHANGETRACKER_JENKINS_URL", jenkins.url)  # no credentials: Jenkins answers 401
    result, summary = poll(runner, "jenkins", "--push", live_server.url, "--token", token)
    assert result.exit_code == 1
    report = summary["pollers"][0]
    assert report["status"] == "failed" and report["observed"] == 0
    with connected(app):
        [run] = PollRun.select()
        assert run.id == report["remote_run_id"] and run.status == "failed"
        assert run.errors == report["errors"] and run.errors[0]["target"] == report["errors"][0]["target"]


def test_a_tracker_that_cannot_record_runs_does_not_fail_the_push(app, runner, auth, live_server, one_controller):
    """An older tracker without /api/v1/poll-runs (here: the route answering 404) still gets the snapshots."""
    token = auth.token(role="editor", scope="record", username="nightly")
    app.view_functions["api.poll_runs.record_poll_run"] = lambda: ({"code": 404, "message": "Not Found",
                                                                     "errors": {}}, 404)
    result, summary = poll(runner, "jenkins", "--push", live_server.url, "--token", token)
    assert result.exit_code == 0, result.output
    report = summary["pollers"][0]
    assert report["status"] == "ok" and report["remote_run_id"] is None
    assert report["remote_run_error"] == "HTTP 404: Not Found"
    with connected(app):
        assert Snapshot.select().count() == 11 and PollRun.select().count() == 0


def test_push_needs_a_token(runner, one_controller):
    result = runner.invoke(main, ["poll", "jenkins", "--push", "http://127.0.0.1:9"], env={"CHANGETRACKER_TOKEN": ""})
    assert result.exit_code == 2 and "needs a token" in result.stderr


def test_naming_an_unconfigured_poller_is_an_error(runner, pollers_file):
    result = runner.invoke(main, ["poll", "registry"])
    assert result.exit_code == 2 and "nothing configured for the registry poller" in result.stderr
    result = runner.invoke(main, ["poll", "all"])
    assert result.exit_code == 0 and {r["status"] for r in json.loads(result.stdout)["pollers"]} == {"skipped"}


def test_broken_pollers_file_is_reported(runner, pollers_file):
    pollers_file.write_text("[[jenkins]]\nurl = 'not a url'\nfrobnicate = 1\n")
    result = runner.invoke(main, ["poll", "all"])
    assert result.exit_code == 2
    assert "jenkins.0.url" in result.stderr and "frobnicate" in result.stderr


def test_bad_input_everywhere_no_crash_others_still_collected(app, runner, jenkins, pollers_file):
    """A Jenkins that times out, one answering 500 and truncated XML for some agents, redacted secrets,
    a registry that demands a token (one we can get, one we cannot): each error is recorded, the rest goes in."""
    with FakeJenkins.from_fixtures() as slow, FakeRegistry({"library/python:3.12": manifest(1)}) as hub, \
            FakeRegistry({"ci/builder:1": manifest(2)}, user="poller", password="pw") as private, \
            FakeIndex(pypi={"requests": "2.32.3"}) as index:
        slow.hang["*"] = 3
        jenkins.faults["/computer/solaris-greg/config.xml"] = "500"
        jenkins.faults["/computer/arm-greg/config.xml"] = "truncate"
        jenkins.configs["thomas-mips"] = jenkins.configs["thomas-mips"].replace(
            "<port>22</port>", "<port>22</port><password>********</password>")
        pollers_file.write_text(pollers_file.read_text() + f"""
[[jenkins]]
name = "slow"
url = "{slow.url}"
timeout = 0.5

[[jenkins]]
name = "main"
url = "{jenkins.url}"
user = "{USER}"
token_env = "TEST_JENKINS_TOKEN"

[[registry]]
name = "hub"
url = "{hub.url}"
images = ["library/python:3.12"]

[[registry]]
name = "private"
url = "{private.url}"
images = ["ci/builder:1"]

[[package]]
index = "pypi"
name = "requests"
url = "{index.url}"
""")
        result = runner.invoke(main, ["poll", "all"], env={"TEST_JENKINS_TOKEN": TOKEN})
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    reports = {r["poller"]: r for r in summary["pollers"]}
    assert summary["status"] == "partial"
    assert {p: r["status"] for p, r in reports.items()} == {"jenkins": "partial", "registry": "partial",
                                                             "packages": "ok"}
    jenkins_errors = {e["target"]: e["message"] for e in reports["jenkins"]["errors"]}
    assert set(jenkins_errors) == {"slow", "main/solaris-greg", "main/arm-greg"}
    assert "500" in jenkins_errors["main/solaris-greg"] and "ParseError" in jenkins_errors["main/arm-greg"]
    assert reports["jenkins"]["observed"] == 7 + 2  # main's other agents, its node list and plugins
    assert [e["target"] for e in reports["registry"]["errors"]] == ["private/ci/builder:1"]
    assert reports["registry"]["observed"] == 1 and reports["packages"]["observed"] == 1
    assert "error: jenkins: slow:" in result.stderr and "error: registry: private/ci/builder:1" in result.stderr
    with connected(app):
        runs = {r.poller: r for r in PollRun.select()}
        assert runs["jenkins"].status == "partial" and len(runs["jenkins"].errors) == 3
        assert runs["registry"].status == "partial" and runs["packages"].status == "ok"
        assert Snapshot.select().where(Snapshot.key == "main/thomas-mips").get().content["launcher"]["settings"][
            "password"] == "********"


def test_a_poll_killed_mid_run_shows_as_abandoned_once_past_the_bound(app, client, runner, jenkins, tmp_path):
    """A real `changetracker poll` process, killed while Jenkins keeps it waiting, leaves its run 'running';
    past POLL_RUN_TIMEOUT_MINUTES /readyz shows it abandoned, and the next run is recorded as usual."""
    jenkins.hang["*"] = 30
    env = dict(os.environ, CHANGETRACKER_DATABASE_URL=app.config["DATABASE_URL"], CHANGETRACKER_ENV="test",
               CHANGETRACKER_SECRET_KEY=app.config["SECRET_KEY"], CHANGETRACKER_INSTANCE_PATH=str(tmp_path),
               CHANGETRACKER_POLLERS_FILE="", CHANGETRACKER_JENKINS_URL=jenkins.url,
               CHANGETRACKER_JENKINS_USER=USER, CHANGETRACKER_JENKINS_TOKEN=TOKEN)
    process = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "poll", "jenkins"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not jenkins.requests:  # the run is stored before Jenkins is asked
            time.sleep(0.05)
        assert jenkins.requests, "the poll never reached Jenkins"
    finally:
        process.kill()
        process.wait(10)
    with connected(app):
        [run] = PollRun.select()
        assert (run.status, run.finished_at) == ("running", None)
    assert client.get("/readyz").json["poll_runs"][0]["status"] == "running"  # young: it may still be working

    with connected(app):  # the bound passes
        PollRun.update(started_at=run.started_at - timedelta(minutes=app.config["POLL_RUN_TIMEOUT_MINUTES"] + 1)
                       ).where(PollRun.id == run.id).execute()
    [shown] = client.get("/readyz").json["poll_runs"]
    assert (shown["poller"], shown["status"], shown["errors"]) == ("jenkins", "abandoned", 1)
    with connected(app):
        assert PollRun.get_by_id(run.id).status == "abandoned"

    jenkins.hang.clear()
    result = runner.invoke(main, ["poll", "jenkins"], env={name: env[name] for name in env if name.startswith(
        "CHANGETRACKER_JENKINS_") or name == "CHANGETRACKER_POLLERS_FILE"})
    assert result.exit_code == 0, result.output
    with connected(app):
        assert [r.status for r in PollRun.select().order_by(PollRun.id)] == ["abandoned", "ok"]
