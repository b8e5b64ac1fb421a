"""The demo data the README's walkthrough runs on, and `changetracker demo`: a poll of a small fake controller that
finds a change and shows it on /fleet."""
import pytest

from app.cli import main
from app.models import Event, Snapshot
from app.ops import demo
from app.ops.demo_jenkins import DemoJenkins
from tests.conftest import connected


@pytest.fixture
def seeded(app, runner):
    result = runner.invoke(main, ["seed"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def reader(auth):
    return auth.headers(role="viewer", scope="read")


@pytest.fixture
def quiet_proxies(monkeypatch):
    """`changetracker demo` adds 127.0.0.1 to no_proxy: restored after the test."""
    monkeypatch.setenv("no_proxy", "localhost")


def _outliers(client, reader):
    fleet = client.get("/api/v1/fleet", headers=reader).get_json()
    return {(o["row"], o["column"]): o for o in fleet["outliers"]}, fleet


def test_seed_gives_fleet_a_drift_matrix_with_the_walkthroughs_story(app, client, seeded, reader):
    assert "created admin user 'admin' with password: " in seeded.output
    outliers, fleet = _outliers(client, reader)

    assert {row["name"] for row in fleet["agents"]["rows"]} == set(demo.AGENTS)
    [jdk] = [column for column in fleet["agents"]["columns"] if column["name"] == "jdk-17"]
    assert (jdk["majority"], jdk["versions"]) == ("17.0.9", {"17.0.9": 6, "17.0.13": 1, "17.0.8": 1})
    upgraded = outliers[("linux-03", "jdk-17")]
    assert upgraded["version"] == "17.0.13"
    assert upgraded["event"]["title"] == "linux-03: jdk-17 tool home /opt/jdk-17.0.9 → /opt/jdk-17.0.13"
    assert outliers[("linux-04", "jdk-17")]["event"] is None, "left behind since the first poll"
    assert [row["name"] for row in fleet["controllers"]["rows"]] == ["demo-jenkins"]


def test_the_failed_demo_build_has_the_jdk_change_as_its_top_suspect(client, seeded, reader):
    answer = client.get("/api/v1/suspects", query_string={"build_url": demo.FAILED_BUILD_URL}, headers=reader)

    assert answer.status_code == 200, answer.get_json()
    top = answer.get_json()["items"][0]
    assert top["event"]["title"] == "linux-03: jdk-17 tool home /opt/jdk-17.0.9 → /opt/jdk-17.0.13"
    assert top["rank"] == "same_agent"


def test_the_demo_data_has_what_the_readme_filters_on(app, client, seeded, reader):
    events = client.get("/api/v1/events", query_string={"agent": "linux-03", "limit": 500}, headers=reader).get_json()
    assert len(events["items"]) >= 5
    with_build = client.get("/api/v1/events", query_string={"q": "app/main #42"}, headers=reader).get_json()["items"]
    assert [e["build_url"] for e in with_build] == [demo.FAILED_BUILD_URL]
    with connected(app):
        assert Snapshot.select().where(Snapshot.collector == "jenkins_agent").count() == len(demo.AGENTS) + 1


def test_seeding_twice_adds_nothing(app, runner, seeded):
    with connected(app):
        before = Event.select().count()
    assert "seeded %d demo events" % before in seeded.output, "the events stored, after repeats folded"
    again = runner.invoke(main, ["seed"])
    assert "already has events; no demo data added" in again.output
    with connected(app):
        assert Event.select().count() == before


def test_changetracker_demo_polls_a_fake_controller_and_the_change_shows_on_fleet(app, client, runner, seeded,
                                                                                reader, quiet_proxies):
    result = runner.invoke(main, ["demo", "--url", "http://tracker.test:8000/"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("demo controller http://127.0.0.1:") and lines[0].endswith(" (demo-jenkins, 8 agents)")
    assert lines[1] == "first poll: ok, 10 observed, 0 changed, 0 events", "the seeded snapshots are what it serves"
    assert lines[2] == "the demo changes linux-04: jdk-17 /opt/jdk-17.0.8 → /opt/jdk-17.0.13"
    assert lines[3] == "second poll: ok, 10 observed, 1 changed, 1 event"
    with connected(app):
        event = Event.select().order_by(Event.id.desc()).first()
    assert lines[4] == "  #%d linux-04: jdk-17 tool home /opt/jdk-17.0.8 → /opt/jdk-17.0.13  " \
                       "http://tracker.test:8000/events/%d" % (event.id, event.id)
    assert lines[5] == "see it on http://tracker.test:8000/fleet"
    assert (event.source, event.type) == ("poller", "agent_config")

    outliers, _ = _outliers(client, reader)
    assert outliers[("linux-04", "jdk-17")]["version"] == "17.0.13"
    assert outliers[("linux-04", "jdk-17")]["event"]["id"] == event.id, "/fleet links the cell to the poll's event"


def test_each_demo_takes_the_roll_out_one_agent_further(app, runner, seeded, quiet_proxies):
    changes = [runner.invoke(main, ["demo"]).output.splitlines()[2] for _ in range(3)]

    assert changes == ["the demo changes linux-04: jdk-17 /opt/jdk-17.0.8 → /opt/jdk-17.0.13",
                       "the demo changes linux-01: jdk-17 /opt/jdk-17.0.9 → /opt/jdk-17.0.13",
                       "the demo changes linux-02: jdk-17 /opt/jdk-17.0.9 → /opt/jdk-17.0.13"]


def test_once_every_agent_is_upgraded_the_demo_toggles_a_label():
    agents = demo.fleet()
    for spec in agents.values():
        spec["tools"]["jdk-17"] = spec["tools"]["jdk-17"].replace("17.0.9", "17.0.13").replace("17.0.8", "17.0.13")

    assert demo.next_change(agents) == "linux-02: label gpu added"
    assert agents["linux-02"]["labels"] == "linux docker gpu"
    assert demo.next_change(agents) == "linux-02: label gpu removed"


def test_the_demo_works_on_a_ledger_without_demo_data(app, runner, quiet_proxies):
    result = runner.invoke(main, ["demo"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "first poll: ok, 10 observed, 0 changed, 0 events"  # baselines
    assert "second poll: ok, 10 observed, 1 changed, 1 event" in result.output


def test_the_demo_controller_answers_like_a_jenkins():
    with DemoJenkins(demo.fleet(), demo.PLUGINS) as jenkins:
        status, body, _ = jenkins.answer("/computer/api/json", {"tree": ["computer[displayName]"]})
        missing = jenkins.answer("/computer/nobody/config.xml", {})

    assert status == 200 and '"displayName": "linux-01"' in body and "numExecutors" not in body
    assert missing[0] == 404
