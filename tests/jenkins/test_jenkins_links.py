"""Links from Jenkins to the tracker, and docs/jenkins.md.

The Sidebar Link plugin's configuration-as-code snippet has the plugin's own keys (taken from the plugin's
round-trip file in tests/fixtures/jenkins), the docs show that very snippet, the complete configuration as code names
what the library, the steps and the nightly job use, and the docs' Jenkinsfile examples are pipelines whose steps and
options take the parameters the library and the plugin accept. The deep
links, as the library builds them (io.changetracker.TrackerLinks) and prints them, open tracker pages that answer.
"""
import json
import re
from urllib.parse import quote, urlsplit

import pytest
import yaml

from app import __version__
from tests.docs import blocks
from tests.fixtures import JENKINS
from tests.jenkins.conftest import echoed
from tests.jenkins.jvm import LIBRARY, ROOT, output
from tests.jenkins.jvm import run as run_jvm

RESOURCE = LIBRARY / "resources" / "io" / "changetracker" / "sidebar-link-jcasc.yml"
JENKINS_DOC = ROOT / "docs" / "jenkins.md"


def _plugin_link_keys():
    """The keys of a global link in the plugin's own JCasC round-trip file. Its odd ``- test1:`` line makes a
    key with no value in the first item; it is not a setting."""
    links = yaml.safe_load((JENKINS / "sidebar-link-jcasc.yml").read_text(encoding="utf-8"))[
        "unclassified"]["sidebarGlobalLink"]["links"]
    return {key for link in links for key, value in link.items() if value is not None}


def _jenkins_section():
    return JENKINS_DOC.read_text(encoding="utf-8")


def _blocks(section, language):
    return blocks(section, language)


def test_plugin_keys_are_the_documented_ones():
    assert _plugin_link_keys() == {"displayName", "iconFileName", "urlName"}


def test_jcasc_snippet_parses_and_has_the_plugins_keys():
    config = yaml.safe_load(RESOURCE.read_text(encoding="utf-8"))

    assert list(config) == ["unclassified"] and list(config["unclassified"]) == ["sidebarGlobalLink"]
    links = config["unclassified"]["sidebarGlobalLink"]["links"]
    assert isinstance(links, list) and len(links) == 1
    [link] = links
    assert set(link) == _plugin_link_keys()
    assert all(isinstance(value, str) for value in link.values())
    assert link["displayName"] == "Change Tracker"
    url = urlsplit(link["urlName"])
    assert url.scheme in ("http", "https") and url.netloc, "an absolute link to the tracker"


def test_readme_shows_the_jcasc_snippet_of_the_library():
    [snippet] = [block for block in _blocks(_jenkins_section(), "yaml") if "globalLibraries" not in block]

    assert yaml.safe_load(snippet) == yaml.safe_load(RESOURCE.read_text(encoding="utf-8"))


def test_the_complete_configuration_as_code_names_what_the_library_and_the_nightly_job_use():
    """docs/jenkins.md, "Configuration as code": the library at this release's tag, the URL variable and the
    credentials the steps and the Jenkinsfile read, and the sidebar link."""
    [block] = [block for block in _blocks(_jenkins_section(), "yaml") if "globalLibraries" in block]
    casc = yaml.safe_load(block)

    [library] = casc["unclassified"]["globalLibraries"]["libraries"]
    assert library["name"] == "change-tracker", "what @Library('change-tracker') loads"
    assert library["defaultVersion"] == "v" + __version__, "pinned to this release's tag"
    retriever = library["retriever"]["modernSCM"]
    assert retriever["libraryPath"] == "jenkins-shared-library/"
    assert "gitTagDiscovery" in retriever["scm"]["git"]["traits"], "a tag is a version the library can be loaded at"
    [variables] = [p["envVars"]["env"] for p in casc["jenkins"]["globalNodeProperties"]]
    assert [v["key"] for v in variables] == ["CHANGETRACKER_URL"]
    credentials = {kind: spec for item in casc["credentials"]["system"]["domainCredentials"][0]["credentials"]
                   for kind, spec in item.items()}
    assert credentials["string"]["id"] == "change-tracker-token"
    assert credentials["usernamePassword"]["id"] == "change-tracker-jenkins-api"
    assert all(spec["scope"] == "GLOBAL" for spec in credentials.values())
    assert credentials["string"]["secret"].startswith("${"), "secrets come from the environment, not the file"
    assert credentials["usernamePassword"]["password"].startswith("${")
    for step in ("recordChange", "suspectChanges", "callChangeTracker"):
        source = (LIBRARY / "vars" / (step + ".groovy")).read_text(encoding="utf-8")
        assert "credentialsId: 'change-tracker-token'" in source and "env.CHANGETRACKER_URL" in source, step
    jenkinsfile = (ROOT / "Jenkinsfile").read_text(encoding="utf-8")
    assert "'change-tracker-token'" in jenkinsfile and "'change-tracker-jenkins-api'" in jenkinsfile
    assert casc["unclassified"]["sidebarGlobalLink"] == yaml.safe_load(RESOURCE.read_text(encoding="utf-8"))[
        "unclassified"]["sidebarGlobalLink"]


