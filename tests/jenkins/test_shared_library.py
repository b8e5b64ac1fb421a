"""The Jenkins shared library under Debian's Groovy 2.4 (the Groovy of Jenkins pipelines).

It compiles, its own Groovy unit tests pass (one JVM for all of them), and recordChange, run through the
test harness (jenkins-shared-library/test/) as a build would run it, records events in a live Change Tracker
that the API and then a browser show. A missing groovy fails these tests: CI installs it.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.groovy

LIBRARY = Path(__file__).resolve().parents[2] / "jenkins-shared-library"
DEBIAN_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
JVM_TIMEOUT = 180  # seconds; a run normally takes a few

BUILD_ENV = {
    "JOB_NAME": "platform/agent-images/main",
    "BUILD_NUMBER": "128",
    "BUILD_URL": "https://jenkins.example.test/job/platform/job/agent-images/job/main/128/",
    "NODE_NAME": "linux-agent-07",
    "NODE_LABELS": "linux docker jdk17",
    "WORKSPACE": "/home/jenkins/workspace/platform_agent-images_main",
}


def _executable(name):
    path = shutil.which(name) or next((p for p in ["/usr/bin/" + name] if os.access(p, os.X_OK)), None)
    if path is None:
        pytest.fail("%s not found: install Debian's groovy package (Groovy 2.4, as in Jenkins)" % name)
    return path


def _jvm_env():
    env = dict(os.environ)
    if not env.get("JAVA_HOME") and os.path.isdir(DEBIAN_JAVA_HOME):
        env["JAVA_HOME"] = DEBIAN_JAVA_HOME
    return env


def _run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=_jvm_env(),
                          timeout=JVM_TIMEOUT, cwd=LIBRARY, **kwargs)


def _output(proc):
    return "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def groovy():
    """The groovy launcher, checked to be 2.4: what compiles here compiles in Jenkins' CPS Groovy."""
    path = _executable("groovy")
    proc = _run([path, "--version"])
    assert proc.returncode == 0, _output(proc)
    assert "Groovy Version: 2.4." in proc.stdout, "expected Groovy 2.4, got: %s" % proc.stdout.strip()
    return path


@pytest.fixture
def run_pipeline(groovy, live_server, tmp_path):
    """Runs a Jenkinsfile-like script through the harness against the live server, as one build.

    Returns (process, result) where result is the harness's PIPELINE-RESULT summary.
    """
    def run(script, credentials, env=None):
        context = tmp_path / "context.json"
        context.write_text(json.dumps({
            "env": {**BUILD_ENV, "CHANGE_TRACKER_URL": live_server.url, **(env or {})},
            "credentials": credentials,
        }), encoding="utf-8")
        context.chmod(0o600)
        jenkinsfile = tmp_path / "Jenkinsfile.groovy"
        jenkinsfile.write_text(script, encoding="utf-8")
        proc = _run([groovy, str(LIBRARY / "test" / "runPipeline.groovy"), str(context), str(jenkinsfile)])
        lines = [line for line in proc.stdout.splitlines() if line.startswith("PIPELINE-RESULT ")]
        assert lines, "the harness printed no PIPELINE-RESULT line\n" + _output(proc)
        for secret in credentials.values():
            assert secret not in proc.stdout and secret not in proc.stderr, "a token reached the console"
        return proc, json.loads(lines[-1][len("PIPELINE-RESULT "):])

    return run


def _echoed(proc):
    return [line for line in proc.stdout.splitlines() if not line.startswith("PIPELINE-RESULT ")]


def test_every_groovy_file_compiles_with_groovyc(groovy, tmp_path):
    sources = sorted(LIBRARY.rglob("*.groovy"))
    assert LIBRARY / "vars" / "recordChange.groovy" in sources
    classpath = os.pathsep.join(str(LIBRARY / part) for part in ("src", "test/stubs", "test/groovy"))

    proc = _run([_executable("groovyc"), "-cp", classpath, "-d", str(tmp_path)] + [str(s) for s in sources])

    assert proc.returncode == 0, _output(proc)
    for expected in ["recordChange.class", "io/changetracker/ChangeRequest.class",
                     "io/changetracker/TrackerResponse.class", "io/changetracker/RetryPolicy.class",
                     "PipelineHarness.class", "RecordChangeTest.class"]:
        assert (tmp_path / expected).is_file(), "groovyc produced no %s" % expected


def test_groovy_unit_tests_pass(groovy):
    proc = _run([groovy, str(LIBRARY / "test" / "runTests.groovy")])

    lines = [line for line in proc.stdout.splitlines() if line.startswith("GROOVY-TEST-SUMMARY ")]
    assert lines, "the Groovy test runner printed no summary\n" + _output(proc)
    summary = json.loads(lines[-1][len("GROOVY-TEST-SUMMARY "):])
    assert summary["failed"] == 0 and proc.returncode == 0, _output(proc)
    assert summary["run"] >= 40, "expected the whole Groovy suite to run, got %(run)d tests" % summary
    assert {"RecordChangeTest", "HttpRequestStandInTest", "StepConventionsTest"} <= set(summary["classes"])


