"""config.xml parsing: the real fixtures, both env-var comparators, and what must not count as a change."""
import pytest

from app.polling.collectors.agent_config import ParseError, parse_agent_config, tool_kind
from tests.fakes.jenkins import agent_config, fixture


def test_modern_jnlp_fixture_with_tools_and_env_vars():
    config = parse_agent_config(fixture("agent-config-jnlp-tools-envvars.xml", "rb"))
    assert config["name"] == "172.19.5.230"
    assert config["description"] == "172.19.5.230刘智"
    assert config["remote_fs"] == "D:\\Jenkins"
    assert (config["executors"], config["mode"]) == (1, "EXCLUSIVE")
    assert config["labels"] == ["172.19.5.230刘智"]
    assert config["launcher"]["type"] == "hudson.slaves.JNLPLauncher"
    assert config["launcher"]["settings"]["workDirSettings.workDirPath"] == "D:\\Jenkins"
    assert config["retention"] == "hudson.slaves.RetentionStrategy$Always"
    assert config["tools"] == {
        "JDK": {"kind": "jdk", "type": "hudson.model.JDK$DescriptorImpl", "home": "C:\\Program Files\\Java\\jdk1.8.0_112"},
        "Git": {"kind": "git", "type": "hudson.plugins.git.GitTool$DescriptorImpl", "home": "D:\\Program\\Git\\cmd\\git.exe"},
        "Maven": {"kind": "maven", "type": "hudson.tasks.Maven$MavenInstallation$DescriptorImpl", "home": "D:\\Program\\Maven"},
        "Ant": {"kind": "ant", "type": "hudson.tasks.Ant$AntInstallation$DescriptorImpl",
                "home": "D:\\Program\\Ant\\org.apache.ant_1.9.6.v201510161327"},
    }
    # java.lang.String$CaseInsensitiveComparator (current cores)
    assert config["env"] == {"LANG": "zh_CN.UTF-8"}


def test_older_ssh_fixture_with_the_hudson_comparator():
    config = parse_agent_config(fixture("agent-config-ssh-envvars.xml"))
    assert config["name"] == "example"
    assert config["executors"] == 5 and config["labels"] == ["hello"]
    assert config["launcher"] == {"type": "hudson.plugins.sshslaves.SSHLauncher", "settings": {
        "host": "dev-slave01.local", "port": "22", "credentialsId": "CREDENTIAL-ID-FOR-SLAVE",
        "jvmOptions": "-Dfile.encoding=UTF-8"}}
    # hudson.util.CaseInsensitiveComparator (older cores); the comment inside the tree-map is ignored
    assert config["env"] == {"LANG": "ja_JP.UTF-8", "ENVIRONMENT": "develop"}
    assert config["tools"] == {}


