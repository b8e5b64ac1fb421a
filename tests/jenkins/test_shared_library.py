"""The Jenkins shared library under Debian's Groovy 2.4 (the Groovy of Jenkins pipelines).

It compiles, its own Groovy unit tests pass (one JVM for all of them), and recordChange, run through the
test harness (jenkins-shared-library/test/) as a build would run it, records events in a live Change Tracker
that the API and then a browser show. A missing groovy fails these tests: CI installs it.
"""
import json
import os
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import PASSWORD
from tests.jenkins.conftest import BUILD_ENV
from tests.jenkins.conftest import echoed as _echoed
from tests.jenkins.jvm import LIBRARY, executable, output
from tests.jenkins.jvm import run as run_jvm

pytestmark = pytest.mark.groovy


def _groovy_string(text):
    """``text`` as a single-quoted Groovy literal: no GString, so ``$`` stays a dollar sign."""
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def test_every_groovy_file_compiles_with_groovyc(groovy, tmp_path):
    sources = sorted(LIBRARY.rglob("*.groovy"))
    assert LIBRARY / "vars" / "recordChange.groovy" in sources
    classpath = os.pathsep.join(str(LIBRARY / part) for part in ("src", "test/stubs", "test/groovy"))

    proc = run_jvm([executable("groovyc"), "-cp", classpath, "-d", str(tmp_path)] + [str(s) for s in sources])

    assert proc.returncode == 0, output(proc)
    for expected in ["recordChange.class", "suspectChanges.class", "callChangeTracker.class",
                     "io/changetracker/ChangeRequest.class", "io/changetracker/TrackerResponse.class",
                     "io/changetracker/RetryPolicy.class", "io/changetracker/SuspectQuery.class",
                     "io/changetracker/SuspectReport.class", "io/changetracker/TrackerLinks.class",
                     "io/changetracker/StepParameters.class", "io/changetracker/ApiRequest.class",
                     "io/changetracker/CurlCommand.class", "PipelineHarness.class", "DeclarativeStandIn.class",
                     "RecordChangeTest.class", "SuspectChangesTest.class"]:
        assert (tmp_path / expected).is_file(), "groovyc produced no %s" % expected


def test_groovy_unit_tests_pass(groovy):
    proc = run_jvm([groovy, str(LIBRARY / "test" / "runTests.groovy")])

    lines = [line for line in proc.stdout.splitlines() if line.startswith("GROOVY-TEST-SUMMARY ")]
    assert lines, "the Groovy test runner printed no summary\n" + output(proc)
    summary = json.loads(lines[-1][len("GROOVY-TEST-SUMMARY "):])
    assert summary["failed"] == 0 and proc.returncode == 0, output(proc)
    assert summary["run"] >= 90, "expected the whole Groovy suite to run, got %(run)d tests" % summary
    assert {"RecordChangeTest", "RecordChangeBlockTest", "CallChangeTrackerTest", "HttpRequestStandInTest",
            "PipelineHarnessTest", "StepConventionsTest", "SuspectChangesTest", "SuspectChangesWarningsTest",
            "TrackerLinksTest"} <= set(summary["classes"])


def test_record_change_lands_in_the_live_tracker(run_pipeline, live_server, auth, client):
    token = auth.token(role="editor", scope="record")

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

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    plain_id, block_id = (int(part) for part in result["value"].split(","))
    echoed = _echoed(proc)
    assert "recordChange: recorded event %s/events/%d" % (live_server.url, plain_id) in echoed
    assert "recordChange: started event %s/events/%d" % (live_server.url, block_id) in echoed
    assert "recordChange: ended event %s/events/%d (success)" % (live_server.url, block_id) in echoed
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
    history = client.get("/api/v1/events/%d/history" % block_id, headers=headers).get_json()["items"]
    assert [entry["action"] for entry in history] == ["create", "update"], "recorded as it started, then ended"


def test_without_the_http_request_plugin_curl_records_a_block_and_finds_it(run_pipeline, auth, client):
    """The curl fallback against the live tracker: POST at the block's start, PATCH at its end, GET of suspects."""
    title = 'Docker "27.3" on linux-agent-07: it\'s $HOME `id` \u00e9'
    proc, result = run_pipeline("""
        def id = null
        try {
            id = recordChange(title: %s, type: 'tool_update', severity: 'low') {
                sh 'echo upgrading; exit 2'
            }
        } catch (err) {
            echo 'block failed: ' + err.message
        }
        return suspectChanges()
    """ % _groovy_string(title), credentials={"change-tracker-token": auth.token(role="editor", scope="record")},
        httpRequestPlugin=False)

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    assert result["httpRequests"] == 0 and result["shellCalls"] == 4, "the block's sh, then curl three times"
    assert "block failed: script returned exit code 2" in _echoed(proc)
    [suspect] = result["value"]
    assert suspect["title"] == title and suspect["rank"] == "same_agent"
    event = client.get("/api/v1/events/%d" % suspect["id"], headers=auth.headers(role="viewer", scope="read")).get_json()
    assert event["title"] == title
    assert event["severity"] == "high", "raised by the failed block"
    assert event["ended_at"] is not None
    assert (event["metadata"]["outcome"], event["metadata"]["error"]) == ("failure", "script returned exit code 2")