def test_record_change_lands_in_the_live_tracker(run_pipeline, live_server, auth, client):
    token = auth.token(role="editor", scope="write")

    proc, result = run_pipeline("""
        def id = recordChange(title: 'Temurin 17.0.12 on linux-agent-07', type: 'tool_update', severity: 'medium',
                              tools: ['jdk17'], tags: ['jdk', 'security'],
                              metadata: [from: '17.0.11', to: '17.0.12'])
        def blockId = recordChange(title: 'Upgrade Docker to 27.3', type: 'tool_update',
                                   agents: ['linux-agent-07', 'linux-agent-08']) {
            echo 'upgrading docker'
        }
        return id + ',' + blockId
    """, credentials={"change-tracker-token": token})

    assert proc.returncode == 0 and result["result"] == "SUCCESS", _output(proc)
    plain_id, block_id = (int(part) for part in result["value"].split(","))
    echoed = _echoed(proc)
    assert "recordChange: recorded event %s/events/%d" % (live_server.url, plain_id) in echoed
    assert "recordChange: recorded event %s/events/%d" % (live_server.url, block_id) in echoed
    assert [badge["link"] for badge in result["badges"]] == [
        "%s/events/%d" % (live_server.url, plain_id), "%s/events/%d" % (live_server.url, block_id)]

    headers = auth.headers(role="viewer", scope="read")
    event = client.get("/api/v1/events/%d" % plain_id, headers=headers).get_json()
    assert event["title"] == "Temurin 17.0.12 on linux-agent-07"
    assert (event["type"], event["severity"], event["source"]) == ("tool_update", "medium", "pipeline")
    assert event["agents"] == ["linux-agent-07"]
    assert event["tools"] == ["jdk17"]
    assert sorted(event["tags"]) == ["jdk", "security"]
    assert event["build_url"] == BUILD_ENV["BUILD_URL"]
    assert event["ended_at"] is None
    assert event["metadata"] == {"job": "platform/agent-images/main", "build_number": 128, "node": "linux-agent-07",
                                 "labels": ["linux", "docker", "jdk17"], "from": "17.0.11", "to": "17.0.12"}

    block = client.get("/api/v1/events/%d" % block_id, headers=headers).get_json()
    assert block["title"] == "Upgrade Docker to 27.3"
    assert sorted(block["agents"]) == ["linux-agent-07", "linux-agent-08"]
    assert block["source"] == "pipeline" and block["severity"] == "info"
    assert block["ended_at"] is not None and block["ended_at"] >= block["occurred_at"]
    assert block["metadata"]["outcome"] == "success"


def test_refused_or_rejected_changes_only_warn(run_pipeline, auth, client):
    good = auth.token(role="editor", scope="write")
    wrong = "ct_" + "0" * 40

    proc, result = run_pipeline("""
        def refused = recordChange(title: 'Agent relabelled')
        echo 'refused: ' + refused
        def rejected = recordChange(title: 'Huge metadata', credentialsId: 'good', metadata: [blob: 'x' * 70000])
        echo 'rejected: ' + rejected
    """, credentials={"change-tracker-token": wrong, "good": good})

    assert proc.returncode == 0 and result["result"] == "SUCCESS", _output(proc)
    echoed = _echoed(proc)
    assert "refused: null" in echoed and "rejected: null" in echoed
    assert any(line.startswith("WARNING: recordChange: could not record 'Agent relabelled': Change Tracker refused "
                               "the token in credentials 'change-tracker-token' (HTTP 401") for line in echoed), echoed
    assert any(line.startswith("WARNING: recordChange: could not record 'Huge metadata': Change Tracker rejected "
                               "the event (HTTP 422") and "metadata: Must be at most 64 KiB" in line
               for line in echoed), echoed
    assert result["httpRequests"] == 2, "a refusal or a rejection is not retried"
    listing = client.get("/api/v1/events", headers=auth.headers(role="viewer", scope="read")).get_json()
    assert listing["items"] == []


def test_refused_token_fails_the_build_with_fail_on_error(run_pipeline):
    proc, result = run_pipeline("""
        recordChange(title: 'Agent relabelled', failOnError: true)
        echo 'not reached'
    """, credentials={"change-tracker-token": "ct_" + "1" * 40})

    assert proc.returncode != 0, _output(proc)
    assert result["result"] == "FAILURE"
    assert "not reached" not in proc.stdout
    assert ("ERROR: recordChange: could not record 'Agent relabelled': Change Tracker refused the token in "
            "credentials 'change-tracker-token' (HTTP 401") in proc.stderr, _output(proc)


@pytest.mark.browser
def test_recorded_change_shows_on_the_timeline(run_pipeline, auth, page):
    title = "Temurin 17.0.12 on linux-agent-07 \u2014 \"security\" release"
    proc, result = run_pipeline("recordChange(title: %s, type: 'tool_update', tools: ['jdk17'])" % json.dumps(title),
                                credentials={"change-tracker-token": auth.token(role="editor", scope="write")})
    assert result["result"] == "SUCCESS" and isinstance(result["value"], int), _output(proc)

    auth.user("viewer", "viewer")
    page.goto("/login")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/")

    rows = page.locator("#event-list tbody tr[data-event-id='%d']" % result["value"])
    assert title in rows.inner_text()
    assert "linux-agent-07" in rows.inner_text()
    page.wait_for_selector("#timeline .scatterlayer .point")
    assert page.locator("#timeline .scatterlayer .point").count() > 0
