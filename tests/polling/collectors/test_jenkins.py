"""The Jenkins collector against a local server that answers like Jenkins, through the real python-jenkins."""
import pytest

from app.polling.collectors import jenkins as collector
from app.polling.collectors.config import JenkinsController
from tests.fakes.jenkins import BUILT_IN, FakeJenkins, agent_config, computer

USER, TOKEN = "change-tracker", "11aa22bb33cc"


def controller(fake, **extra):
    settings = {"name": "ci", "url": fake.url, "user": USER, "token": TOKEN, "timeout": 2.0, "retries": 0,
                "concurrency": 4}
    settings.update(extra)
    return JenkinsController(**settings)


@pytest.fixture
def fixture_jenkins():
    with FakeJenkins.from_fixtures(user=USER, token=TOKEN) as fake:
        yield fake


def by_key(result):
    return {o["key"]: o for o in result.observations}


def test_fixture_fleet_is_observed_and_the_built_in_node_skipped(fixture_jenkins):
    result = collector.collect_controller(controller(fixture_jenkins))
    assert result.errors == []
    observed = by_key(result)
    agents = {k for k, o in observed.items() if o["collector"] == "jenkins_agent"}
    assert agents == {"ci/" + n for n in ("alpine-i686", "arm-greg", "i686-epian533-greg", "macos-giles",
                                          "osx-ppc-greg", "solaris-greg", "thomas-armv7", "thomas-armv8", "thomas-mips")}
    assert "/computer/master/config.xml" not in fixture_jenkins.paths()
    armv7 = observed["ci/thomas-armv7"]["content"]
    assert armv7["name"] == "thomas-armv7" and armv7["tools"]["JDK"]["home"] == "C:\\Program Files\\Java\\jdk1.8.0_112"
    assert armv7["observed"] == {"offline": False, "offline_reason": "", "os": "Linux (arm)"}
    alpine = observed["ci/alpine-i686"]["content"]
    assert alpine["observed"]["offline"] is True and "failed to launch" in alpine["observed"]["offline_reason"]
    assert alpine["observed"]["os"] is None  # an offline agent's monitors are null
    assert alpine["env"] == {"LANG": "ja_JP.UTF-8", "ENVIRONMENT": "develop"}
    assert observed["ci"]["collector"] in ("jenkins_nodes", "jenkins_plugins")
    nodes = [o for o in result.observations if o["collector"] == "jenkins_nodes"][0]["content"]
    assert len(nodes["agents"]) == 9 and "master" not in nodes["agents"]
    plugins = [o for o in result.observations if o["collector"] == "jenkins_plugins"][0]["content"]
    assert plugins["core"] == "2.462.3"
    assert plugins["plugins"] == {"workflow-aggregator": {"version": "2.5", "enabled": True, "active": True}}


def test_one_tree_query_for_the_fleet_whoami_before_version(fixture_jenkins):
    collector.collect_controller(controller(fixture_jenkins))
    paths = fixture_jenkins.paths()
    assert paths.index("/me/api/json") < paths.index("/")
    assert paths.count("/computer/api/json") == 1
    tree = [r for r in fixture_jenkins.requests if r.path == "/computer/api/json"][0].arg("tree")
    assert tree.startswith("computer[") and "assignedLabels[name]" in tree
    assert not any("depth" in r.query for r in fixture_jenkins.requests if r.path == "/computer/api/json")
    # every request authenticated (a Jenkins without anonymous read would 403 the version probe otherwise)
    assert all(r.basic_auth() == (USER, TOKEN) for r in fixture_jenkins.requests)


def test_modern_built_in_node_by_class_and_exclusions():
    fake = FakeJenkins(computers=[BUILT_IN, computer("linux-01"), computer("ephemeral-1234")],
                       configs={"linux-01": agent_config("linux-01"), "ephemeral-1234": agent_config("ephemeral-1234")})
    with fake:
        result = collector.collect_controller(controller(fake, user=None, token=None, exclude=("ephemeral-*",)))
    assert result.errors == []
    assert sorted(o["key"] for o in result.observations if o["collector"] == "jenkins_agent") == ["ci/linux-01"]
    assert not any("built-in" in p.lower() for p in fake.paths())


