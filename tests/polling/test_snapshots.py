"""Snapshot diffs: a baseline first, then one event per meaningful change with before/after."""
from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from app.accounts.audit import Actor
from app.ledger import events
from app.models import Agent, Event, Snapshot, Tool
from app.polling import snapshots
from app.polling.collectors.agent_config import parse_agent_config
from tests.conftest import connected
from tests.fakes.jenkins import agent_config, fixture

ACTOR = Actor("poller")
T0 = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def agent_content(name="linux-07", offline=False, **config):
    content = parse_agent_config(agent_config(name, **config))
    content.update(name=name, controller="ci", url="https://ci.example.com/computer/%s/" % name,
                   temporarily_offline=False, observed={"offline": offline, "offline_reason": "", "os": "Linux (amd64)"})
    return content


def submit(collector, key, content, minutes=0, **extra):
    return snapshots.submit(collector, key, T0 + timedelta(minutes=minutes), content, actor=ACTOR, **extra)


def test_first_snapshot_is_a_baseline_then_one_event_per_change(app):
    with connected(app):
        first = submit("jenkins_agent", "ci/linux-07", agent_content(labels="linux"))
        assert first["baseline"] and not first["changed"] and first["event_ids"] == []
        assert Event.select().count() == 0

        changed = agent_content(labels="linux docker", tools={"JDK": "/opt/jdk-17.0.9", "Maven": "/opt/apache-maven-3.9.6"},
                                env={"MAVEN_OPTS": "-Xmx2g", "LANG": "C.UTF-8"})
        result = submit("jenkins_agent", "ci/linux-07", changed, minutes=60)
        assert result["changed"] and len(result["event_ids"]) == 1 and result["event_id"] == result["event_ids"][0]
        event = events.get_event(result["event_id"])
    assert event["title"] == ("linux-07: label docker added; JDK tool home /opt/jdk-17.0.8 → /opt/jdk-17.0.9; "
                              "env MAVEN_OPTS changed")
    assert event["type"] == "agent_config" and event["source"] == "poller" and event["created_by"] == "poller"
    assert event["agents"] == ["linux-07"] and event["tools"] == ["JDK"]
    assert event["occurred_at"] == T0 + timedelta(minutes=60)
    assert event["changes"] == [
        {"path": "env.MAVEN_OPTS", "before": "-Xmx1g", "after": "-Xmx2g"},
        {"path": "labels", "before": ["linux"], "after": ["docker", "linux"]},
        {"path": "tools.JDK.home", "before": "/opt/jdk-17.0.8", "after": "/opt/jdk-17.0.9"},
    ]
    assert result["changes"] == event["changes"]
    assert event["metadata"]["collector"] == "jenkins_agent" and event["metadata"]["key"] == "ci/linux-07"
    assert "03:00:00 UTC" in event["description"]


def test_unchanged_and_runtime_only_differences_record_nothing(app):
    with connected(app):
        submit("jenkins_agent", "ci/a1", agent_content("a1"))
        same = submit("jenkins_agent", "ci/a1", agent_content("a1"), minutes=10)
        went_offline = submit("jenkins_agent", "ci/a1", agent_content("a1", offline=True), minutes=20)
        assert not same["changed"] and not same["baseline"] and not went_offline["changed"]
        assert Event.select().count() == 0
        assert Snapshot.select().count() == 1  # the latest row is refreshed, not repeated
        latest = Snapshot.get()
        assert latest.observed_at == (T0 + timedelta(minutes=20)).replace(tzinfo=None)
        assert Agent.get(Agent.name == "a1").offline is True


def test_formatting_only_xml_differences_are_not_changes(app):
    original = fixture("agent-config-ssh-envvars.xml")
    reformatted = original.replace('version="1.0"', 'version="1.1"').replace("\n  ", "\n    ").replace(
        'class="hudson.plugins.sshslaves.SSHLauncher" plugin="ssh-slaves@1.5"',
        'plugin="ssh-slaves@1.5" class="hudson.plugins.sshslaves.SSHLauncher"')
    with connected(app):
        submit("jenkins_agent", "ci/example", {"config_xml": original})
        result = submit("jenkins_agent", "ci/example", {"config_xml": reformatted}, minutes=5)
        assert not result["changed"] and Event.select().count() == 0
        edited = reformatted.replace("<string>develop</string>", "<string>production</string>")
        result = submit("jenkins_agent", "ci/example", {"config_xml": edited}, minutes=10)
        assert result["changes"] == [{"path": "env.ENVIRONMENT", "before": "develop", "after": "production"}]
        assert events.get_event(result["event_id"])["title"] == "example: env ENVIRONMENT changed"


