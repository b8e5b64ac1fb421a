"""The docs' pipeline examples, cut out of the docs themselves, run as Jenkinsfiles against a live tracker.

Issue 5 is done when "a pipeline author can copy the README's three-line example into a Jenkinsfile and it works".
So each example is taken from docs/jenkins.md (section "Pipeline steps") and jenkins-shared-library/README.md as it
is printed there, and the harness runs it as one build: on an agent labelled linux, its sh steps for real in a workspace that
holds the scripts they call, its steps talking to the live tracker with a token of the one credential the README
asks for (change-tracker-token, record scope).
"""
import re
import stat
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from tests.docs import blocks, section
from tests.jenkins.conftest import echoed
from tests.jenkins.jvm import LIBRARY, ROOT, output

pytestmark = pytest.mark.groovy

AGENT = {"name": "linux-agent-07", "labels": "linux docker"}
# Before node { } or the Declarative agent sets them, a build has no agent.
NO_AGENT_YET = {"NODE_NAME": None, "NODE_LABELS": None, "WORKSPACE": None}


def _groovy_blocks(text):
    return blocks(text, "groovy")


def _readme_example():
    """docs/jenkins.md, "Pipeline steps": the example whose three lines are the point."""
    [example] = [block for block in _groovy_blocks(section(ROOT / "docs" / "jenkins.md", "## Pipeline steps"))
                 if "pipeline {" in block]
    return example


def _executable(workspace, name, body):
    path = workspace / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _milliseconds(moment):
    return int(moment.timestamp() * 1000)


def test_the_readme_example_has_the_three_lines_it_promises():
    example = _readme_example()

    assert example.startswith("@Library('change-tracker') _\n")
    assert re.search(r"^\s+recordChange\(title: ", example, re.M)
    assert re.search(r"^\s+post \{ failure \{ suspectChanges\(\) \} \}$", example, re.M)


def test_the_readme_example_records_the_change_then_explains_the_next_failure(run_pipeline, live_server, auth,
                                                                            client):
    example = _readme_example()
    credentials = {"change-tracker-token": auth.token(role="editor", scope="record", username="ci-bot")}
    job_url = "https://jenkins.example.test/job/platform/job/docker-upgrade/"
    _executable(run_pipeline.workspace, "upgrade-docker.sh", 'echo "upgrading Docker to $1"')
    started = datetime.now(timezone.utc).replace(microsecond=0)

    proc, result = run_pipeline(example, credentials, agent=AGENT, env={
        **NO_AGENT_YET, "JOB_NAME": "platform/docker-upgrade", "BUILD_NUMBER": "3", "BUILD_URL": job_url + "3/"})

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    log = echoed(proc)
    assert "upgrading Docker to 27.3" in log
    viewer = auth.headers(role="viewer", scope="read")
    [event] = client.get("/api/v1/events", headers=viewer).get_json()["items"]
    assert (event["title"], event["type"], event["source"]) == ("Upgrade Docker to 27.3", "tool_update", "pipeline")
    assert event["tools"] == ["docker"]
    assert event["agents"] == ["linux-agent-07"], "the agent the Declarative agent ran on"
    assert event["build_url"] == job_url + "3/"
    assert event["metadata"] == {"job": "platform/docker-upgrade", "build_number": 3, "node": "linux-agent-07",
                                 "labels": ["linux", "docker", "linux-agent-07"]}
    assert "recordChange: recorded event %s/events/%d" % (live_server.url, event["id"]) in log
    assert [badge["link"] for badge in result["badges"]] == ["%s/events/%d" % (live_server.url, event["id"])]

    # The job's next build breaks on the same agent: post { failure { suspectChanges() } } names the change.
    _executable(run_pipeline.workspace, "upgrade-docker.sh",
                'echo "E: Version \'$1\' for \'docker-ce\' was not found" >&2; exit 100')
    proc, result = run_pipeline(example, credentials, agent=AGENT, previousSuccessfulBuild={
        "number": 3, "startTimeInMillis": _milliseconds(started - timedelta(seconds=1))}, env={
        **NO_AGENT_YET, "JOB_NAME": "platform/docker-upgrade", "BUILD_NUMBER": "4", "BUILD_URL": job_url + "4/"})

    assert proc.returncode == 1 and result["result"] == "FAILURE", output(proc)
    assert "ERROR: script returned exit code 100" in proc.stderr
    log = echoed(proc)
    assert "E: Version '27.3' for 'docker-ce' was not found" in log
    assert any(line.startswith("suspectChanges: 1 change could explain this failure (agent linux-agent-07; since "
                               "the start of the last successful build #3, ") for line in log), output(proc)
    assert any(line.startswith("  1. [same agent] #%d Upgrade Docker to 27.3 (tool_update, info, " % event["id"])
               for line in log), output(proc)
    # Why, in plain words: on this agent, a strong change (a tool update), recorded as info, moments before.
    assert any(line.startswith("       why: same agent, strong change, info severity, ") for line in log), output(proc)
    event_url = "%s/events/%d" % (live_server.url, event["id"])
    assert "       " + event_url in log
    # The failed build's summary names it, with a link to it (the Badge plugin's addSummary).
    [summary] = result["summaries"]
    assert summary["link"] == event_url
    assert summary["text"].startswith("Change Tracker: most likely #%d Upgrade Docker to 27.3 (same agent, strong "
                                      "change, info severity, " % event["id"]) and summary["text"].endswith(
        "; the only suspect)")
    assert len(client.get("/api/v1/events", headers=viewer).get_json()["items"]) == 1, "the failed build recorded nothing"

    # Its badge opens the tracker's suspects page with the same answer.
    [badge] = result["badges"]
    assert badge["text"] == "Change Tracker: 1 suspect change; most likely #%d Upgrade Docker to 27.3" % event["id"]
    link = urlsplit(badge["link"])
    auth.login("reader", role="viewer")
    page = client.get("%s?%s" % (link.path, link.query))
    assert page.status_code == 200
    assert "Upgrade Docker to 27.3" in page.get_data(as_text=True)