@pytest.mark.parametrize("fault, message", [
    ("500", "500"),
    ("truncate", "ParseError"),
    ("html", "not an agent config.xml"),
    ("empty", "ParseError"),
])
def test_one_broken_agent_never_hides_the_others(fixture_jenkins, fault, message):
    fixture_jenkins.faults["/computer/arm-greg/config.xml"] = fault
    result = collector.collect_controller(controller(fixture_jenkins))
    assert [e["target"] for e in result.errors] == ["ci/arm-greg"]
    assert message in result.errors[0]["message"]
    agents = [o for o in result.observations if o["collector"] == "jenkins_agent"]
    assert len(agents) == 8


def test_an_agent_that_times_out_is_its_own_error(fixture_jenkins):
    fixture_jenkins.hang["/computer/macos-giles/config.xml"] = 3
    result = collector.collect_controller(controller(fixture_jenkins, timeout=0.5))
    assert [e["target"] for e in result.errors] == ["ci/macos-giles"]
    assert "Timeout" in result.errors[0]["message"] or "timed out" in result.errors[0]["message"]
    assert len([o for o in result.observations if o["collector"] == "jenkins_agent"]) == 8


def test_a_controller_that_times_out_is_one_error_and_no_observations(fixture_jenkins):
    fixture_jenkins.hang["*"] = 3
    result = collector.collect_controller(controller(fixture_jenkins, timeout=0.3))
    assert result.observations == []
    assert [e["target"] for e in result.errors] == ["ci"]


def test_a_controller_answering_500_or_refusing_credentials(fixture_jenkins):
    fixture_jenkins.faults["/computer/api/json"] = "500"
    result = collector.collect_controller(controller(fixture_jenkins))
    assert result.observations == [] and result.errors[0]["target"] == "ci"
    fixture_jenkins.faults.clear()
    result = collector.collect_controller(controller(fixture_jenkins, token="wrong"))
    assert result.observations == [] and "401" in result.errors[0]["message"]


def test_unreachable_controller():
    result = collector.collect_controller(JenkinsController(name="gone", url="http://127.0.0.1:9/", timeout=0.5,
                                                            retries=0))
    assert result.observations == [] and result.errors[0]["target"] == "gone"
    assert "ConnectionError" in result.errors[0]["message"]


def test_plugin_manager_failure_keeps_the_agents(fixture_jenkins):
    fixture_jenkins.faults["/pluginManager/api/json"] = "500"
    result = collector.collect_controller(controller(fixture_jenkins))
    assert [e["target"] for e in result.errors] == ["ci plugins"]
    assert len([o for o in result.observations if o["collector"] == "jenkins_agent"]) == 9


def test_redacted_secrets_come_through_as_sent(fixture_jenkins):
    fixture_jenkins.configs["thomas-mips"] = fixture_jenkins.configs["thomas-mips"].replace(
        "<port>22</port>", "<port>22</port><password>********</password>")
    result = collector.collect_controller(controller(fixture_jenkins))
    assert by_key(result)["ci/thomas-mips"]["content"]["launcher"]["settings"]["password"] == "********"


def test_several_controllers_one_failing():
    with FakeJenkins(computers=[computer("a1")], configs={"a1": agent_config("a1")}) as good, \
            FakeJenkins(computers=[computer("b1")], configs={"b1": agent_config("b1")}) as bad:
        bad.faults["/me/api/json"] = "500"
        result = collector.collect([controller(bad, name="bad", user=None, token=None),
                                    controller(good, name="good", user=None, token=None)])
    assert [e["target"] for e in result.errors] == ["bad"]
    assert "good/a1" in {o["key"] for o in result.observations}


def test_modern_computer_entry_fixture():
    """computer-NAME-api.json (a Jenkins 2.x agent with _class and monitor data) as the fleet query's one entry."""
    import json

    from tests.fakes.jenkins import fixture

    mac = json.loads(fixture("computer-NAME-api.json"))
    with FakeJenkins(computers=[BUILT_IN, mac], configs={"Mac_slave": fixture("agent-config-ssh-envvars.xml")}) as fake:
        result = collector.collect_controller(controller(fake, user=None, token=None))
    assert result.errors == []
    [agent] = [o for o in result.observations if o["collector"] == "jenkins_agent"]
    assert agent["key"] == "ci/Mac_slave" and agent["content"]["name"] == "Mac_slave"
    assert agent["content"]["observed"] == {"offline": False, "offline_reason": "", "os": "Mac OS X (x86_64)"}
    assert agent["content"]["url"].endswith("/computer/Mac_slave/")