@pytest.mark.parametrize("before, after", [
    ("s3cr3t", "********"),
    ("********", "s3cr3t"),
    ("{AQAAABAAAAAQx5p8Y0gpsGb4wHQqFSbXx4Z0k5Q=}", "{AQAAABAAAAAQnM5Yv1Pw2J8N4x0q8T4h9K5wz9A=}"),
])
def test_redacted_and_re_encrypted_secrets_are_not_changes(app, before, after):
    with connected(app):
        content = agent_content()
        content["launcher"]["settings"]["password"] = before
        submit("jenkins_agent", "ci/linux-07", content)
        content["launcher"]["settings"]["password"] = after
        assert not submit("jenkins_agent", "ci/linux-07", content, minutes=1)["changed"]


def test_a_change_and_its_rollback_are_two_events(app):
    with connected(app):
        submit("jenkins_agent", "ci/a1", agent_content("a1"))
        up = submit("jenkins_agent", "ci/a1", agent_content("a1", tools={"JDK": "/opt/jdk-17.0.9"}), minutes=1)
        down = submit("jenkins_agent", "ci/a1", agent_content("a1", tools={"JDK": "/opt/jdk-17.0.8"}), minutes=2)
        assert up["event_id"] != down["event_id"]
        assert Event.select().count() == 2
        titles = [e.title for e in Event.select().order_by(Event.id)]
    assert titles == ["a1: JDK tool home /opt/jdk-17.0.8 → /opt/jdk-17.0.9; tool Maven removed",
                      "a1: JDK tool home /opt/jdk-17.0.9 → /opt/jdk-17.0.8"]


def test_resubmitting_an_observation_is_idempotent_and_older_ones_are_stale(app):
    with connected(app):
        submit("package", "pypi/requests", {"index": "pypi", "name": "requests", "version": "2.32.2"})
        new = {"index": "pypi", "name": "requests", "version": "2.32.3"}
        first = submit("package", "pypi/requests", new, minutes=5)
        again = submit("package", "pypi/requests", new, minutes=5)
        late = submit("package", "pypi/requests", {"index": "pypi", "name": "requests", "version": "2.0"}, minutes=1)
        assert first["changed"] and not again["changed"] and late["stale"] and not late["changed"]
        [event] = Event.select()
        assert event.title == "Package requests 2.32.2 → 2.32.3 (PyPI)" and event.type == "package_update"
        assert Tool.get(Tool.name == "requests").kind == "package"


def test_history_is_bounded_per_key(app):
    with connected(app):
        for n in range(8):
            submit("package", "npm/express", {"version": "4.%d.0" % n}, minutes=n, history=3)
        submit("package", "npm/other", {"version": "1"}, history=3)
        assert Snapshot.select().where(Snapshot.key == "npm/express").count() == 3
        assert Snapshot.select().where(Snapshot.key == "npm/other").count() == 1
        assert Event.select().count() == 7
        assert [s["content"]["version"] for s in snapshots.history_of("package", "npm/express")] == \
            ["4.7.0", "4.6.0", "4.5.0"]


def test_plugins_snapshot_gives_one_event_per_plugin_and_one_for_core(app):
    def plugins(core, **versions):
        return {"controller": "ci", "url": "https://ci/", "core": core,
                "plugins": {name: {"version": v, "enabled": True, "active": True} for name, v in versions.items()}}

    with connected(app):
        submit("jenkins_plugins", "ci", plugins("2.462.2", git="5.2.0", workflow_aggregator="2.5", junit="1.0"))
        current = plugins("2.462.3", git="5.2.1", workflow_aggregator="2.5", mailer="472.vf7c289a_4b_420")
        current["plugins"]["workflow_aggregator"]["enabled"] = False
        result = submit("jenkins_plugins", "ci", current, minutes=30)
        titles = sorted(events.get_event(i)["title"] for i in result["event_ids"])
        core = Event.get(Event.type == "jenkins_core")
        assert Tool.get(Tool.name == "git").kind == "plugin"
    assert titles == sorted([
        "Jenkins core 2.462.2 → 2.462.3 on ci",
        "Plugin git 5.2.0 → 5.2.1 on ci",
        "Plugin junit removed from ci",
        "Plugin mailer 472.vf7c289a_4b_420 installed on ci",
        "Plugin workflow_aggregator disabled on ci",
    ])
    assert core.severity == "medium" and core.changes == [{"path": "core", "before": "2.462.2", "after": "2.462.3"}]


