"""run_pollers: a PollRun per poller, a JSON-able summary, and one poller's failure never hides the others."""
import inspect
import json

import pytest

from app.models import Event, PollRun
from app.polling import runner
from app.polling.collectors.config import JenkinsController, PackageSource, PollerSettings
from tests.conftest import connected
from tests.fakes.jenkins import FakeJenkins, agent_config, computer
from tests.fakes.packages import FakeIndex


@pytest.fixture
def services():
    with FakeJenkins(computers=[computer("a1"), computer("a2")],
                     configs={"a1": agent_config("a1"), "a2": agent_config("a2")}) as jenkins, \
            FakeIndex(pypi={"requests": "2.32.3"}) as index:
        yield PollerSettings(
            jenkins=(JenkinsController(name="ci", url=jenkins.url, timeout=2.0, retries=0),),
            packages=(PackageSource(index="pypi", name="requests", url=index.url, timeout=2.0, retries=0),))


def test_the_worker_calls_run_pollers_with_names():
    params = list(inspect.signature(runner.run_pollers).parameters)
    assert params[:3] == ["names", "push_url", "token"]


def test_all_runs_what_is_configured_and_records_poll_runs(app, services):
    with connected(app):
        summary = runner.run_pollers(["all"], settings=services)
        json.dumps(summary)  # what the nightly job archives
        assert summary["status"] == "ok" and summary["mode"] == "local"
        reports = {r["poller"]: r for r in summary["pollers"]}
        assert reports["registry"]["status"] == "skipped"
        assert (reports["jenkins"]["observed"], reports["jenkins"]["baselines"]) == (4, 4)
        assert reports["packages"]["observed"] == 1
        runs = {r.poller: r for r in PollRun.select()}
        assert set(runs) == {"jenkins", "packages"}
        assert runs["jenkins"].id == reports["jenkins"]["run_id"]
        assert (runs["jenkins"].status, runs["jenkins"].observed, runs["jenkins"].errors) == ("ok", 4, [])


def test_a_crashing_poller_is_recorded_and_the_others_still_run(app, services, monkeypatch):
    def boom(settings):
        raise RuntimeError("index exploded")

    monkeypatch.setitem(runner.COLLECTORS, "jenkins", boom)
    with connected(app):
        summary = runner.run_pollers(["jenkins", "packages"], settings=services)
        reports = {r["poller"]: r for r in summary["pollers"]}
        assert summary["status"] == "failed"
        assert reports["jenkins"]["status"] == "failed"
        assert reports["jenkins"]["errors"] == [{"target": "jenkins", "message": "RuntimeError: index exploded"}]
        assert reports["packages"]["status"] == "ok"
        failed = PollRun.get(PollRun.poller == "jenkins")
        assert failed.status == "failed" and failed.errors[0]["message"] == "RuntimeError: index exploded"
        assert failed.finished_at is not None


def test_second_run_over_an_unchanged_fleet_records_no_events(app, services):
    with connected(app):
        runner.run_pollers(["jenkins"], settings=services)
        summary = runner.run_pollers(["jenkins"], settings=services)
        assert summary["pollers"][0]["events"] == 0 and Event.select().count() == 0


def test_unknown_poller_names():
    with pytest.raises(ValueError, match="unknown poller 'ftp'"):
        runner.expand(["ftp"])
    assert runner.expand(["packages", "all"]) == ["packages", "jenkins", "registry"]


def test_a_snapshot_the_database_refuses_costs_only_itself(app, services, monkeypatch):
    from app.polling import snapshots

    real = snapshots.submit

    def flaky(collector, key, *args, **kwargs):
        if key == "ci/a1":
            raise RuntimeError("disk full")
        return real(collector, key, *args, **kwargs)

    monkeypatch.setattr(snapshots, "submit", flaky)
    with connected(app):
        report = runner.run_pollers(["jenkins"], settings=services)["pollers"][0]
    assert report["status"] == "partial" and report["submitted"] == 3
    assert report["errors"] == [{"target": "ci/a1", "message": "RuntimeError: disk full"}]
