"""The nightly poller job: the top-level Jenkinsfile and the script its one `sh` step runs.

The Jenkinsfile compiles with groovyc 2.4 and, described by jenkins-shared-library/test/describeJenkinsfile.groovy
(every directive and step recorded instead of run), is the job it should be. Its `sh` command then runs as
Jenkins would run it: in a copy of the repository (the workspace), with the credentials its withCredentials
binds and JENKINS_URL pointing at a local fake Jenkins, pushing to the live tracker.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from app.models import Event, Snapshot
from tests.conftest import connected
from tests.jenkins.jvm import ROOT, executable, output
from tests.jenkins.jvm import run as run_jvm

pytestmark = pytest.mark.groovy

JENKINSFILE = ROOT / "Jenkinsfile"
SCRIPT = ROOT / "ci" / "nightly-poll.sh"
JENKINS_USER, JENKINS_TOKEN = "change-tracker", "11f0c0ffee2bad5eed"
INSTALL_TIMEOUT = 900  # seconds: the first run builds a virtualenv with pip (about 20 s with a warm pip cache)


# What a job sets (as its own or global environment variables) to take a pollers file and secrets from Jenkins.
JOB_FILES = {"CHANGETRACKER_POLLERS_FILE_ID": "change-tracker-pollers",
             "CHANGETRACKER_POLLER_SECRETS_ID": "change-tracker-poller-secrets"}


def _describe(groovy, environment=None):
    """The Jenkinsfile as a tree of {step, args, body}, as describeJenkinsfile.groovy records it in a job whose
    environment is ``environment``."""
    pairs = ["%s=%s" % item for item in (environment or {}).items()]
    proc = run_jvm([groovy, str(ROOT / "jenkins-shared-library" / "test" / "describeJenkinsfile.groovy"),
                    str(JENKINSFILE), *pairs])
    assert proc.returncode == 0, output(proc)
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("JENKINSFILE ")]
    return json.loads(line[len("JENKINSFILE "):])


@pytest.fixture(scope="module")
def jenkinsfile(groovy):
    return _describe(groovy)


@pytest.fixture(scope="module")
def jenkinsfile_with_files(groovy):
    return _describe(groovy, JOB_FILES)


def _calls(node, name):
    """Every call named ``name`` anywhere under ``node``, in order."""
    found = [node] if node.get("step") == name else []
    for child in node.get("body", []):
        found += _calls(child, name)
    for arg in node.get("args", []):
        for value in arg if isinstance(arg, list) else [arg]:
            if isinstance(value, dict) and "step" in value:
                found += _calls(value, name)
    return found


def _section(pipeline, name):
    [section] = [child for child in pipeline["body"] if child["step"] == name]
    return section


def test_jenkinsfile_compiles_with_groovyc_2_4(groovy, tmp_path):
    proc = run_jvm([executable("groovyc"), "-d", str(tmp_path), str(JENKINSFILE)])

    assert proc.returncode == 0, output(proc)
    assert (tmp_path / "Jenkinsfile.class").is_file()


def test_jenkinsfile_is_the_nightly_poller_job(jenkinsfile):
    assert _section(jenkinsfile, "agent")["body"] == [{"step": "label", "args": ["linux"]}]
    assert _section(jenkinsfile, "triggers")["body"] == [{"step": "cron", "args": ["H 2 * * *"]}]
    options = {call["step"]: call["args"] for call in _section(jenkinsfile, "options")["body"]}
    assert options["timeout"] == [{"time": 30, "unit": "MINUTES"}]
    assert options["disableConcurrentBuilds"] == []
    [rotator] = options["buildDiscarder"]
    assert rotator["step"] == "logRotator" and rotator["args"][0]["numToKeepStr"].isdigit()

    [stage] = _section(jenkinsfile, "stages")["body"]
    assert (stage["step"], stage["args"]) == ("stage", ["Poll"])
    [credentials] = _calls(stage, "withCredentials")
    assert credentials["args"] == [[
        {"step": "string", "args": [{"credentialsId": "change-tracker-token", "variable": "CHANGETRACKER_TOKEN"}]},
        {"step": "usernamePassword", "args": [{"credentialsId": "change-tracker-jenkins-api",
                                               "usernameVariable": "CHANGETRACKER_JENKINS_USER",
                                               "passwordVariable": "CHANGETRACKER_JENKINS_TOKEN"}]},
    ]]
    assert [call["args"] for call in _calls(jenkinsfile, "sh")] == [["ci/nightly-poll.sh"]]
    assert _calls(credentials, "sh"), "the script runs inside withCredentials"
    assert not _calls(jenkinsfile, "configFileProvider"), "no pollers file unless the job names one"

    post = _section(jenkinsfile, "post")
    assert [call["step"] for call in post["body"]] == ["always"]
    assert _calls(post, "archiveArtifacts")[0]["args"] == [{"artifacts": "poll-summary.json",
                                                             "allowEmptyArchive": True}]


def test_a_job_that_names_a_pollers_file_and_secrets_gets_them_bound(jenkinsfile_with_files):
    """docs/jenkins.md: set CHANGETRACKER_POLLERS_FILE_ID and CHANGETRACKER_POLLER_SECRETS_ID on the job (or
    globally); the Jenkinsfile itself is never edited."""
    [credentials] = _calls(jenkinsfile_with_files, "withCredentials")
    assert credentials["args"][0][2] == {"step": "file", "args": [{
        "credentialsId": "change-tracker-poller-secrets", "variable": "CHANGETRACKER_POLLER_SECRETS"}]}
    [provider] = _calls(credentials, "configFileProvider")
    assert provider["args"] == [[{"step": "configFile", "args": [{
        "fileId": "change-tracker-pollers", "variable": "CHANGETRACKER_POLLERS_FILE"}]}]]
    assert [call["args"] for call in _calls(provider, "sh")] == [["ci/nightly-poll.sh"]]


def test_jenkinsfile_never_puts_a_secret_into_a_groovy_string():
    text = JENKINSFILE.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    assert not re.search(r'"[^"\n]*\$', code), "no GStrings at all: secrets and paths go through the environment"
    assert re.findall(r"^\s*sh\b\s*\(?\s*(['\"])", code, re.M) == ["'"], "the sh command is a single-quoted literal"


def test_nightly_script_is_executable_and_refuses_to_run_without_the_tracker(tmp_path):
    assert os.access(SCRIPT, os.X_OK), "Jenkins runs it as ci/nightly-poll.sh"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CHANGETRACKER_", "CHANGE_TRACKER"))}

    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 0
    assert "set CHANGETRACKER_URL to the tracker" in proc.stderr

    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, env=dict(
        env, CHANGETRACKER_URL="http://127.0.0.1:9", CHANGETRACKER_TOKEN="ct_x", PYTHON="python3.10"))
    assert proc.returncode == 2
    assert "nightly-poll: Change Tracker needs Python 3.11 or newer; python3.10: " in proc.stderr
    assert "Set PYTHON in the job's environment, e.g. PYTHON=python3.12" in proc.stderr

    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, env=dict(
        env, CHANGETRACKER_URL="http://127.0.0.1:9", CHANGETRACKER_TOKEN="ct_x",
        CHANGETRACKER_POLLERS_FILE="nope.toml"))
    assert proc.returncode == 2
    assert "nightly-poll: pollers file nope.toml does not exist (CHANGETRACKER_POLLERS_FILE)" in proc.stderr

    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env=dict(env, CHANGETRACKER_URL="http://127.0.0.1:9"))
    assert proc.returncode == 2
    assert "no tracker token: bind the 'change-tracker-token' credential to CHANGETRACKER_TOKEN" in proc.stderr


@pytest.fixture(scope="module")
def fake_jenkins():
    """FakeJenkins (tests/fakes/jenkins.py): answers python-jenkins as a Jenkins controller does."""
    from tests.fakes.jenkins import FakeJenkins

    return FakeJenkins


@pytest.fixture(scope="module")
def workspace(fake_jenkins, tmp_path_factory):
    """The job's workspace: the repository as a checkout has it (tracked and new files, not ignored ones)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode("utf-8").split("\0")
    target = tmp_path_factory.mktemp("workspace")
    for name in filter(None, listing):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture
def night(jenkinsfile, workspace, live_server, auth, tmp_path):
    """Runs the Jenkinsfile's sh command as one build: (process, summary or None). ``files`` (a job that names
    them, as described by ``jenkinsfile_with_files``): the Config File Provider file and Secret file contents by ID."""
    tracker_token = auth.token(role="editor", scope="record", username="nightly")
    secrets = {"change-tracker-token": tracker_token,
               "change-tracker-jenkins-api": (JENKINS_USER, JENKINS_TOKEN)}

    def run(jenkins, jenkins_token=JENKINS_TOKEN, described=jenkinsfile, files=None, hidden=()):
        [command] = _calls(described, "sh")[0]["args"]
        [binding] = _calls(described, "withCredentials")
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CHANGETRACKER_", "CHANGE_TRACKER", "VIRTUAL_ENV"))}
        # What Jenkins sets, then what withCredentials and configFileProvider bind (files in a temporary folder).
        env.update(JENKINS_URL=jenkins.url, WORKSPACE=str(workspace), BUILD_NUMBER="7",
                   CHANGETRACKER_URL=live_server.url)
        if files:
            env.update(JOB_FILES)

        def provided(file_id):
            path = tmp_path / ("provided-" + file_id)
            path.write_text(files[file_id], encoding="utf-8")
            return str(path)

        for credential in binding["args"][0]:
            spec = credential["args"][0]
            if credential["step"] == "string":
                env[spec["variable"]] = secrets[spec["credentialsId"]]
            elif credential["step"] == "file":
                env[spec["variable"]] = provided(spec["credentialsId"])
            else:
                user, _ = secrets[spec["credentialsId"]]
                env[spec["usernameVariable"]] = user
                env[spec["passwordVariable"]] = jenkins_token
        for provider in _calls(described, "configFileProvider"):
            for config_file in provider["args"][0]:
                spec = config_file["args"][0]
                env[spec["variable"]] = provided(spec["fileId"])
        proc = subprocess.run(["sh", "-xe", "-c", command], cwd=workspace, env=env, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT)
        for secret in (tracker_token, JENKINS_TOKEN, jenkins_token, *hidden):
            assert secret not in proc.stdout and secret not in proc.stderr, "a secret reached the build log"
        summary_file = workspace / "poll-summary.json"
        summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else None
        return proc, summary

    return run