def test_refused_or_rejected_changes_only_warn(run_pipeline, auth, client):
    good = auth.token(role="editor", scope="record")
    wrong = "ct_" + "0" * 40

    proc, result = run_pipeline("""
        def refused = recordChange(title: 'Agent relabelled')
        echo 'refused: ' + refused
        def rejected = recordChange(title: 'Huge metadata', credentialsId: 'good', metadata: [blob: 'x' * 70000])
        echo 'rejected: ' + rejected
    """, credentials={"change-tracker-token": wrong, "good": good})

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
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

    assert proc.returncode != 0, output(proc)
    assert result["result"] == "FAILURE"
    assert "not reached" not in proc.stdout
    assert ("ERROR: recordChange: could not record 'Agent relabelled': Change Tracker refused the token in "
            "credentials 'change-tracker-token' (HTTP 401") in proc.stderr, output(proc)


FAILED_BUILD_ENV = {
    "JOB_NAME": "apps/payments/main",
    "BUILD_NUMBER": "42",
    "BUILD_URL": "https://jenkins.example.test/job/apps/job/payments/job/main/42/",
    "NODE_NAME": "linux-agent-07",
    "NODE_LABELS": "linux jdk17",
}


def test_suspect_changes_lists_what_record_change_recorded_ranked(run_pipeline, live_server, auth, client):
    """An infrastructure job records changes with recordChange; a later build on linux-agent-07 fails, and
    suspectChanges in its post-failure step lists them from the live tracker, ranked, with reasons and links."""
    now = datetime.now(timezone.utc)
    # A change before the job's last success: not a suspect.
    old = client.post("/api/v1/events", headers=auth.headers(), json={
        "title": "Old JDK on linux-agent-07", "type": "tool_update", "agents": ["linux-agent-07"],
        "tools": ["jdk17"], "occurred_at": (now - timedelta(hours=3)).isoformat()}).get_json()["id"]

    proc, recorded = run_pipeline("""
        def onAgent = recordChange(title: 'Temurin 17.0.12 on linux-agent-07', type: 'tool_update',
                                   severity: 'medium', tools: ['jdk17'])
        def sibling = recordChange(title: 'Temurin 17.0.12 on linux-agent-08', type: 'tool_update',
                                   agents: ['linux-agent-08'], tools: ['jdk17'])
        def outage = recordChange(title: 'Artifact proxy down', type: 'outage', severity: 'high', agents: [])
        def unrelated = recordChange(title: 'Docker 27.3 on linux-agent-09', type: 'tool_update',
                                     agents: ['linux-agent-09'], tools: ['docker'])
        return [onAgent, sibling, outage, unrelated]
    """, credentials={"change-tracker-token": auth.token(role="editor", scope="record")},
        env={"JOB_NAME": "platform/jdk-rollout",
             "BUILD_URL": "https://jenkins.example.test/job/platform/job/jdk-rollout/9/"})
    assert recorded["result"] == "SUCCESS", output(proc)
    on_agent, sibling, outage, unrelated = recorded["value"]

    # Whole milliseconds, not .000: Java prints an Instant without zero milliseconds.
    last_success = (now - timedelta(hours=1)).replace(microsecond=123000)
    reader = auth.token(role="viewer", scope="read", username="ci-reader")
    proc, result = run_pipeline("""
        try {
            echo 'running the tests'
            error('3 tests failed')
        } catch (err) {
            // what post { failure { ... } } runs
            return suspectChanges(tools: ['maven-3.9', 'jdk17'])
        }
    """, credentials={"change-tracker-token": reader}, env=FAILED_BUILD_ENV,
        previousSuccessfulBuild={"number": 41, "startTimeInMillis": int(last_success.timestamp() * 1000)})

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    suspects = result["value"]
    # The outage was recorded with no end: still going on, it comes first.
    assert [s["id"] for s in suspects] == [outage, on_agent, sibling], "ranked, without %d and %d" % (old, unrelated)
    assert [s["rank"] for s in suspects] == ["fleet_wide", "same_agent", "same_tool"]
    assert suspects[0]["summary"] == "every build, strong change, high severity, going on at the failure"
    assert suspects[1]["reasons"][0] == "same agent linux-agent-07"
    assert suspects[1]["summary"].startswith("same agent, strong change, ")
    assert suspects[2]["reasons"][:2] == ["names other agents only, not linux-agent-07", "tool jdk17 named in the query"]
    assert suspects[2]["evidence"][0] == {"rule": "scope", "reason": "names other agents only, not linux-agent-07",
                                          "weight": 0.35}
    assert suspects[0]["score"] > suspects[1]["score"] > suspects[2]["score"]
    assert [s["url"] for s in suspects] == ["%s/events/%d" % (live_server.url, i) for i in (outage, on_agent, sibling)]
    assert suspects[1]["title"] == "Temurin 17.0.12 on linux-agent-07"
    assert (suspects[1]["type"], suspects[1]["severity"]) == ("tool_update", "medium")
    assert suspects[1]["agents"] == ["linux-agent-07"] and suspects[1]["tools"] == ["jdk17"]
    assert 0 <= suspects[1]["secondsBefore"] < 600
    [summary] = result["summaries"]
    assert summary == {"icon": "warning.gif", "link": "%s/events/%d" % (live_server.url, outage),
                       "text": "Change Tracker: most likely #%d Artifact proxy down (every build, strong change, high "
                               "severity, going on at the failure; score %d; 1 of 3 suspects)"
                               % (outage, round(suspects[0]["score"]))}

    [badge] = result["badges"]
    suspects_page = badge["link"]
    page = urlsplit(suspects_page)
    assert "%s://%s%s" % (page.scheme, page.netloc, page.path) == live_server.url + "/suspects"
    asked = parse_qs(page.query)
    assert (asked["agent"], asked["tool"], asked["build_url"]) == (["linux-agent-07"], ["maven-3.9", "jdk17"],
                                                                   [FAILED_BUILD_ENV["BUILD_URL"]])
    started = last_success.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert asked["since"] == asked["last_success"] == [started]
    assert result["badges"] == [{"icon": "warning.gif", "link": suspects_page,
                                 "text": "Change Tracker: 3 suspect changes; most likely #%d Artifact proxy down"
                                         % outage}]
    echoed = _echoed(proc)
    header = next(line for line in echoed if line.startswith("suspectChanges: "))
    assert header == ("suspectChanges: 3 changes could explain this failure (agent linux-agent-07, tools maven-3.9, "
                      "jdk17; "
                      "since the start of the last successful build #41, %s), most likely first:"
                      % last_success.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    first = "  2. [same agent] #%d Temurin 17.0.12 on linux-agent-07 (tool_update, medium, " % on_agent
    assert any(line.startswith(first) for line in echoed), echoed
    assert "       %s/events/%d" % (live_server.url, on_agent) in echoed
    assert "  This build's suspects in Change Tracker: " + suspects_page in echoed
    assert "  Changes on linux-agent-07: %s/agents/linux-agent-07" % live_server.url in echoed


def test_suspect_changes_only_warns_when_the_tracker_cannot_answer(run_pipeline, auth):
    """Outside a node, for a build that recorded nothing, the live tracker answers 422; a tracker that is
    down is a warning too. Neither fails the build, and neither prints the token."""
    reader = auth.token(role="viewer", scope="read")
    proc, result = run_pipeline("""
        def unknownAgent = suspectChanges()
        def down = suspectChanges(url: 'http://127.0.0.1:9/')
        return [unknownAgent.size(), down.size()]
    """, credentials={"change-tracker-token": reader}, env={**FAILED_BUILD_ENV, "NODE_NAME": ""})

    assert proc.returncode == 0 and result["result"] == "SUCCESS", output(proc)
    assert result["value"] == [0, 0]
    assert result["badges"] == []
    warnings = [line for line in _echoed(proc) if line.startswith("WARNING: suspectChanges: ")]
    assert len(warnings) == 2, output(proc)
    assert warnings[0].startswith("WARNING: suspectChanges: Change Tracker could not search for suspects (HTTP 422: ")
    assert "build_url: The build's agent is unknown" in warnings[0]
    assert warnings[0].endswith("; pass agents: ['<the agent the build ran on>']")
    assert warnings[1].startswith("WARNING: suspectChanges: could not reach Change Tracker at "
                                  "http://127.0.0.1:9/api/v1/suspects (ConnectException")


@pytest.mark.browser
def test_recorded_change_shows_on_the_timeline(run_pipeline, auth, page):
    title = "Temurin 17.0.12 on linux-agent-07 \u2014 \"security\" release"
    proc, result = run_pipeline("recordChange(title: %s, type: 'tool_update', tools: ['jdk17'])" % json.dumps(title),
                                credentials={"change-tracker-token": auth.token(role="editor", scope="record")})
    assert result["result"] == "SUCCESS" and isinstance(result["value"], int), output(proc)

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
