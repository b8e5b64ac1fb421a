"""CodeNarc over the shared library and the Jenkinsfile, through npm-groovy-lint 15 (v18 needs a newer Node.js).

The rules are jenkins-shared-library/.groovylintrc.json: npm-groovy-lint's Jenkins profile, with each rule that is
off justified there. Any warning fails. The linter is installed by `make test` (and `.ci/run`) into
ci/groovy-lint/ from its package-lock.json; a missing linter fails these tests rather than skipping them.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "jenkins-shared-library"
CONFIG = LIBRARY / ".groovylintrc.json"
LINTER = ROOT / "ci" / "groovy-lint" / "node_modules" / ".bin" / "npm-groovy-lint"
DEBIAN_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
TIMEOUT = 600  # seconds; CodeNarc over the library takes about 30 on two cores


def _env():
    env = dict(os.environ)
    if not env.get("JAVA_HOME") and os.path.isdir(DEBIAN_JAVA_HOME):
        env["JAVA_HOME"] = DEBIAN_JAVA_HOME
    return env


@pytest.fixture(scope="module")
def lint():
    """Runs the linter with the library's rules; returns (process, report) where report is its JSON output."""
    if not os.access(LINTER, os.X_OK):
        pytest.fail("npm-groovy-lint is not installed: run `make groovy-lint` "
                    "(npm ci --prefix ci/groovy-lint; needs Node.js 20 and npm)")
    # From its package.json: `npm-groovy-lint --version` would start a CodeNarc server and leave it running.
    package = json.loads((LINTER.parents[1] / "npm-groovy-lint" / "package.json").read_text(encoding="utf-8"))
    assert package["version"].startswith("15."), "npm-groovy-lint 15 runs on Node.js 20, got %s" % package["version"]

    def run(*targets, source=None):
        # --noserver: no CodeNarc server left running after the test; --loglevel warning: infos are not reported.
        command = [str(LINTER), "--config", str(CONFIG), "--noserver", "--output", "json",
                   "--failon", "warning", "--loglevel", "warning"]
        command += ["--source", source] if source is not None else list(targets)
        proc = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=_env(),
                              cwd=ROOT, timeout=TIMEOUT)
        start = proc.stdout.find("{")
        assert start >= 0, "no JSON report\nexit %s\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr)
        return proc, json.loads(proc.stdout[start:])

    return run


def _findings(report):
    return ["%s:%s %s %s: %s" % (Path(name).relative_to(ROOT) if os.path.isabs(name) else name,
                                 error.get("line", "?"), error["severity"], error["rule"], error["msg"])
            for name, result in sorted(report["files"].items()) for error in result.get("errors", [])]


def test_library_and_jenkinsfile_have_no_codenarc_warnings(lint):
    proc, report = lint("jenkins-shared-library", "Jenkinsfile")

    findings = _findings(report)
    assert not findings, "CodeNarc findings:\n" + "\n".join(findings)
    assert proc.returncode == 0, proc.stderr
    expected = len(list(LIBRARY.rglob("*.groovy"))) + 1
    assert report["summary"]["totalFilesLinted"] == expected, "every .groovy file and the Jenkinsfile are linted"


def test_the_rules_catch_what_they_should(lint):
    """The configuration really reports warnings: a run that could not fail would prove nothing."""
    canary = "\n".join([
        "class Canary implements Serializable {",
        "    private static final long serialVersionUID = 1L",
        "    String read(Object value) {",
        "        try {",
        "            return value instanceof String ? value : 'x' * 150 + '%s'" % ("." * 60),
        "        } catch (Exception e) {",
        "            return null",
        "        }",
        "    }",
        "}",
        "",
    ])

    proc, report = lint(source=canary)

    rules = {error["rule"] for result in report["files"].values() for error in result.get("errors", [])}
    assert {"CatchException", "LineLength", "ReturnNullFromCatchBlock"} <= rules, rules
    assert "Instanceof" not in rules, "off in .groovylintrc.json: steps check what loosely typed callers pass"
    assert proc.returncode != 0, "warnings fail the run"
