import json

import pytest

from tests.jenkins.jvm import LIBRARY, executable, output
from tests.jenkins.jvm import run as run_jvm

# A build inside node { } on linux-agent-07, as the scripted tests run their steps.
BUILD_ENV = {
    "JOB_NAME": "platform/agent-images/main",
    "BUILD_NUMBER": "128",
    "BUILD_URL": "https://jenkins.example.test/job/platform/job/agent-images/job/main/128/",
    "NODE_NAME": "linux-agent-07",
    "NODE_LABELS": "linux docker jdk17",
}


@pytest.fixture(scope="session")
def groovy():
    """The groovy launcher, checked to be 2.4: what compiles here compiles in Jenkins' CPS Groovy."""
    path = executable("groovy")
    proc = run_jvm([path, "--version"])
    assert proc.returncode == 0, output(proc)
    assert "Groovy Version: 2.4." in proc.stdout, "expected Groovy 2.4, got: %s" % proc.stdout.strip()
    return path


@pytest.fixture
def run_pipeline(groovy, live_server, tmp_path):
    """Runs a Jenkinsfile (Scripted or Declarative) through the harness against the live server, as one build.

    Returns (process, result) where result is the harness's PIPELINE-RESULT summary. ``env`` goes over BUILD_ENV
    (a None value removes the variable); the workspace is tmp_path/"workspace" (WORKSPACE, and where node { } and a
    Declarative agent run sh). Other keyword arguments go into the harness's context as they are, e.g.
    agent={"name": .., "labels": ..} or previousSuccessfulBuild={"number": .., "startTimeInMillis": ..}.
    """
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    def run(script, credentials, env=None, **context_extra):
        build_env = {**BUILD_ENV, "WORKSPACE": str(workspace), "CHANGETRACKER_URL": live_server.url, **(env or {})}
        context = tmp_path / "context.json"
        context.write_text(json.dumps({
            "env": {key: value for key, value in build_env.items() if value is not None},
            "credentials": credentials,
            "workspace": str(workspace),
            **context_extra,
        }), encoding="utf-8")
        context.chmod(0o600)
        jenkinsfile = tmp_path / "Jenkinsfile.groovy"
        jenkinsfile.write_text(script, encoding="utf-8")
        proc = run_jvm([groovy, str(LIBRARY / "test" / "runPipeline.groovy"), str(context), str(jenkinsfile)])
        lines = [line for line in proc.stdout.splitlines() if line.startswith("PIPELINE-RESULT ")]
        assert lines, "the harness printed no PIPELINE-RESULT line\n" + output(proc)
        for secret in credentials.values():
            assert secret not in proc.stdout and secret not in proc.stderr, "a token reached the console"
        return proc, json.loads(lines[-1][len("PIPELINE-RESULT "):])

    run.workspace = workspace
    return run


def echoed(proc):
    """The build log: what the pipeline echoed (and sh printed), without the harness's summary line."""
    return [line for line in proc.stdout.splitlines() if not line.startswith("PIPELINE-RESULT ")]