def test_readme_links_into_the_tracker_pages_that_jenkins_users_need():
    section = _jenkins_section()

    for page in ("`/agents/<name>`", "`/events?agent=<name>`", "`/suspects?build_url=<BUILD_URL>`", "`/events/<id>`"):
        assert page in section
    for credential in ("`change-tracker-token`", "`change-tracker-jenkins-api`", "`CHANGETRACKER_TOKEN`",
                       "`CHANGETRACKER_JENKINS_USER`", "`CHANGETRACKER_JENKINS_TOKEN`", "`CHANGETRACKER_URL`"):
        assert credential in section, "the nightly job's credentials are documented"


@pytest.fixture(scope="module")
def describe(groovy, tmp_path_factory):
    """A Jenkinsfile text as describeJenkinsfile.groovy records it: {step, args, body}."""
    def run(text):
        path = tmp_path_factory.mktemp("readme") / "Jenkinsfile"
        path.write_text(text, encoding="utf-8")
        proc = run_jvm([groovy, str(LIBRARY / "test" / "describeJenkinsfile.groovy"), str(path)])
        assert proc.returncode == 0, output(proc)
        [line] = [line for line in proc.stdout.splitlines() if line.startswith("JENKINSFILE ")]
        return json.loads(line[len("JENKINSFILE "):])
    return run


def _steps(node, name):
    found = [node] if node.get("step") == name else []
    for child in node.get("body", []):
        found += _steps(child, name)
    return found


@pytest.mark.groovy
def test_readme_pipeline_example_uses_the_library_as_documented(describe):
    [example] = [block for block in _blocks(_jenkins_section(), "groovy") if "pipeline {" in block]
    assert example.startswith("@Library('change-tracker') _\n")

    pipeline = describe(example)

    [record] = _steps(pipeline, "recordChange")
    step = (LIBRARY / "vars" / "recordChange.groovy").read_text(encoding="utf-8")
    parameters = re.search(r"Map defaultConfig = \[(.*?)\n\s*\]\n", step, re.S).group(1)
    accepted = set(re.findall(r"^\s*(\w+)\s*:", parameters, re.M))
    assert record["args"][0]["title"] and set(record["args"][0]) <= accepted
    [post] = [child for child in pipeline["body"] if child["step"] == "post"]
    assert post["body"] == [{"step": "failure", "args": [], "body": [{"step": "suspectChanges", "args": []}]}]


@pytest.mark.groovy
def test_readme_per_job_sidebar_link_has_the_plugins_keys(describe):
    [options] = [block for block in _blocks(_jenkins_section(), "groovy") if "sidebarLinks" in block]

    pipeline = describe("pipeline {\n%s}\n" % options)

    [call] = _steps(pipeline, "sidebarLinks")
    [links] = call["args"]
    assert [set(link) for link in links] == [_plugin_link_keys()]
    assert urlsplit(links[0]["urlName"]).path == "/events" and "agent=" in links[0]["urlName"]


def _path(url, base):
    """``url`` on the live tracker as the test client wants it: path and query."""
    assert url.startswith(base + "/"), url
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


@pytest.mark.groovy
def test_the_deep_links_jenkins_shows_open_tracker_pages_that_answer(run_pipeline, live_server, auth, client):
    """A build records a change on an agent whose name needs encoding, then fails: every link the library prints or
    badges, and the README's (global sidebar link, per-job /events?agent=, per-agent /agents/<name>), answers 200
    to a viewer with the change on it."""
    agent = "mac mini 2 \u00fc"
    build_url = "https://jenkins.example.test/job/ios/job/app/7/"
    proc, result = run_pipeline("""
        import io.changetracker.TrackerLinks

        def agent = %s
        def id = recordChange(title: 'Xcode 16.1 on ' + agent, type: 'tool_update', agents: [agent], tools: ['xcode'])
        suspectChanges(agents: [agent])
        TrackerLinks links = new TrackerLinks(env.CHANGETRACKER_URL)
        return [event: links.event(id), agent: links.agent(agent), eventsOnAgent: links.eventsOnAgent(agent),
                buildSuspects: links.suspectsOfBuild(env.BUILD_URL)]
    """ % json.dumps(agent), {"change-tracker-token": auth.token(role="editor", scope="record")},
        env={"BUILD_URL": build_url})
    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    links = result["value"]
    printed = [line.rsplit(" ", 1)[1] for line in echoed(proc)
               if line.startswith(("recordChange: recorded event ", "  This build's suspects in Change Tracker: ",
                                   "  Changes on "))]
    badges = [badge["link"] for badge in result["badges"]]
    assert links["event"] in printed and links["agent"] in printed and links["event"] in badges
    assert links["agent"].endswith("/agents/mac%20mini%202%20%C3%BC")
    assert links["eventsOnAgent"].endswith("/events?agent=mac+mini+2+%C3%BC")
    assert links["buildSuspects"].endswith("/suspects?build_url=" + quote(build_url, safe=""))
    [sidebar_global] = yaml.safe_load(RESOURCE.read_text(encoding="utf-8"))["unclassified"]["sidebarGlobalLink"][
        "links"]
    home = live_server.url + urlsplit(sidebar_global["urlName"]).path

    auth.login("reader", role="viewer")
    for url in [home] + list(links.values()) + printed + badges:
        page = client.get(_path(url, live_server.url))
        assert page.status_code == 200, "%s answered %s" % (url, page.status_code)
        assert "Xcode 16.1 on " + agent in page.get_data(as_text=True), url