def test_the_readme_example_works_without_the_http_request_plugin(run_pipeline, auth, client):
    """The documented fallback: curl on the agent, against the live tracker."""
    _executable(run_pipeline.workspace, "upgrade-docker.sh", "true")

    proc, result = run_pipeline(_readme_example(), {"change-tracker-token": auth.token(role="editor", scope="record")},
                                agent=AGENT, httpRequestPlugin=False, env=NO_AGENT_YET)

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    assert result["httpRequests"] == 0 and result["shellCalls"] == 2, "the example's sh, then curl"
    [event] = client.get("/api/v1/events", headers=auth.headers(role="viewer", scope="read")).get_json()["items"]
    assert event["title"] == "Upgrade Docker to 27.3" and event["agents"] == ["linux-agent-07"]


def test_the_library_readme_examples_work(run_pipeline, live_server, auth, client):
    """jenkins-shared-library/README.md, "Using it": the scripted recordChange, then the Declarative suspectChanges."""
    recording, explaining = _groovy_blocks(section(LIBRARY / "README.md", "## Using it"))
    credentials = {"change-tracker-token": auth.token(role="editor", scope="record", username="ci-bot")}
    before = datetime.now(timezone.utc) - timedelta(minutes=5)

    proc, result = run_pipeline(recording, credentials, agent=AGENT, env=NO_AGENT_YET)

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    [event] = client.get("/api/v1/events", headers=auth.headers(role="viewer", scope="read")).get_json()["items"]
    assert event["title"] == "Temurin 17.0.12 on linux-agent-07"
    assert (event["agents"], event["tools"]) == (["linux-agent-07"], ["jdk17"])

    _executable(run_pipeline.workspace, "mvnw", 'echo "[ERROR] Failed to execute goal: compilation failure"; exit 1')
    proc, result = run_pipeline(explaining, credentials, agent=AGENT, env={**NO_AGENT_YET, "JOB_NAME": "apps/payments"},
                                previousSuccessfulBuild={"number": 41, "startTimeInMillis": _milliseconds(before)})

    assert proc.returncode == 1 and result["result"] == "FAILURE", output(proc)
    log = echoed(proc)
    assert "[ERROR] Failed to execute goal: compilation failure" in log
    assert any(line.startswith("suspectChanges: 1 change could explain this failure (agent linux-agent-07, tools "
                               "jdk17, maven-3.9; since the start of the last successful build #41")
               for line in log), output(proc)
    assert any(line.startswith("  1. [same agent] #%d Temurin 17.0.12 on linux-agent-07" % event["id"])
               for line in log), output(proc)
    assert "       %s/events/%d" % (live_server.url, event["id"]) in log