def test_formatting_only_differences_parse_the_same():
    original = fixture("agent-config-ssh-envvars.xml")
    reformatted = (original
                   .replace('<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.1' encoding='UTF-8'?>")
                   .replace('<launcher class="hudson.plugins.sshslaves.SSHLauncher" plugin="ssh-slaves@1.5">',
                            '<launcher   plugin="ssh-slaves@1.5"\n   class="hudson.plugins.sshslaves.SSHLauncher" >')
                   .replace("\n  ", "\n\t\t").replace("<label>hello</label>", "<label>  hello\n</label>"))
    assert reformatted != original
    assert parse_agent_config(reformatted) == parse_agent_config(original)
    # no declaration at all, everything on one line
    one_line = "".join(line.strip() for line in original.splitlines()[1:])
    assert parse_agent_config(one_line) == parse_agent_config(original)


def test_xml_1_1_control_character_references_are_tolerated():
    xml = agent_config("a1", env={"BELL": "ding&#x7;dong"}, declaration="1.1")
    assert parse_agent_config(xml)["env"]["BELL"] == "ding\ufffddong"


def test_labels_are_a_sorted_set_and_tool_names_may_repeat_across_types():
    xml = agent_config("a1", labels="linux  docker linux", tools={})
    xml = xml.replace("<locations></locations>", (
        "<locations><hudson.tools.ToolLocationNodeProperty_-ToolLocation><type>hudson.model.JDK$DescriptorImpl</type>"
        "<name>default</name><home>/opt/jdk-21</home></hudson.tools.ToolLocationNodeProperty_-ToolLocation>"
        "<hudson.tools.ToolLocationNodeProperty_-ToolLocation><type>hudson.tasks.Maven$MavenInstallation$DescriptorImpl"
        "</type><name>default</name><home>/opt/maven</home></hudson.tools.ToolLocationNodeProperty_-ToolLocation>"
        "</locations>"))
    config = parse_agent_config(xml)
    assert config["labels"] == ["docker", "linux"]
    assert config["tools"]["default"]["home"] == "/opt/jdk-21"
    assert config["tools"]["default (maven)"]["home"] == "/opt/maven"


def test_redacted_secrets_are_kept_as_sent():
    xml = fixture("agent-config-ssh-envvars.xml").replace(
        "<credentialsId>CREDENTIAL-ID-FOR-SLAVE</credentialsId>",
        "<credentialsId>CREDENTIAL-ID-FOR-SLAVE</credentialsId><password>********</password>")
    assert parse_agent_config(xml)["launcher"]["settings"]["password"] == "********"


def test_unknown_node_properties_are_kept_as_leaves():
    xml = fixture("agent-config-ssh-envvars.xml").replace("</nodeProperties>", (
        "<hudson.plugins.sidebar__link.NodeLinks><links><hudson.plugins.sidebar__link.LinkAction>"
        "<url>https://wiki/agents</url><text>Runbook</text><icon></icon></hudson.plugins.sidebar__link.LinkAction>"
        "</links></hudson.plugins.sidebar__link.NodeLinks></nodeProperties>"))
    props = parse_agent_config(xml)["properties"]
    assert props["hudson.plugins.sidebar__link.NodeLinks"]["links.hudson.plugins.sidebar__link.LinkAction.url"] == \
        "https://wiki/agents"


# 295 bytes that expand to 1 MB of description with a plain XML parser.
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
          + "".join('<!ENTITY %s "%s">' % (name, ("&%s;" % previous) * 10) for previous, name in zip("abcde", "bcdef"))
          + ']><slave><name>n</name><description>&f;</description></slave>')


@pytest.mark.parametrize("text, message", [
    (fixture("agent-config-ssh-envvars.xml")[:400], "unclosed token"),
    ("", "no element found"),
    ("<html><head><title>Sign in</title></head><body/></html>", "not an agent config.xml"),
    ("<slave><name>x</name>", "no element found"),
    # What Jenkins never writes: a DTD, entities (the "billion laughs"), external entities, absurd nesting.
    (LAUGHS, "DTD or entity declaration"),
    ('<?xml version="1.0"?><!DOCTYPE slave SYSTEM "http://attacker.example/x.dtd"><slave><name>x</name></slave>',
     "DTD or entity declaration"),
    ('<!DOCTYPE s [<!ENTITY f SYSTEM "file:///etc/passwd">]><slave><name>&f;</name></slave>',
     "DTD or entity declaration"),
    ("<slave><name>x</name>" + "<p>" * 40 + "</p>" * 40 + "</slave>", "more than 32 elements deep"),
    ("<slave><name>x</name>" + "<p/>" * 20001 + "</slave>", "20000 elements in all"),
])
def test_truncated_or_foreign_documents_raise_parse_error(text, message):
    with pytest.raises(ParseError, match=message):
        parse_agent_config(text)


@pytest.mark.parametrize("descriptor, kind", [
    ("hudson.model.JDK$DescriptorImpl", "jdk"),
    ("hudson.tasks.Maven$MavenInstallation$DescriptorImpl", "maven"),
    ("hudson.plugins.git.GitTool$DescriptorImpl", "git"),
    ("org.jenkinsci.plugins.docker.commons.tools.DockerTool$DockerToolDescriptor", "docker"),
    (None, "other"),
])
def test_tool_kind(descriptor, kind):
    assert tool_kind(descriptor) == kind