def test_nightly_job_pushes_what_it_saw_and_the_tracker_records_what_changed(night, fake_jenkins, app):
    with fake_jenkins.from_fixtures(user=JENKINS_USER, token=JENKINS_TOKEN) as jenkins:
        proc, summary = night(jenkins)
        assert proc.returncode == 0, output(proc)
        assert (summary["mode"], summary["status"]) == ("push", "ok")
        statuses = {report["poller"]: report["status"] for report in summary["pollers"]}
        assert statuses["jenkins"] == "ok"
        [report] = [report for report in summary["pollers"] if report["poller"] == "jenkins"]
        assert report["seen"] == {"controllers": 1, "agents": 9} and report["errors"] == []
        with connected(app):
            first_night = Snapshot.select().count()
            assert first_night == report["observed"] > 0
            assert Event.select().count() == 0, "the first night is a baseline"

        jenkins.configs["arm-greg"] = jenkins.configs["arm-greg"].replace("<numExecutors>5</numExecutors>",
                                                                          "<numExecutors>8</numExecutors>")
        proc, summary = night(jenkins)

    assert proc.returncode == 0, output(proc)
    [report] = [report for report in summary["pollers"] if report["poller"] == "jenkins"]
    assert report["events"] == 1
    with connected(app):
        [event] = Event.select()
        assert event.title == "arm-greg: executors 5 → 8"
        assert event.created_by.startswith("nightly")