def test_image_and_node_list_snapshots(app):
    with connected(app):
        submit("docker_image", "internal/library/python:3.12", {"digest": "sha256:" + "a" * 64})
        result = submit("docker_image", "internal/library/python:3.12", {"digest": "sha256:" + "b" * 64}, minutes=1)
        image = events.get_event(result["event_id"])
        submit("jenkins_nodes", "ci", {"controller": "ci", "agents": ["a1", "a2", "a3"]})
        result = submit("jenkins_nodes", "ci", {"controller": "ci", "agents": ["a3", "a1", "a4"]}, minutes=1)
        nodes = events.get_event(result["event_id"])
    assert image["title"] == "Image internal/library/python:3.12 now sha256:bbbbbbbbbbbb (was sha256:aaaaaaaaaaaa)"
    assert image["type"] == "docker_image" and image["tools"] == ["library/python:3.12"]
    assert nodes["title"] == "ci: agent a4 added; agent a2 removed" and nodes["agents"] == ["a2", "a4"]


def test_agent_row_follows_the_snapshot(app):
    with connected(app):
        submit("jenkins_agent", "ci/linux-07", agent_content(labels="linux docker", executors=4))
        agent = Agent.get(Agent.name == "linux-07")
        assert (agent.labels, agent.executors, agent.offline, agent.os) == (["docker", "linux"], 4, False, "Linux (amd64)")
        assert agent.url == "https://ci.example.com/computer/linux-07/"
        assert agent.last_seen_at == T0.replace(tzinfo=None)
        submit("jenkins_agent", "ci/linux-07", agent_content(labels="linux", executors=2, offline=True), minutes=5)
        agent = Agent.get(Agent.name == "linux-07")
        assert (agent.labels, agent.executors, agent.offline) == (["linux"], 2, True)


def test_long_titles_are_cut_and_say_how_much_is_left_out(app):
    with connected(app):
        submit("jenkins_agent", "ci/a1", agent_content("a1", env={}))
        many = {"VARIABLE_NUMBER_%02d" % n: "x" for n in range(30)}
        result = submit("jenkins_agent", "ci/a1", agent_content("a1", env=many), minutes=1)
        event = events.get_event(result["event_id"])
    assert len(event["title"]) <= 200 and event["title"].endswith("more")
    assert len(event["changes"]) == 30


@pytest.mark.parametrize("payload, field, message", [
    ({"collector": "ftp", "key": "k", "content": {}}, "collector", "Must be one of"),
    ({"collector": "package", "key": "", "content": {"version": "1"}}, "key", "Length must be between 1 and 300"),
    ({"collector": "package", "key": "pypi/x", "content": {}}, "content", "Missing data for required field"),
    ({"collector": "package", "key": "pypi/x", "content": []}, "content", "Not a valid mapping"),
    ({"collector": "package", "key": "pypi/x", "content": {"version": "1"}, "observed_at": "yesterday"},
     "observed_at", "Not a valid ISO 8601"),
    ({"collector": "package", "key": "pypi/x", "content": {"version": "1"}, "observed_at": "2026-01-01T00:00:00"},
     "observed_at", "UTC offset"),
    ({"collector": "package", "key": "pypi/x", "content": {"version": "1"}, "observed_at": "2999-01-01T00:00:00Z"},
     "observed_at", "future"),
    ({"collector": "jenkins_agent", "key": "ci/a", "content": {"config_xml": "<slave><name>a"}}, "content",
     "Not an agent config.xml"),
    ({"collector": "jenkins_agent", "key": "ci/a", "content": {"executors": "four"}}, "content", "Not a valid integer"),
    ({"collector": "package", "key": "pypi/x", "content": {"version": "1"}, "extra": 1}, "extra", "Unknown field"),
])
def test_invalid_submissions_write_nothing(app, payload, field, message):
    with connected(app):
        with pytest.raises(ValidationError) as caught:
            snapshots.submit_payload(payload)
        assert field in caught.value.messages and message in str(caught.value.messages[field])
        assert Snapshot.select().count() == 0