def test_nightly_job_fails_with_the_pollers_error_in_the_log(night, fake_jenkins):
    with fake_jenkins.from_fixtures(user=JENKINS_USER, token=JENKINS_TOKEN) as jenkins:
        proc, summary = night(jenkins, jenkins_token="not-the-api-token")

    assert proc.returncode == 1, output(proc)
    assert re.search(r"^error: jenkins: .*401", proc.stderr, re.M), output(proc)
    assert "nightly-poll: 'changetracker poll all' failed (exit 1): the poller's error is above" in proc.stderr
    assert summary["status"] != "ok", "the archived summary says so too"
    [report] = [report for report in summary["pollers"] if report["poller"] == "jenkins"]
    assert report["status"] == "failed" and report["errors"]


def test_nightly_job_takes_its_pollers_file_and_secrets_from_jenkins(night, jenkinsfile_with_files, fake_jenkins,
                                                                     app):
    """A second controller, named in a Config File Provider pollers file, whose API token comes from the Secret file
    of NAME=value lines: the job sees both controllers, and neither secret reaches the log."""
    second_token = "7a1e $(touch pwned) \"quoted\" ;|&"  # exported as it is, never evaluated
    pollers = ('[[jenkins]]\nname = "ci-second"\nurl = "{url}"\nuser = "poller"\ntoken_env = "CI_SECOND_TOKEN"\n')
    with fake_jenkins.from_fixtures(user=JENKINS_USER, token=JENKINS_TOKEN) as jenkins, \
            fake_jenkins.from_fixtures(user="poller", token=second_token) as second:
        proc, summary = night(jenkins, described=jenkinsfile_with_files, hidden=(second_token,), files={
            "change-tracker-pollers": pollers.format(url=second.url),
            "change-tracker-poller-secrets": "# for the pollers file\nCI_SECOND_TOKEN=%s\r\n" % second_token})

    assert proc.returncode == 0, output(proc)
    assert "nightly-poll: poller secrets: CI_SECOND_TOKEN" in proc.stdout
    assert summary["pollers_file"].endswith("provided-change-tracker-pollers")
    [report] = [report for report in summary["pollers"] if report["poller"] == "jenkins"]
    assert report["seen"] == {"controllers": 2, "agents": 18} and report["errors"] == [], report["errors"]
    assert not (ROOT / "pwned").exists()
    with connected(app):
        keys = {s.key.split("/")[0] for s in Snapshot.select().where(Snapshot.collector == "jenkins_nodes")}
    assert len(keys) == 2 and "ci-second" in keys


@pytest.mark.parametrize("secrets, message", [
    ("CI_SECOND_TOKEN\n", "poller secrets line 1 is not NAME=value"),
    ("\nexport X=1\n", "poller secrets line 2 is not NAME=value"),
    ("PATH=/tmp/evil\n", "poller secrets line 1 sets PATH, which the job sets itself"),
    ("CHANGETRACKER_URL=https://elsewhere.example.com\n", "sets CHANGETRACKER_URL, which the job sets itself"),
])
def test_a_bad_poller_secrets_file_stops_the_job_before_anything_runs(night, jenkinsfile_with_files, fake_jenkins,
                                                                      secrets, message):
    with fake_jenkins.from_fixtures(user=JENKINS_USER, token=JENKINS_TOKEN) as jenkins:
        proc, summary = night(jenkins, described=jenkinsfile_with_files, files={
            "change-tracker-pollers": "", "change-tracker-poller-secrets": secrets})

    assert proc.returncode == 2 and summary is None
    assert "nightly-poll: " + message in proc.stderr or message in proc.stderr, output(proc)
    assert "/tmp/evil" not in proc.stderr
